"""A fake tool server for the sidecar tests: every POST is recorded (path, headers, JSON body)
and answered by the path:

  /run     200 {"ran": <the JSON body>}          (the tool worked)
  /fail    500 {"error": "tool crashed"}         (the tool failed)
  /text    200 text/plain "plain words"          (a tool that does not answer JSON)
"""

import http.server
import json
import socketserver
import threading

from origins import read_request_body


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-tool"
    timeout = 30

    def log_message(self, format, *args):
        pass

    def _send(self, status, body: bytes, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        raw = read_request_body(self)[0]
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.server.origin.record({"path": self.path,
                                   "headers": {k.lower(): v for k, v in self.headers.items()},
                                   "body": body, "raw_body": raw})
        path = self.path.split("?", 1)[0]
        if path == "/run":
            self._send(200, json.dumps({"ran": body}).encode())
        elif path == "/fail":
            self._send(500, b'{"error": "tool crashed"}')
        elif path == "/text":
            self._send(200, b"plain words", "text/plain")
        elif path == "/binary":
            self._send(200, b"bytes \xff\xfe here", "application/octet-stream")
        else:
            self._send(404, b'{"error": "no such tool path"}')


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, origin):
        self.origin = origin
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request, client_address):
        pass


class ToolOrigin:
    def __init__(self):
        self._lock = threading.Lock()
        self._calls = []
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def record(self, call):
        with self._lock:
            self._calls.append(call)

    @property
    def calls(self):
        with self._lock:
            return list(self._calls)

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
