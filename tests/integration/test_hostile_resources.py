"""Issue 8 (resources): the proxy stays bounded in file descriptors, memory and time against
clients and origins that hold on to resources (SPEC §9: slow senders time out; no input leaks).

* slowloris (slowhttptest, 200 connections): every attacking connection is closed by
  header_timeout_ms + 2 s while a normal client keeps being served;
* 10,000 blind tunnels, 2,000 keep-alive connections, clients resetting mid-request and
  mid-response: the proxy's open descriptors come back to where they started;
* slow headers (408), a stalled request body (408 at limits.body_timeout_ms), a client that
  never reads, plain or intercepted over TLS (bounded memory, cut at limits.send_timeout_ms), an
  idle keep-alive client (closed at upstream.idle_timeout_ms) whose streaming answer is never
  cut;
* origins that stay silent (504 at upstream.request_timeout_ms, counted once the request is
  sent: a slow upload is not blamed on the origin), reset (502), send an endless
  head (502 at max_header_bytes) or an endless body (streamed, bounded memory), or never accept
  (504 at upstream.connect_timeout_ms).

max_connections is test_limits.py's. Everything runs on loopback; every loop is bounded.
"""

import concurrent.futures
import csv
import os
import selectors
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (Proxy, ProxyTestCase, RawResponseReader, TIMEOUT_SCALE, connect, poll,
                     read_until_close)
from origins import BlackholeListener, HttpOrigin, loopback_listener
from pki import shared_pki

HEADER_TIMEOUT_MS = 2000
BODY_TIMEOUT_MS = 1000
SEND_TIMEOUT_MS = 2000
IDLE_TIMEOUT_MS = 2000
REQUEST_TIMEOUT_MS = 2500
CONNECT_TIMEOUT_MS = 1000
MAX_HEADER_BYTES = 16384
SLACK_S = 2.0 * TIMEOUT_SCALE  # "by the timeout + 2 s"


def fd_count(pid: int) -> int:
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid: int) -> int:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def hard_close(sock: socket.socket):
    """Closes with a TCP reset (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class EchoOrigin:
    """A single-threaded (selectors) TCP echo server, fast enough for thousands of tunnels;
    closes its side at the client's EOF."""

    def __init__(self):
        self._listener = loopback_listener(1024)
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self.accepted = 0
        self._stop = False
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop:
            for key, _ in self._sel.select(timeout=0.1):
                if key.data is None:
                    for _ in range(64):  # bounded burst of accepts
                        try:
                            c, _ = self._listener.accept()
                        except (BlockingIOError, OSError):
                            break
                        c.setblocking(False)
                        self.accepted += 1
                        self._sel.register(c, selectors.EVENT_READ, "c")
                    continue
                c = key.fileobj
                try:
                    data = c.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if data:
                    try:
                        c.send(data)  # small echoes: the socket buffer takes them
                    except OSError:
                        pass
                    continue
                self._sel.unregister(c)
                c.close()
        for key in list(self._sel.get_map().values()):
            key.fileobj.close()

    def close(self):
        self._stop = True
        self._thread.join(timeout=5)


class ScriptedOrigin:
    """Accepts connections and runs `behaviour(sock)` for each in a thread of its own.
    accept=False: a listener that never calls accept()."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self._listener = loopback_listener(64)
        self.port = self._listener.getsockname()[1]
        self.stop = threading.Event()
        self._socks = []
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self):
        self._listener.settimeout(0.1)
        while not self.stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._socks.append(sock)
            threading.Thread(target=self._run, args=(sock,), daemon=True).start()

    def _run(self, sock):
        try:
            self.behaviour(self, sock)
        except OSError:
            pass

    def read_head(self, sock, timeout=10.0):
        sock.settimeout(timeout)
        buf = b""
        while b"\r\n\r\n" not in buf and len(buf) < 65536:
            data = sock.recv(65536)
            if not data:
                break
            buf += data
        return buf

    def close(self):
        self.stop.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for s in self._socks:
            try:
                s.close()
            except OSError:
                pass


class HostileResourcesTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy()
        cfg = cls.proxy.default_config(workers=2)
        cfg["upstream"] = {"connect_timeout_ms": CONNECT_TIMEOUT_MS,
                           "idle_timeout_ms": IDLE_TIMEOUT_MS,
                           "request_timeout_ms": REQUEST_TIMEOUT_MS}
        cfg["limits"] = {"header_timeout_ms": HEADER_TIMEOUT_MS,
                         "body_timeout_ms": BODY_TIMEOUT_MS,
                         "send_timeout_ms": SEND_TIMEOUT_MS,
                         "max_header_bytes": MAX_HEADER_BYTES}
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)
        cls.pid = cls.proxy.pid
        time.sleep(0.2)
        cls.fd_baseline = fd_count(cls.pid)

    def setUp(self):
        self.settle_fds("before the test")

    # -- helpers ------------------------------------------------------------------------------
    def settle_fds(self, what, timeout=None):
        """Waits (bounded) until the proxy holds no more descriptors than at start-up: pooled
        upstream connections and idle clients go at idle_timeout_ms."""
        timeout = timeout or (IDLE_TIMEOUT_MS / 1000.0 + 8.0) * TIMEOUT_SCALE
        ok = poll(lambda: fd_count(self.pid) <= self.fd_baseline, timeout=timeout, interval=0.1)
        self.assertTrue(ok, "%s: the proxy holds %d descriptors, %d at start-up\n%s" % (
            what, fd_count(self.pid), self.fd_baseline, sorted(self.fd_targets())))

    def fd_targets(self):
        out = []
        d = "/proc/%d/fd" % self.pid
        for name in os.listdir(d)[:200]:
            try:
                out.append(os.readlink(os.path.join(d, name)))
            except OSError:
                pass
        return out

    def header_timeouts(self) -> int:
        r = self.proxy.admin("GET", "/metrics")
        self.assertEqual(r.status, 200)
        for line in r.body.decode().splitlines():
            if line.startswith("aiwarden_header_timeouts_total "):
                return int(line.split()[1])
        raise AssertionError("no aiwarden_header_timeouts_total in /metrics")

    def proxied_get(self, url, timeout=10.0):
        """One GET through the proxy on a fresh connection: (Response, seconds)."""
        t0 = time.monotonic()
        s = connect(self.proxy.proxy_port, timeout=timeout)
        try:
            host = url.split("/")[2]
            s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                       % (url, host)).encode())
            resp = RawResponseReader(s, timeout=timeout).read()
            return resp, time.monotonic() - t0
        finally:
            s.close()

    def assert_served(self, origin):
        resp, _ = self.proxied_get(origin.url("/bytes?n=1000"))
        self.assertEqual(resp.status, 200)
        self.assertEqual(len(resp.body), 1000)

    # -- (A) slowloris ------------------------------------------------------------------------
    @unittest.skipUnless(shutil.which("slowhttptest"),
                         "slowhttptest is not installed (scripts/install-deps.sh installs it)")
    def test_slowloris_200_connections_are_closed_by_header_timeout_while_others_are_served(self):
        origin = HttpOrigin()
        self.addCleanup(origin.close)
        before = self.header_timeouts()
        out_dir = tempfile.mkdtemp(prefix="aiw-slowloris-")
        self.addCleanup(shutil.rmtree, out_dir, True)
        prefix = os.path.join(out_dir, "slowloris")
        # 200 connections opened at 200/s, each sending one more header line every second (up
        # to 10 bytes) and never ending its head; the test stops at 15 s at the latest (it ends
        # as soon as no connection is left open).
        cmd = ["slowhttptest", "-H", "-c", "200", "-r", "200", "-i", "1", "-x", "10",
               "-l", "15", "-p", "3", "-g", "-o", prefix,
               "-u", origin.url("/bytes?n=100"), "-d", "127.0.0.1:%d" % self.proxy.proxy_port]
        attack = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL)
        t0 = time.monotonic()
        try:
            samples = []   # (seconds since start, proxy descriptors)
            statuses = []  # a normal client's answers during the attack
            deadline = t0 + 25
            next_request = t0 + 0.3
            while attack.poll() is None and time.monotonic() < deadline:
                samples.append((time.monotonic() - t0, fd_count(self.pid)))
                if time.monotonic() >= next_request:
                    resp, _ = self.proxied_get(origin.url("/bytes?n=1000"), timeout=5)
                    statuses.append(resp.status)
                    next_request = time.monotonic() + 0.3
                time.sleep(0.1)
        finally:
            if attack.poll() is None:
                attack.kill()
            attack.wait(timeout=10)
        self.assertIsNotNone(attack.returncode)

        # The attack held many connections at once, and they were all gone by the header
        # deadline (2 s from each connection's first byte) + 2 s, after the 1 s ramp.
        peak = max(n for _, n in samples)
        self.assertGreaterEqual(peak - self.fd_baseline, 150,
                                "the attack never held its connections: peak %d, baseline %d"
                                % (peak, self.fd_baseline))
        bound = 1.0 + HEADER_TIMEOUT_MS / 1000.0 + SLACK_S
        late = [(t, n) for t, n in samples if t > bound and n - self.fd_baseline > 20]
        self.assertEqual(late, [], "attacking connections still open after %.1f s" % bound)
        with open(prefix + ".csv") as f:
            rows = list(csv.DictReader(f))
        self.assertTrue(rows, "slowhttptest wrote no statistics")
        self.assertGreaterEqual(max(int(r["Connected"]) for r in rows), 150, rows[:6])
        still = [r for r in rows if int(r["Seconds"]) > bound and int(r["Connected"]) > 0]
        self.assertEqual(still, [], "slowhttptest saw connections open after %.1f s" % bound)

        # The normal client was answered all along.
        self.assertGreaterEqual(len(statuses), 5)
        self.assertEqual(set(statuses), {200}, statuses)
        after = self.header_timeouts()
        self.assertGreaterEqual(after - before, 195)
        self.settle_fds("after the slowloris")

    def test_a_slow_head_gets_408_at_header_timeout(self):
        s = connect(self.proxy.proxy_port)
        t0 = time.monotonic()
        s.sendall(b"GET http://127.0.0.1:9/ HTTP/1.1\r\nHost: 127.0.0.1:9\r\nX-Slow: a")
        data, closed = read_until_close(s, timeout=HEADER_TIMEOUT_MS / 1000.0 + SLACK_S + 2)
        elapsed = time.monotonic() - t0
        s.close()
        self.assertTrue(closed, "still open after %.1f s" % elapsed)
        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:100])
        self.assertGreaterEqual(elapsed, HEADER_TIMEOUT_MS / 1000.0 - 0.3)
        self.assertLess(elapsed, HEADER_TIMEOUT_MS / 1000.0 + SLACK_S)

    def test_empty_lines_before_the_head_do_not_restart_the_header_deadline(self):
        # RFC 9112 §2.2 lets a server skip empty lines before a request line; a client sending
        # one every 300 ms must still be cut at header_timeout_ms from the connection's start.
        s = connect(self.proxy.proxy_port)
        t0 = time.monotonic()
        closed = False
        bound = HEADER_TIMEOUT_MS / 1000.0 + SLACK_S
        for _ in range(40):  # bounded: 40 x 300 ms
            try:
                s.sendall(b"\r\n")
            except OSError:
                closed = True
                break
            _, closed = read_until_close(s, timeout=0.3)
            if closed or time.monotonic() - t0 > bound + 1:
                break
        elapsed = time.monotonic() - t0
        s.close()
        self.assertTrue(closed, "a client sending empty lines was never cut off")
        self.assertLess(elapsed, bound)

    # -- (B) descriptors come back -----------------------------------------------------------
    def test_10000_tunnels_opened_and_closed_leave_no_descriptor_behind(self):
        origin = EchoOrigin()
        self.addCleanup(origin.close)
        total, concurrency = 10000, 50
        connect_line = ("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                        % (origin.port, origin.port)).encode()

        def one_tunnel(i):
            s = socket.create_connection(("127.0.0.1", self.proxy.proxy_port), timeout=10)
            try:
                s.sendall(connect_line)
                buf = b""
                while b"\r\n\r\n" not in buf:
                    data = s.recv(4096)
                    if not data:
                        return "closed before 200"
                    buf += data
                if not buf.startswith(b"HTTP/1.1 200"):
                    return buf[:60]
                rest = buf[buf.index(b"\r\n\r\n") + 4:]
                msg = b"ping %d\n" % i
                s.sendall(msg)
                while len(rest) < len(msg):
                    data = s.recv(4096)
                    if not data:
                        return "tunnel closed early"
                    rest += data
                return None if rest == msg else rest
            finally:
                s.close()

        def worker(k):
            errors = []
            for i in range(k, total, concurrency):
                r = one_tunnel(i)
                if r is not None:
                    errors.append(r)
            return errors

        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(worker, range(concurrency)))
        elapsed = time.monotonic() - t0
        errors = [e for r in results for e in r]
        self.assertEqual(errors[:5], [], "%d of %d tunnels failed" % (len(errors), total))
        self.assertEqual(origin.accepted, total)
        print("\n  %d tunnels at concurrency %d: %.1f s" % (total, concurrency, elapsed))
        self.settle_fds("after %d tunnels" % total)

    def test_2000_keep_alive_connections_leave_no_descriptor_behind(self):
        origin = HttpOrigin()
        self.addCleanup(origin.close)
        total, concurrency = 2000, 50

        def one_connection(i):
            s = connect(self.proxy.proxy_port)
            try:
                reader = RawResponseReader(s, timeout=10)
                for j in range(3):
                    url = origin.url("/bytes?n=%d&seed=%d" % (200 + j, i))
                    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                               % (url, origin.authority)).encode())
                    resp = reader.read()
                    if resp.status != 200 or len(resp.body) != 200 + j:
                        return (resp.status, len(resp.body))
                return None
            finally:
                s.close()

        def worker(k):
            return [r for r in (one_connection(i) for i in range(k, total, concurrency)) if r]

        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(worker, range(concurrency)))
        errors = [e for r in results for e in r]
        self.assertEqual(errors[:5], [], "%d of %d connections failed" % (len(errors), total))
        self.assertEqual(origin.request_count, 3 * total)
        self.settle_fds("after %d keep-alive connections" % total)

    def test_clients_resetting_mid_request_and_mid_response_leave_no_descriptor_behind(self):
        origin = HttpOrigin()
        self.addCleanup(origin.close)
        total, concurrency = 200, 20

        def mid_request(i):
            s = connect(self.proxy.proxy_port)
            url = origin.url("/echo")
            s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000000\r\n\r\n"
                       % (url, origin.authority)).encode() + b"x" * 20000)
            time.sleep(0.02)  # let the proxy start the exchange
            hard_close(s)

        def mid_response(i):
            s = connect(self.proxy.proxy_port)
            url = origin.url("/bytes?n=4000000&seed=%d" % i)
            s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (url, origin.authority)).encode())
            got = 0
            s.settimeout(10)
            while got < 100000:  # some of the answer, then the reset
                data = s.recv(65536)
                if not data:
                    break
                got += len(data)
            hard_close(s)

        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(mid_request, range(total)))
            list(pool.map(mid_response, range(total)))
        self.assert_served(origin)  # and the proxy still serves
        self.settle_fds("after %d resets mid-request and %d mid-response" % (total, total))

    # -- (C) slow clients ---------------------------------------------------------------------
    def test_a_stalled_request_body_gets_408_at_body_timeout(self):
        origin = HttpOrigin()
        self.addCleanup(origin.close)
        s = connect(self.proxy.proxy_port)
        t0 = time.monotonic()
        s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\n"
                   % (origin.url("/echo"), origin.authority)).encode() + b"y" * 10)
        data, closed = read_until_close(s, timeout=BODY_TIMEOUT_MS / 1000.0 + SLACK_S + 2)
        elapsed = time.monotonic() - t0
        s.close()
        self.assertTrue(closed, "still open after %.1f s" % elapsed)
        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:200])
        self.assertIn(b"body_timeout", data)
        self.assertGreaterEqual(elapsed, BODY_TIMEOUT_MS / 1000.0 - 0.3)
        self.assertLess(elapsed, BODY_TIMEOUT_MS / 1000.0 + SLACK_S)

    def test_a_request_body_trickling_faster_than_body_timeout_is_served(self):
        origin = HttpOrigin()
        self.addCleanup(origin.close)
        s = connect(self.proxy.proxy_port)
        self.addCleanup(s.close)
        pieces = [b"%02d-abcdefgh" % i for i in range(4)]  # 4 x 0.4 s < request_timeout_ms
        s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
                   % (origin.url("/echo"), origin.authority,
                      sum(map(len, pieces)))).encode())
        for p in pieces:
            time.sleep(BODY_TIMEOUT_MS / 1000.0 * 0.4)
            s.sendall(p)
        resp = RawResponseReader(s, timeout=10).read()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, b"".join(pieces))

    def slow_upload(self, s, url, authority, pieces, gap_s):
        """Sends a POST head, then `pieces` one every `gap_s` seconds; returns when the last one
        went out (or the proxy stopped taking them: an early answer or a refusal)."""
        s.sendall(("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
                   % (url, authority, sum(map(len, pieces)))).encode())
        for p in pieces:
            time.sleep(gap_s)
            try:
                s.sendall(p)
            except OSError:
                return

    def test_an_upload_slower_than_request_timeout_is_served(self):
        # upstream.request_timeout_ms bounds the origin's silence, not the client's upload: a
        # body trickling in (gaps under body_timeout_ms) for longer than request_timeout_ms
        # reaches the origin whole.
        origin = HttpOrigin()
        self.addCleanup(origin.close)
        s = connect(self.proxy.proxy_port)
        self.addCleanup(s.close)
        gap = BODY_TIMEOUT_MS / 1000.0 * 0.5
        n = int((REQUEST_TIMEOUT_MS / 1000.0 + 1.5) / gap) + 1  # lasts request_timeout + 1.5 s
        pieces = [b"%04d-slow-upload-" % i for i in range(n)]
        t0 = time.monotonic()
        self.slow_upload(s, origin.url("/echo"), origin.authority, pieces, gap)
        self.assertGreater(time.monotonic() - t0, REQUEST_TIMEOUT_MS / 1000.0 + 1.0)
        resp = RawResponseReader(s, timeout=10).read()
        self.assertEqual(resp.status, 200, resp.body[:200])
        self.assertEqual(resp.header("x-body-length"), str(sum(map(len, pieces))))
        self.assertEqual(resp.body, b"".join(pieces))

    def test_an_origin_answering_before_a_slow_upload_ends_is_relayed(self):
        def early_413(o, sock):
            o.read_head(sock)
            sock.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\n"
                         b"Connection: close\r\n\r\ntoo large")
            o.stop.wait(10)  # bounded: reads nothing more

        origin = ScriptedOrigin(early_413)
        self.addCleanup(origin.close)
        s = connect(self.proxy.proxy_port)
        self.addCleanup(s.close)
        url = "http://127.0.0.1:%d/upload" % origin.port
        # The head goes now; the body would take longer than request_timeout_ms to arrive.
        s.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 100000\r\n"
                   "\r\n" % (url, origin.port)).encode() + b"x" * 100)
        resp = RawResponseReader(s, timeout=REQUEST_TIMEOUT_MS / 1000.0).read()
        self.assertEqual(resp.status, 413)
        self.assertEqual(resp.body, b"too large")

    def test_a_silent_origin_gets_504_at_request_timeout_after_a_slow_upload(self):
        got = []

        def read_body_then_silent(o, sock):
            head = o.read_head(sock)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""
            while len(body) < length:  # bounded by the length and the socket timeout
                data = sock.recv(65536)
                if not data:
                    break
                body += data
            got.append(len(body))
            o.stop.wait(30)  # bounded: never answers

        origin = ScriptedOrigin(read_body_then_silent)
        self.addCleanup(origin.close)
        s = connect(self.proxy.proxy_port)
        self.addCleanup(s.close)
        gap = BODY_TIMEOUT_MS / 1000.0 * 0.5
        n = int((REQUEST_TIMEOUT_MS / 1000.0 + 1.0) / gap) + 1  # longer than request_timeout
        pieces = [b"%04d-then-silence-" % i for i in range(n)]
        self.slow_upload(s, "http://127.0.0.1:%d/" % origin.port, "127.0.0.1:%d" % origin.port,
                         pieces, gap)
        body_done = time.monotonic()
        resp = RawResponseReader(s, timeout=REQUEST_TIMEOUT_MS / 1000.0 + SLACK_S + 5).read()
        elapsed = time.monotonic() - body_done
        self.assertEqual(resp.status, 504, resp.body[:200])
        self.assertIn(b"upstream_timeout", resp.body)
        self.assertEqual(got, [sum(map(len, pieces))])  # the origin had the whole body
        self.assertGreaterEqual(elapsed, REQUEST_TIMEOUT_MS / 1000.0 - 0.3)
        self.assertLess(elapsed, REQUEST_TIMEOUT_MS / 1000.0 + SLACK_S)

    def test_a_client_that_never_reads_a_large_answer_keeps_memory_bounded_and_is_cut_off(self):
        origin = HttpOrigin()
        self.addCleanup(origin.close)
        rss_before = rss_kib(self.pid)
        s = connect(self.proxy.proxy_port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        url = origin.url("/bytes?n=%d" % (100 << 20))  # 100 MiB the client never reads
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (url, origin.authority)).encode())
        # The exchange is on (client and origin connections open) before the clock starts.
        self.assertTrue(poll(lambda: fd_count(self.pid) >= self.fd_baseline + 2, timeout=5))
        t0 = time.monotonic()
        peak = 0
        closed_at = None
        bound = 1.0 + SEND_TIMEOUT_MS / 1000.0 + SLACK_S + 2  # buffers fill, then the timeout
        while time.monotonic() - t0 < bound + 1:  # bounded
            peak = max(peak, rss_kib(self.pid))
            if closed_at is None and fd_count(self.pid) <= self.fd_baseline:
                closed_at = time.monotonic() - t0
                break
            time.sleep(0.1)
        s.close()
        growth_mib = (peak - rss_before) / 1024.0
        self.assertLess(growth_mib, 48, "RSS grew by %.1f MiB for a client not reading" % growth_mib)
        self.assertIsNotNone(closed_at, "the proxy kept a client that read nothing for %.1f s"
                             % bound)
        self.assertGreaterEqual(closed_at, SEND_TIMEOUT_MS / 1000.0 - 0.3)

    def test_an_idle_keep_alive_client_is_closed_at_idle_timeout_but_a_long_stream_is_not_cut(self):
        origin = HttpOrigin()
        self.addCleanup(origin.close)
        s = connect(self.proxy.proxy_port)
        self.addCleanup(s.close)
        reader = RawResponseReader(s, timeout=20)
        # An answer that takes longer than every downstream timeout (idle, send, body) to stream.
        stream_ms = IDLE_TIMEOUT_MS + SEND_TIMEOUT_MS + 1000
        url = origin.url("/slow?n=200000&ms=%d" % stream_ms)
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (url, origin.authority)).encode())
        resp = reader.read()
        self.assertEqual(resp.status, 200)
        self.assertEqual(len(resp.body), 200000)
        t0 = time.monotonic()
        data, closed = read_until_close(s, timeout=IDLE_TIMEOUT_MS / 1000.0 + SLACK_S + 2)
        elapsed = time.monotonic() - t0
        self.assertTrue(closed, "an idle keep-alive client kept for %.1f s" % elapsed)
        self.assertEqual(data, b"")
        self.assertGreaterEqual(elapsed, IDLE_TIMEOUT_MS / 1000.0 - 0.3)
        self.assertLess(elapsed, IDLE_TIMEOUT_MS / 1000.0 + SLACK_S)

    # -- (C) hostile origins ------------------------------------------------------------------
    def test_a_silent_origin_gets_504_at_request_timeout(self):
        def silent(o, sock):
            o.read_head(sock)
            o.stop.wait(30)  # bounded: never answers

        origin = ScriptedOrigin(silent)
        self.addCleanup(origin.close)
        resp, elapsed = self.proxied_get("http://127.0.0.1:%d/" % origin.port, timeout=15)
        self.assertEqual(resp.status, 504)
        self.assertIn(b"upstream_timeout", resp.body)
        self.assertGreaterEqual(elapsed, REQUEST_TIMEOUT_MS / 1000.0 - 0.3)
        self.assertLess(elapsed, REQUEST_TIMEOUT_MS / 1000.0 + SLACK_S)

    def test_an_origin_that_resets_gets_502(self):
        def reset(o, sock):
            o.read_head(sock)
            hard_close(sock)

        origin = ScriptedOrigin(reset)
        self.addCleanup(origin.close)
        resp, elapsed = self.proxied_get("http://127.0.0.1:%d/" % origin.port, timeout=15)
        self.assertEqual(resp.status, 502, resp.body)
        self.assertLess(elapsed, 5)

    def test_an_origin_with_an_endless_head_gets_502_at_max_header_bytes(self):
        sent = []

        def endless_head(o, sock):
            o.read_head(sock)
            sock.sendall(b"HTTP/1.1 200 OK\r\n")
            n = 0
            while not o.stop.is_set() and n < (64 << 20):  # bounded: 64 MiB at most
                sock.sendall(b"X-Endless: " + b"a" * 1000 + b"\r\n")
                n += 1013
            sent.append(n)

        origin = ScriptedOrigin(endless_head)
        self.addCleanup(origin.close)
        resp, elapsed = self.proxied_get("http://127.0.0.1:%d/" % origin.port, timeout=15)
        self.assertEqual(resp.status, 502, resp.body)
        self.assertIn(b"bad_response", resp.body)
        self.assertLess(elapsed, 5)

    def test_an_origin_with_an_endless_body_is_streamed_with_bounded_memory(self):
        def endless_body(o, sock):
            o.read_head(sock)
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (65536, b"z" * 65536)
            for _ in range(1 << 14):  # bounded: 1 GiB at most
                if o.stop.is_set():
                    break
                sock.sendall(chunk)

        origin = ScriptedOrigin(endless_body)
        self.addCleanup(origin.close)
        rss_before = rss_kib(self.pid)
        s = connect(self.proxy.proxy_port)
        self.addCleanup(s.close)
        url = "http://127.0.0.1:%d/" % origin.port
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (url, origin.port)).encode())
        got = 0
        peak = 0
        s.settimeout(10)
        for i in range(100000):  # bounded: stops at 200 MiB
            data = s.recv(1 << 20)
            self.assertTrue(data, "the stream ended after %d bytes" % got)
            got += len(data)
            if i % 64 == 0:
                peak = max(peak, rss_kib(self.pid))
            if got >= (200 << 20):
                break
        self.assertGreaterEqual(got, 200 << 20)
        growth_mib = (peak - rss_before) / 1024.0
        if os.environ.get("AIW_SANITIZED") != "1":  # ASan's quarantine: RSS says nothing
            self.assertLess(growth_mib, 48, "RSS grew by %.1f MiB streaming an endless body"
                            % growth_mib)
        s.close()
        origin.close()
        self.settle_fds("after the endless body")

    def test_an_origin_that_never_accepts_gets_504_at_connect_timeout(self):
        with BlackholeListener() as hole:
            if not hole.ok:
                self.skipTest("could not fill the accept queue of a loopback listener")
            resp, elapsed = self.proxied_get("http://127.0.0.1:%d/" % hole.port, timeout=15)
            self.assertEqual(resp.status, 504, resp.body)
            self.assertIn(b"connect_timeout", resp.body)
            self.assertGreaterEqual(elapsed, CONNECT_TIMEOUT_MS / 1000.0 - 0.3)
            self.assertLess(elapsed, CONNECT_TIMEOUT_MS / 1000.0 + SLACK_S)
            # CONNECT answers the same way, before any 200.
            s = connect(self.proxy.proxy_port)
            t0 = time.monotonic()
            s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % hole.port)
            data, closed = read_until_close(s, timeout=CONNECT_TIMEOUT_MS / 1000.0 + SLACK_S)
            s.close()
            self.assertTrue(data.startswith(b"HTTP/1.1 504"), data[:100])
            self.assertTrue(closed)
            self.assertLess(time.monotonic() - t0, CONNECT_TIMEOUT_MS / 1000.0 + SLACK_S)


class HostileResourcesTlsTest(ProxyTestCase):
    """limits.send_timeout_ms for an intercepted (TLS) HTTP/1.1 client: its bytes wait as
    ciphertext on the socket under the TLS layer."""

    @classmethod
    def setUpClass(cls):
        cls.pki = shared_pki()
        cls.origin = HttpOrigin(cls.pki.server_context())  # "origin.test", an AI host here
        cls.addClassCleanup(cls.origin.close)
        cls.proxy = Proxy()
        cfg = cls.proxy.default_config(workers=1)
        cfg["upstream"] = {"ca_file": cls.pki.ca_pem,
                           "resolve": {"origin.test:%d" % cls.origin.port:
                                       "127.0.0.1:%d" % cls.origin.port},
                           "idle_timeout_ms": IDLE_TIMEOUT_MS,
                           "request_timeout_ms": REQUEST_TIMEOUT_MS}
        cfg["limits"] = {"send_timeout_ms": SEND_TIMEOUT_MS}
        cfg["filters"] = [
            {"filter": "tls_inspector"},
            {"filter": "domain_classifier", "config": {"ai_domains": ["origin.test"],
                                                       "default": "bypass"}},
        ]
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)
        cls.pid = cls.proxy.pid
        cls.proxy_ca = os.path.join(cls.proxy.state_dir, "ca", "ca.pem")
        time.sleep(0.2)
        cls.fd_baseline = fd_count(cls.pid)

    def setUp(self):
        # Pooled upstream connections and idle clients of an earlier test go at idle_timeout_ms.
        timeout = (IDLE_TIMEOUT_MS / 1000.0 + 8.0) * TIMEOUT_SCALE
        self.assertTrue(poll(lambda: fd_count(self.pid) <= self.fd_baseline and
                             self.origin_open() == 0, timeout=timeout, interval=0.1))

    def origin_open(self) -> int:
        """The origin's established TCP connections, as the kernel sees them (its TLS server
        does not track when a connection ends)."""
        n = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    rows = f.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                cols = row.split()
                if len(cols) > 3 and cols[3] == "01" and \
                        int(cols[1].rsplit(":", 1)[1], 16) == self.origin.port:
                    n += 1
        return n

    def intercepted_client(self):
        """A CONNECT to origin.test, then TLS (HTTP/1.1) with a leaf from the proxy's CA."""
        s = connect(self.proxy.proxy_port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        authority = "origin.test:%d" % self.origin.port
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (authority, authority)).encode())
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 4096:  # bounded
            data = s.recv(4096)
            self.assertTrue(data, "the proxy closed the CONNECT")
            head += data
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:100])
        ctx = ssl.create_default_context(cafile=self.proxy_ca)
        ctx.set_alpn_protocols(["http/1.1"])
        tls = ctx.wrap_socket(s, server_hostname="origin.test")
        self.assertEqual(tls.selected_alpn_protocol(), "http/1.1")
        return tls, authority

    def test_an_intercepted_client_that_never_reads_is_cut_off_at_send_timeout(self):
        rss_before = rss_kib(self.pid)
        tls, authority = self.intercepted_client()
        self.addCleanup(tls.close)
        tls.sendall(("GET /bytes?n=%d HTTP/1.1\r\nHost: %s\r\n\r\n"
                     % (100 << 20, authority)).encode())  # 100 MiB it never reads
        # The exchange is on (client and origin connections open) before the clock starts.
        self.assertTrue(poll(lambda: fd_count(self.pid) >= self.fd_baseline + 2, timeout=5))
        self.assertTrue(poll(lambda: self.origin_open() >= 1, timeout=5))
        t0 = time.monotonic()
        peak = 0
        closed_at = None
        bound = 1.0 + SEND_TIMEOUT_MS / 1000.0 + SLACK_S  # buffers fill, then the timeout
        while time.monotonic() - t0 < bound + 5:  # bounded
            peak = max(peak, rss_kib(self.pid))
            if fd_count(self.pid) <= self.fd_baseline:
                closed_at = time.monotonic() - t0
                break
            time.sleep(0.1)
        growth_mib = (peak - rss_before) / 1024.0
        self.assertIsNotNone(closed_at, "the proxy kept an intercepted client that read nothing "
                             "for %.1f s" % (bound + 5))
        self.assertLess(closed_at, bound)
        self.assertGreaterEqual(closed_at, SEND_TIMEOUT_MS / 1000.0 - 0.3)
        self.assertLess(growth_mib, 48,
                        "RSS grew by %.1f MiB for a client not reading" % growth_mib)
        # The origin's connection went with it.
        self.assertTrue(poll(lambda: self.origin_open() == 0, timeout=5),
                        "the origin still has %d connections" % self.origin_open())
        # The client sees the end after what had been queued for it.
        tls.settimeout(10)
        got = 0
        try:
            for _ in range(10000):  # bounded: at most what the buffers held
                data = tls.recv(1 << 20)
                if not data:
                    break
                got += len(data)
        except (OSError, ssl.SSLError):
            pass
        self.assertLess(got, 100 << 20)

    def test_an_intercepted_client_reading_a_slow_answer_is_not_cut(self):
        tls, authority = self.intercepted_client()
        self.addCleanup(tls.close)
        # An answer that streams for longer than send_timeout_ms, read as it comes.
        n = 300000
        tls.sendall(("GET /slow?n=%d&ms=%d HTTP/1.1\r\nHost: %s\r\n\r\n"
                     % (n, SEND_TIMEOUT_MS + 1500, authority)).encode())
        # Blocking reads (select() does not see what the TLS layer already decrypted).
        tls.settimeout(20)
        buf = b""
        for _ in range(100000):  # bounded
            data = tls.recv(65536)
            if not data:
                break
            buf += data
            if b"\r\n\r\n" in buf and len(buf.split(b"\r\n\r\n", 1)[1]) >= n:
                break
        head, _, body = buf.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:100])
        self.assertEqual(len(body), n)


if __name__ == "__main__":
    unittest.main()
