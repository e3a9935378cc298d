"""Fake origins for the integration tests: threaded servers on 127.0.0.1, standard library only.

HttpOrigin (HTTP/1.1 with keep-alive; TLS when given an ssl.SSLContext) serves:

  /bytes?n=N&seed=S        N deterministic bytes (see content_blocks), Content-Length
  /chunked?n=N&seed=S      the same bytes, Transfer-Encoding: chunked, irregular chunk sizes
  /echo                    the request body back (Content-Length), with X-Body-Sha256,
                           X-Body-Length and X-Request-Framing (length | chunked | none)
  /headers                 JSON {"method","target","version","headers":[[name, value], ...]};
                           with ?resp_hop=1 the response carries hop-by-hop headers of its own;
                           with ?alt_svc=V it carries "Alt-Svc: V"
  /slow?n=N&ms=M&seed=S    N deterministic bytes, Content-Length, sent in 20 pieces over ~M ms
  /v1/models               a small OpenAI-shaped model list (JSON)

and counts what it sees: `connections` (TCP connections accepted) and `requests` (every request
head it parsed, as dicts). TcpEchoOrigin is a plain TCP service for tunnel tests.
"""

import functools
import hashlib
import http.server
import itertools
import json
import random
import socket
import socketserver
import ssl
import threading
import time
import urllib.parse

BLOCK = 1 << 20


@functools.lru_cache(maxsize=8)
def _base_block(seed: int) -> bytes:
    return random.Random(seed).randbytes(BLOCK)


def content_blocks(n: int, seed: int = 1):
    """Yields the N deterministic bytes of (seed) in blocks of at most 1 MiB.

    Block i is a per-seed pseudo-random MiB whose first 8 bytes are replaced by i (big endian),
    so a lost, repeated or reordered block changes the digest, and nothing is held whole.
    """
    base = _base_block(seed)
    i = 0
    left = n
    while left > 0:
        size = min(BLOCK, left)
        block = i.to_bytes(8, "big") + base[8:]
        yield block[:size] if size < BLOCK else block
        left -= size
        i += 1


def content(n: int, seed: int = 1) -> bytes:
    return b"".join(content_blocks(n, seed))


@functools.lru_cache(maxsize=32)
def content_sha256(n: int, seed: int = 1) -> str:
    h = hashlib.sha256()
    for block in content_blocks(n, seed):
        h.update(block)
    return h.hexdigest()


# Chunk sizes of /chunked, cycled: tiny, odd and large chunks.
_CHUNK_SIZES = (1, 17, 4096, 65536, 3, 100000, 8191, 250000)


def _irregular_pieces(n: int, seed: int):
    sizes = itertools.cycle(_CHUNK_SIZES)
    pending = b""
    for block in content_blocks(n, seed):
        pending += block
        while pending:
            size = next(sizes)
            if len(pending) < size:
                break
            yield pending[:size]
            pending = pending[size:]
    if pending:
        yield pending


def read_request_body(handler):
    """The request body of a BaseHTTPRequestHandler and how it was framed: (bytes, "chunked" |
    "length" | "none"). Shared by every fake origin of the tests."""
    te = handler.headers.get("Transfer-Encoding")
    if te is not None and "chunked" in te.lower():
        parts = []
        while True:
            line = handler.rfile.readline(1024)
            if not line:
                raise ConnectionError("EOF in chunked body")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while True:  # trailers, up to the empty line
                    t = handler.rfile.readline(65537)
                    if t in (b"\r\n", b"\n", b""):
                        break
                return b"".join(parts), "chunked"
            parts.append(handler.rfile.read(size))
            handler.rfile.readline(8)  # CRLF after the chunk data
    length = handler.headers.get("Content-Length")
    if length is not None:
        return handler.rfile.read(int(length)), "length"
    return b"", "none"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aiwarden-test-origin"
    timeout = 60  # an idle keep-alive connection is closed after this

    def log_message(self, format, *args):  # keep test output quiet
        pass

    # -- request body -------------------------------------------------------------------------
    def _read_body(self):
        return read_request_body(self)

    def _record(self):
        self.server.origin._record_request({
            "method": self.command,
            "target": self.path,
            "version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
        })

    def _query(self):
        parts = urllib.parse.urlsplit(self.path)
        return parts.path, dict(urllib.parse.parse_qsl(parts.query))

    def _send_head(self, status, headers):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()

    # -- dispatch -----------------------------------------------------------------------------
    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def _dispatch(self):
        self._record()
        path, q = self._query()
        body, framing = self._read_body()
        n = int(q.get("n", "0"))
        seed = int(q.get("seed", "1"))
        if path == "/bytes":
            self._send_head(200, [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(n))])
            for block in content_blocks(n, seed):
                self.wfile.write(block)
        elif path == "/chunked":
            self._send_head(200, [("Content-Type", "application/octet-stream"),
                                  ("Transfer-Encoding", "chunked")])
            for piece in _irregular_pieces(n, seed):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/echo":
            self._send_head(200, [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(body))),
                                  ("X-Body-Sha256", hashlib.sha256(body).hexdigest()),
                                  ("X-Body-Length", str(len(body))),
                                  ("X-Request-Framing", framing)])
            self.wfile.write(body)
        elif path == "/v1/models":  # the shape of OpenAI's model list, for AI-host tests
            out = json.dumps({"object": "list", "data": [
                {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"}]
            }).encode()
            self._send_head(200, [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(out)))])
            self.wfile.write(out)
        elif path == "/headers":
            out = json.dumps({
                "method": self.command,
                "target": self.path,
                "version": self.request_version,
                "headers": [[k, v] for k, v in self.headers.items()],
            }).encode()
            extra = []
            if q.get("resp_hop"):
                extra = [("Connection", "X-Resp-Hop"), ("X-Resp-Hop", "must-not-pass"),
                         ("Keep-Alive", "timeout=30"), ("X-Resp-End-To-End", "kept")]
            if q.get("alt_svc"):
                extra.append(("Alt-Svc", q["alt_svc"]))
            self._send_head(200, [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(out)))] + extra)
            self.wfile.write(out)
        elif path == "/slow":
            ms = int(q.get("ms", "1000"))
            data = content(n, seed)
            self._send_head(200, [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(n))])
            pieces = 20
            step = (n + pieces - 1) // pieces or 1
            for i in range(0, n, step):
                self.wfile.write(data[i:i + step])
                self.wfile.flush()
                if i + step < n:
                    time.sleep(ms / pieces / 1000.0)  # throttling the origin, not waiting
        else:
            out = b"not found\n"
            self._send_head(404, [("Content-Length", str(len(out)))])
            self.wfile.write(out)
        self.wfile.flush()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, origin, tls_context):
        self.origin = origin
        self.tls_context = tls_context
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self):
        sock, addr = super().get_request()
        self.origin._track(sock, +1)
        return sock, addr

    def finish_request(self, request, client_address):
        # TLS handshake here, in the connection's own thread, not in the accept loop.
        if self.tls_context is None:
            return super().finish_request(request, client_address)
        request.settimeout(30)
        try:
            tls = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.origin._track(tls, 0)
        try:
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def shutdown_request(self, request):
        self.origin._untrack(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        pass  # clients (the proxy) hanging up mid-response are expected in some tests


class HttpOrigin:
    """A threaded HTTP/1.1 origin on 127.0.0.1; `with HttpOrigin() as o:` or start()/close()."""

    def __init__(self, tls_context=None):
        self._lock = threading.Lock()
        self._connections = 0
        self._requests = []
        self._open = set()
        self._server = _Server(self, tls_context)
        self.port = self._server.server_address[1]
        self.tls = tls_context is not None
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    # -- counters -----------------------------------------------------------------------------
    def _track(self, sock, delta):
        with self._lock:
            self._connections += delta
            self._open.add(sock)

    def _untrack(self, sock):
        with self._lock:
            self._open.discard(sock)

    def _record_request(self, req):
        with self._lock:
            self._requests.append(req)

    @property
    def connections(self) -> int:
        """TCP connections accepted so far."""
        with self._lock:
            return self._connections

    @property
    def requests(self):
        """Request heads parsed so far (copies)."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return "%s://%s:%d%s" % ("https" if self.tls else "http", host, self.port, path)

    @property
    def authority(self) -> str:
        return "127.0.0.1:%d" % self.port

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            socks = list(self._open)
            self._open.clear()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def loopback_listener(backlog: int) -> socket.socket:
    """A TCP listener on 127.0.0.1, on a free port (its getsockname()[1])."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    return sock


class TcpEchoOrigin:
    """Plain TCP: echoes every byte as it arrives; at EOF from the client it sends
    b"BYE <count> <sha256 of all received>\\n" and closes. Records per connection whether EOF was
    seen (`eof_seen` event) and what was received."""

    def __init__(self):
        self._listener = loopback_listener(16)
        self.port = self._listener.getsockname()[1]
        self.eof_seen = threading.Event()
        self.closed = threading.Event()
        self.received = bytearray()
        self.connections = 0
        self._stop = False
        self._socks = []
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self):
        self._listener.settimeout(0.2)
        while not self._stop:
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            self._socks.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        sock.settimeout(30)
        h = hashlib.sha256()
        count = 0
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                count += len(data)
                h.update(data)
                self.received += data
                sock.sendall(data)
            self.eof_seen.set()
            sock.sendall(b"BYE %d %s\n" % (count, h.hexdigest().encode()))
        except OSError:
            pass
        finally:
            sock.close()
            self.closed.set()

    def close(self):
        self._stop = True
        self._listener.close()
        for s in self._socks:
            try:
                s.close()
            except OSError:
                pass
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BlackholeListener:
    """A listening socket that never accepts and whose accept queue is full, so that a further
    connect() to it gets no answer (Linux drops the SYN): a deterministic connect timeout on
    loopback. `ok` is False when the queue could not be filled (then the test must say so)."""

    def __init__(self, max_fillers: int = 16):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port = self._listener.getsockname()[1]
        self._fillers = []
        self.ok = False
        import select
        for _ in range(max_fillers):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(False)
            self._fillers.append(c)
            try:
                c.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            _, w, _ = select.select([], [c], [], 0.3)
            if not w:  # this one hangs in SYN-SENT: the queue is full
                self.ok = True
                break

    def close(self):
        for c in self._fillers:
            c.close()
        self._listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TcpSpeakFirstOrigin:
    """Plain TCP: on connect, sends `greeting` and half-closes (SHUT_WR) at once, then reads
    until the client's EOF; `received` holds what came, `eof_seen` is set at that EOF."""

    def __init__(self, greeting: bytes = b"HELLO FROM ORIGIN\n"):
        self.greeting = greeting
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self.received = bytearray()
        self.eof_seen = threading.Event()
        self._socks = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        self._listener.settimeout(0.2)
        deadline = time.monotonic() + 60
        while True:
            if self._stop or time.monotonic() > deadline:
                return
            try:
                sock, _ = self._listener.accept()
                break
            except socket.timeout:
                continue
            except OSError:
                return
        self._socks.append(sock)
        sock.settimeout(30)
        try:
            sock.sendall(self.greeting)
            sock.shutdown(socket.SHUT_WR)
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                self.received += data
            self.eof_seen.set()
        except OSError:
            pass
        finally:
            sock.close()

    def close(self):
        self._stop = True
        self._listener.close()
        for s in self._socks:
            try:
                s.close()
            except OSError:
                pass
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
