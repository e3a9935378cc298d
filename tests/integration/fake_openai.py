"""A fake OpenAI API origin for SDK tests: HTTPS on 127.0.0.1 (standard library only).

    POST /v1/chat/completions   {"stream": false} (or absent): one chat.completion JSON;
                                {"stream": true}: an SSE stream of chat.completion.chunk events
                                (role first, then one chunk per piece of `stream_pieces`, then a
                                finish_reason chunk) ending with `data: [DONE]`, sent chunked,
                                one flushed write per event
    POST /v1/messages           Anthropic Messages: one message JSON, or with "stream": true the
                                SSE events message_start, content_block_start, one
                                content_block_delta per piece, content_block_stop,
                                message_delta (usage), message_stop
    anything else               404 with an OpenAI-style error JSON

`stream_pieces` defaults to STREAM_PIECES; a test may set its own (a secret split in two, say).

Every request is recorded in `requests` as {"method", "path", "headers": [[k, v], ...],
"body": the parsed JSON (or None), "raw_body": bytes}. Serve it as api.openai.com with a leaf
for that name (pki.make_pki(dir, names=("api.openai.com",))) and `upstream.resolve`.
"""

import http.server
import json
import socketserver
import ssl
import threading
import time

from origins import read_request_body

COMPLETION_ID = "chatcmpl-aiwardentest0001"
COMPLETION_CONTENT = "Hello from the fake OpenAI origin: 4 + 4 = 8."
STREAM_ID = "chatcmpl-aiwardentest0002"
# Pieces with spaces, punctuation, non-ASCII and JSON escapes, so a lost, split or reordered
# delta shows in the joined text.
STREAM_PIECES = ("Stream", "ing", " through", " aiwarden", ": ", "one", ", two", ", three",
                 " \u2014 caf\u00e9 \U0001F680", " \"quoted\"", "\nend.")


def completion_body(model: str, created: int) -> dict:
    return {
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": COMPLETION_CONTENT, "refusal": None,
                        "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 19, "completion_tokens": 14, "total_tokens": 33,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0,
                                                "rejected_prediction_tokens": 0}},
        "service_tier": "default",
        "system_fingerprint": "fp_aiwarden",
    }


def stream_chunks(model: str, created: int, pieces=STREAM_PIECES):
    """The chat.completion.chunk objects of one streamed answer, in order."""
    def chunk(delta, finish=None):
        return {"id": STREAM_ID, "object": "chat.completion.chunk", "created": created,
                "model": model, "system_fingerprint": "fp_aiwarden",
                "choices": [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish}]}
    yield chunk({"role": "assistant", "content": "", "refusal": None})
    for piece in pieces:
        yield chunk({"content": piece})
    yield chunk({}, "stop")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai"
    timeout = 60

    def log_message(self, format, *args):
        pass

    def _read_body(self) -> bytes:
        return read_request_body(self)[0]

    def _json(self, status, obj, extra=()):
        out = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("x-request-id", "req_aiwarden_test")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def _dispatch(self):
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.server.origin._record({
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body,
            "raw_body": raw,
        })
        path = self.path.split("?", 1)[0]
        if self.command == "POST" and path == "/v1/messages":
            self._anthropic(body)
            return
        if self.command != "POST" or path != "/v1/chat/completions":
            self._json(404, {"error": {"message": "Unknown request URL: %s %s"
                                       % (self.command, self.path),
                                       "type": "invalid_request_error", "param": None,
                                       "code": "unknown_url"}})
            return
        if not isinstance(body, dict) or "model" not in body or "messages" not in body:
            self._json(400, {"error": {"message": "model and messages are required",
                                       "type": "invalid_request_error", "param": None,
                                       "code": None}})
            return
        model = str(body["model"])
        created = int(time.time())
        if not body.get("stream"):
            self._json(200, completion_body(model, created))
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", "req_aiwarden_test_stream")
        self.end_headers()
        pieces = self.server.origin.stream_pieces
        events = ["data: %s\n\n" % json.dumps(c) for c in stream_chunks(model, created, pieces)]
        events.append("data: [DONE]\n\n")
        self._send_events(events)

    def _send_events(self, events):
        """Sends SSE events chunked, one flushed write per event; stops quietly when the client
        (the proxy) has gone, as a cut stream does."""
        try:
            for ev in events:
                data = ev.encode("utf-8")
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _anthropic(self, body):
        if not isinstance(body, dict) or "model" not in body or "messages" not in body:
            self._json(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                        "message": "model and messages required"}})
            return
        model = str(body["model"])
        pieces = self.server.origin.stream_pieces
        if not body.get("stream"):
            self._json(200, {"id": "msg_aiwardentest01", "type": "message", "role": "assistant",
                             "model": model, "content": [{"type": "text",
                                                          "text": COMPLETION_CONTENT}],
                             "stop_reason": "end_turn", "stop_sequence": None,
                             "usage": {"input_tokens": 12, "output_tokens": 9}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(name, obj):
            return "event: %s\ndata: %s\n\n" % (name, json.dumps(obj))
        events = [event("message_start", {"type": "message_start", "message": {
            "id": "msg_aiwardentest02", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 1}}}),
            event("content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": {"type": "text", "text": ""}})]
        for piece in pieces:
            events.append(event("content_block_delta", {
                "type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": piece}}))
        events += [event("content_block_stop", {"type": "content_block_stop", "index": 0}),
                   event("message_delta", {"type": "message_delta",
                                           "delta": {"stop_reason": "end_turn",
                                                     "stop_sequence": None},
                                           "usage": {"output_tokens": len(pieces)}}),
                   event("message_stop", {"type": "message_stop"})]
        self._send_events(events)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, origin, tls_context):
        self.origin = origin
        self.tls_context = tls_context
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request, client_address):
        request.settimeout(30)
        try:
            tls = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass


class FakeOpenAI:
    """`with FakeOpenAI(tls_context) as o:` — o.port, o.requests (copies of what it got)."""

    def __init__(self, tls_context: ssl.SSLContext):
        self._lock = threading.Lock()
        self._requests = []
        self.stream_pieces = STREAM_PIECES
        self._server = _Server(self, tls_context)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def _record(self, req):
        with self._lock:
            self._requests.append(req)

    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
