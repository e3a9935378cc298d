"""Starts and stops the real aiwarden binary for integration tests, plus client helpers.

Environment (set by tests/CMakeLists.txt): AIWARDEN_BIN (the binary), AIWARDEN_SRC (repo root).
Run by hand from tests/integration: `AIWARDEN_BIN=../../build/aiwarden python3 -m unittest -v`.
"""

import contextlib
import copy
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("AIWARDEN_SRC") or os.path.normpath(os.path.join(HERE, "..", ".."))
# Slower builds (the sanitized one, `make test SANITIZE=1`) set AIW_TEST_TIMEOUT_SCALE > 1.
TIMEOUT_SCALE = max(1.0, float(os.environ.get("AIW_TEST_TIMEOUT_SCALE") or 1))
READY_TIMEOUT_S = 10.0 * TIMEOUT_SCALE
# The sanitized build (tests/CMakeLists.txt sets AIW_SANITIZED=1): ASan's shadow memory and
# quarantine of freed blocks make the proxy's RSS meaningless, so RSS bounds are skipped, with
# that reason, by skip_rss_bound_if_sanitized().
SANITIZED = os.environ.get("AIW_SANITIZED") == "1"


def skip_rss_bound_if_sanitized(test: unittest.TestCase):
    if SANITIZED:
        test.skipTest("RSS bound not meaningful under ASan (shadow memory, quarantine)")


# What ASan, LSan and UBSan print: a proxy log holding one fails the test (Proxy.cleanup).
SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|:\d+: runtime error:|"
                              r"SUMMARY: UndefinedBehaviorSanitizer")
TOKEN = "test-token"


def binary() -> str:
    path = os.environ.get("AIWARDEN_BIN") or os.path.join(SRC, "build", "aiwarden")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise RuntimeError("aiwarden binary not found at %r (set AIWARDEN_BIN)" % path)
    return path


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (bind port 0, read it, close)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def clean_env(**extra) -> dict:
    """The environment for child processes: no proxy variables, no PROXY_TOKEN unless given."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
                                "proxy_token")}
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


# ---------------------------------------------------------------------------------------------
# YAML (block style) for harness-made configurations. Strings are double-quoted (JSON escapes
# are valid YAML); keys are plain when they are simple words.
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _scalar(v) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))


def _key(k) -> str:
    return k if _PLAIN_KEY.match(str(k)) else json.dumps(str(k))


def to_yaml(obj, indent: int = 0) -> str:
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                lines.append("%s%s:" % (pad, _key(k)))
                lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, list) and v:
                lines.append("%s%s:" % (pad, _key(k)))
                lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, (dict, list)):
                lines.append("%s%s: %s" % (pad, _key(k), "{}" if isinstance(v, dict) else "[]"))
            else:
                lines.append("%s%s: %s" % (pad, _key(k), _scalar(v)))
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict) and item:
                body = to_yaml(item, indent + 2).split("\n")
                body[0] = pad + "- " + body[0][indent + 2:]
                lines.append("\n".join(body))
            else:
                lines.append("%s- %s" % (pad, _scalar(item)))
    else:
        lines.append(pad + _scalar(obj))
    return "\n".join(lines)


def base_config(proxy_port: int, admin_port: int, state_dir, token=TOKEN, **top) -> dict:
    """The configuration of the brief (a forward listener, admin, empty filter chain).
    state_dir None or token None leave that key out."""
    admin = {"address": "127.0.0.1:%d" % admin_port}
    if token is not None:
        admin["token"] = token
    cfg = {
        "workers": 2,
        "state_dir": state_dir,
        "drain_timeout_ms": 5000,
        "admin": admin,
        "listeners": [{"name": "system", "type": "forward",
                       "address": "127.0.0.1:%d" % proxy_port}],
        "upstream": {"connect_timeout_ms": 2000},
        "limits": {"header_timeout_ms": 2000, "max_header_bytes": 65536},
        "filters": [],
    }
    if state_dir is None:
        del cfg["state_dir"]
    cfg.update(top)
    return cfg


# ---------------------------------------------------------------------------------------------
@dataclass
class Response:
    status: int
    headers: list  # [(name, value)] in order
    body: bytes

    def header(self, name: str, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_values(self, name: str):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def http_request(port: int, method: str, path: str, headers=None, body: bytes = b"",
                 timeout: float = 10.0) -> Response:
    """One request on a fresh connection to 127.0.0.1:port (no proxy), read to completion."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, list(r.getheaders()), data)
    finally:
        conn.close()


class Proxy:
    """One aiwarden process with its own temp dir, config file, state dir and stderr log."""

    def __init__(self, config=None, *, config_text=None, env=None, args=(), workdir=None,
                 proxy_port=None, admin_port=None, token=TOKEN):
        self.workdir = workdir or tempfile.mkdtemp(prefix="aiw-it-")
        self._own_workdir = workdir is None
        self.proxy_port = proxy_port or free_port()
        self.admin_port = admin_port or free_port()
        self.state_dir = os.path.join(self.workdir, "state")
        os.makedirs(self.state_dir, exist_ok=True)
        self.config_path = os.path.join(self.workdir, "aiwarden.yaml")
        self.stderr_path = os.path.join(self.workdir, "stderr.log")
        self.stdout_path = os.path.join(self.workdir, "stdout.log")
        self.token = token
        self.env = env
        self.args = list(args)
        self.proc = None
        self.returncode = None
        if config_text is not None:
            self.write_config_text(config_text)
        else:
            if config is None:
                config = self.default_config()
            self.write_config(config)

    def default_config(self, **top) -> dict:
        """base_config for this proxy's ports, state dir and token (override with keywords)."""
        top.setdefault("token", self.token)
        top.setdefault("state_dir", self.state_dir)
        return base_config(self.proxy_port, self.admin_port, **top)

    # -- configuration ------------------------------------------------------------------------
    def write_config(self, config: dict):
        self.config = copy.deepcopy(config)
        self.write_config_text(to_yaml(config) + "\n")

    def write_config_text(self, text: str):
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)  # never a half-written file for a reload to read

    # -- process ------------------------------------------------------------------------------
    def start(self, wait: bool = True):
        cmd = [binary(), "run", "-c", self.config_path] + self.args
        self._stderr = open(self.stderr_path, "ab")
        self._stdout = open(self.stdout_path, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._stdout,
                                     stderr=self._stderr, env=clean_env(**(self.env or {})),
                                     cwd=self.workdir)
        if wait:
            self.wait_ready()
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float = READY_TIMEOUT_S):
        """Polls GET /ready until 200 (bounded); fails with the log if the process dies."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("aiwarden exited with %s before it was ready\n%s"
                                     % (self.proc.returncode, self.log_tail()))
            try:
                r = http_request(self.admin_port, "GET", "/ready", timeout=1.0)
                if r.status == 200:
                    return
                last = "status %d" % r.status
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)  # poll interval
        raise AssertionError("aiwarden not ready after %.0fs (last: %s)\n%s"
                             % (timeout, last, self.log_tail()))

    def send_signal(self, sig):
        os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout: float):
        """Returns the exit code, or None if still running after `timeout` seconds."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 15.0):
        """SIGTERM by PID, then SIGKILL after `timeout`; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.terminate()
                self.returncode = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.returncode = self.proc.wait(timeout=10)
        else:
            self.returncode = self.proc.returncode
        for f in (self._stderr, self._stdout):
            f.close()
        return self.returncode

    def cleanup(self):
        self.stop()
        log = self.log()
        match = SANITIZER_REPORT.search(log)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if match:
            raise AssertionError("sanitizer report in the aiwarden log (exit %s):\n%s"
                                 % (self.returncode, log[max(0, match.start() - 2000):][:20000]))

    def log(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 80) -> str:
        text = self.log().splitlines()[-lines:]
        return "---- aiwarden stderr (%s) ----\n%s\n---- end ----" % (
            self.stderr_path, "\n".join(text))

    def wait_log(self, pattern: str, timeout: float = 5.0) -> bool:
        """Polls the stderr log for a regex (bounded)."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            if rx.search(self.log()):
                return True
            time.sleep(0.05)
        return False

    # -- admin --------------------------------------------------------------------------------
    def admin(self, method: str, path: str, token=True, timeout: float = 10.0,
              body: bytes = b"") -> Response:
        """Admin request; token=True sends self.token, None sends none, a str sends that."""
        headers = {}
        if token is True:
            token = self.token
        if token is not None:
            headers["X-Proxy-Token"] = token
        return http_request(self.admin_port, method, path, headers=headers, body=body,
                            timeout=timeout)

    def metrics(self) -> dict:
        r = self.admin("GET", "/proxy/v1/metrics")
        if r.status != 200:
            raise AssertionError("metrics: HTTP %d %r" % (r.status, r.body[:200]))
        return r.json()

    @property
    def proxy_url(self) -> str:
        return "http://127.0.0.1:%d" % self.proxy_port


# ---------------------------------------------------------------------------------------------
# curl
@dataclass
class CurlResult:
    rc: int
    status: int
    headers: list
    body: bytes
    stderr: str
    stdout_extra: str = ""

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def describe(self) -> str:
        return "curl rc=%d status=%d headers=%r stderr=%s body[:300]=%r" % (
            self.rc, self.status, self.headers, self.stderr.strip()[-600:], self.body[:300])


def _parse_header_blocks(raw: bytes):
    """Splits curl -D output into header blocks; returns the last one as (status, [(k, v)])."""
    text = raw.decode("iso-8859-1")
    blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip().startswith("HTTP/")]
    if not blocks:
        return 0, []
    lines = blocks[-1].strip().splitlines()
    m = re.match(r"HTTP/\S+\s+(\d{3})", lines[0])
    status = int(m.group(1)) if m else 0
    headers = []
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    return status, headers


def curl(args, timeout: float = 60.0, proxy_port=None) -> CurlResult:
    """Runs curl (no .curlrc, no proxy variables) and returns the last response's status,
    headers and body. `proxy_port` adds --proxy http://127.0.0.1:PORT."""
    tmp = tempfile.mkdtemp(prefix="aiw-curl-")
    try:
        hdr = os.path.join(tmp, "headers")
        cmd = ["curl", "-q", "-sS", "--max-time", str(int(timeout)), "-D", hdr]
        if proxy_port is not None:
            cmd += ["--proxy", "http://127.0.0.1:%d" % proxy_port]
        cmd += list(args)
        p = subprocess.run(cmd, capture_output=True, env=clean_env(), timeout=timeout + 15)
        raw = b""
        if os.path.exists(hdr):
            with open(hdr, "rb") as f:
                raw = f.read()
        status, headers = _parse_header_blocks(raw)
        return CurlResult(p.returncode, status, headers, p.stdout,
                          p.stderr.decode(errors="replace"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def curl_stream_sha256(args, timeout: float = 120.0, proxy_port=None):
    """Runs curl writing the body to stdout and hashes it as it streams (nothing held whole).
    Returns (rc, byte count, sha256 hex, stderr)."""
    cmd = ["curl", "-q", "-sS", "--max-time", str(int(timeout))]
    if proxy_port is not None:
        cmd += ["--proxy", "http://127.0.0.1:%d" % proxy_port]
    cmd += list(args)
    errf = tempfile.TemporaryFile()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, env=clean_env())
    h = hashlib.sha256()
    count = 0
    try:
        while True:
            chunk = p.stdout.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            count += len(chunk)
        rc = p.wait(timeout=timeout + 15)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
    errf.seek(0)
    err = errf.read().decode(errors="replace")
    errf.close()
    return rc, count, h.hexdigest(), err


# ---------------------------------------------------------------------------------------------
# raw sockets
def connect(port: int, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_until_close(sock: socket.socket, timeout: float = 10.0, limit: int = 1 << 24) -> bytes:
    """Reads until EOF, a reset, `limit` bytes or `timeout` seconds; returns what came."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    while len(out) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            break
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError):
            break
        if not data:
            break
        out += data
    return bytes(out)


def read_until_close(sock: socket.socket, timeout: float, limit: int = 1 << 20):
    """Reads until the peer closes (EOF or reset) or `timeout` passes.
    Returns (data, closed)."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    while len(out) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(out), False
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return bytes(out), False
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            return bytes(out), True
        if not data:
            return bytes(out), True
        out += data
    return bytes(out), False


def is_closed(sock: socket.socket, timeout: float) -> bool:
    """True if the peer closes (EOF or reset) within `timeout`, discarding any data it sends."""
    return read_until_close(sock, timeout)[1]


class RawResponseReader:
    """Reads HTTP/1.1 responses off one socket (keep-alive aware)."""

    def __init__(self, sock: socket.socket, timeout: float = 10.0):
        self.sock = sock
        self.buf = bytearray()
        self.timeout = timeout

    def _fill(self, deadline) -> bool:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete response within %.1fs" % self.timeout)
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            raise TimeoutError("no complete response within %.1fs" % self.timeout)
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def read(self, head_only: bool = False, method: str = "GET") -> Response:
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                raise ConnectionError("connection closed before a response head (got %r)"
                                      % bytes(self.buf[:200]))
        end = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:end]).decode("iso-8859-1")
        del self.buf[:end + 4]
        lines = head.split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        if not m:
            raise ValueError("bad status line %r" % lines[0])
        status = int(m.group(1))
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        resp = Response(status, headers, b"")
        if head_only or method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return resp
        if method == "CONNECT" and 200 <= status < 300:
            return resp
        te = resp.header("Transfer-Encoding")
        cl = resp.header("Content-Length")
        if te and "chunked" in te.lower():
            body = bytearray()
            while True:
                while b"\r\n" not in self.buf:
                    if not self._fill(deadline):
                        raise ConnectionError("EOF in chunked response")
                i = self.buf.index(b"\r\n")
                size = int(bytes(self.buf[:i]).split(b";")[0], 16)
                del self.buf[:i + 2]
                if size == 0:
                    while b"\r\n" not in self.buf:
                        if not self._fill(deadline):
                            break
                    # trailers until the empty line
                    while not self.buf.startswith(b"\r\n"):
                        if b"\r\n" in self.buf:
                            j = self.buf.index(b"\r\n")
                            del self.buf[:j + 2]
                        elif not self._fill(deadline):
                            break
                    del self.buf[:2]
                    break
                while len(self.buf) < size + 2:
                    if not self._fill(deadline):
                        raise ConnectionError("EOF in chunk")
                body += self.buf[:size]
                del self.buf[:size + 2]
            resp.body = bytes(body)
        elif cl is not None:
            n = int(cl)
            while len(self.buf) < n:
                if not self._fill(deadline):
                    raise ConnectionError("EOF in body (%d of %d)" % (len(self.buf), n))
            resp.body = bytes(self.buf[:n])
            del self.buf[:n]
        else:  # until close
            while self._fill(deadline):
                pass
            resp.body = bytes(self.buf)
            self.buf.clear()
        return resp


def raw_exchange(port: int, data: bytes, timeout: float = 10.0):
    """Sends `data` on a new connection and reads one response. Returns (response or None,
    closed_after: bool, raw bytes seen). The response is None when the proxy closed without
    one."""
    s = connect(port, timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reader = RawResponseReader(s, timeout)
        try:
            resp = reader.read()
        except (ConnectionError, TimeoutError, ValueError):
            return None, True, bytes(reader.buf)
        closed = is_closed(s, timeout=5.0)
        return resp, closed, b""
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------
def find_key(obj, key):
    """Depth-first search for `key` in nested dicts/lists; returns its first value or None."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            r = find_key(v, key)
            if r is not None:
                return r
    elif isinstance(obj, list):
        for v in obj:
            r = find_key(v, key)
            if r is not None:
                return r
    return None


def poll(fn, timeout: float = 5.0, interval: float = 0.05):
    """Calls fn() until it returns a truthy value or `timeout` passes; returns the last value."""
    deadline = time.monotonic() + timeout
    value = fn()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = fn()
    return value


class ProxyTestCase(unittest.TestCase):
    """Base class: proxies started with start_proxy() (per test) or in setUpClass via
    start_class_proxy() are stopped by PID at teardown; their stderr is printed if the test
    failed."""

    _class_proxies = ()

    @classmethod
    def start_class_proxy(cls, proxy: Proxy) -> Proxy:
        if not cls._class_proxies:
            cls._class_proxies = []
        cls._class_proxies.append(proxy)
        cls.addClassCleanup(proxy.cleanup)
        proxy.start()
        return proxy

    def start_proxy(self, proxy: Proxy, wait: bool = True) -> Proxy:
        self._test_proxies = getattr(self, "_test_proxies", [])
        self._test_proxies.append(proxy)
        self.addCleanup(proxy.cleanup)
        proxy.start(wait=wait)
        return proxy

    def _failed(self) -> bool:
        """Whether this test (or one of its subtests) has failed so far."""
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        if result is None:
            return True  # cannot tell: show the logs
        for test, _ in list(result.failures) + list(result.errors):
            if test is self or getattr(test, "test_case", None) is self:
                return True
        return False

    def tearDown(self):
        if self._failed():
            for p in list(getattr(self, "_test_proxies", [])) + list(self._class_proxies):
                sys.stderr.write("\n%s\n" % p.log_tail())
        super().tearDown()

    def assertProxyAlive(self, proxy: Proxy):
        self.assertTrue(proxy.alive(), "aiwarden died (exit %s)\n%s"
                        % (proxy.proc.poll(), proxy.log_tail()))

    def assertProxyStaysSmall(self, proxy: Proxy, what: str, limit_mib: int = 64,
                              settle_s: float = 2.0):
        """After settle_s (loopback moves 100 MiB in well under that: without back-pressure it
        would all be in the proxy by then), the proxy's RSS is under limit_mib. Not checked
        under ASan, whose shadow memory and quarantine make RSS say nothing."""
        time.sleep(settle_s)
        rss_kib = 0
        with open("/proc/%d/status" % proxy.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss_kib = int(line.split()[1])
        print("  proxy RSS, %s: %.1f MiB" % (what, rss_kib / 1024))
        if SANITIZED:
            print("  RSS bound not checked: sanitized build")
        else:
            self.assertLess(rss_kib, limit_mib * 1024)


@contextlib.contextmanager
def stalled_node_h2_client(node: str, client_js: str, cwd: str, **env):
    """Runs tests/node/h2_client.mjs in MODE=stall (its answer's reading stops after the first
    bytes) and yields the line it prints once stalled; the client ends when the block does."""
    p = subprocess.Popen([node, client_js], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=cwd, env=clean_env(MODE="stall", **env))
    try:
        yield json.loads(p.stdout.readline())
    finally:
        p.stdin.close()
        p.wait(timeout=30)
        p.stdout.close()
        p.stderr.close()
