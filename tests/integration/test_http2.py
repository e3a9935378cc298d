"""HTTP/2 to the client (issue 4): ALPN h2 on intercepted TLS and h2c with prior knowledge on the
sidecar, each stream run as its own exchange (tests/node/h2_client.mjs is the HTTP/2 client,
Node's node:http2; curl --http2 too).

Streaming is checked causally, never against a clock: the origin sends SSE event k+1 only once
the client has reported event k, so an answer the proxy held back would stall the origin (a
bounded wait, then failure). The latencies seen are printed for the record.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import http.server
import socketserver

import harness
from harness import Proxy, ProxyTestCase, curl
from origins import HttpOrigin, content_sha256
from pki import make_pki

TESTS_DIR = os.path.normpath(os.path.join(harness.HERE, ".."))
CLIENT = os.path.join(TESTS_DIR, "node", "h2_client.mjs")
NODE = shutil.which("node")
NODE_OK = os.path.join(TESTS_DIR, "..", "scripts", "node-ok.sh")
if NODE is None or subprocess.run([NODE_OK], capture_output=True).returncode != 0:
    SKIP = "node >= 20.18.1 is not installed (the HTTP/2 client of these tests is Node's)"
else:
    SKIP = None

EVENTS = 50
GATE_TIMEOUT_S = 10  # how long the origin waits for the client to report an event


class _GatedSseHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        origin = self.server.origin
        length = int(self.headers.get("Content-Length", "0") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for k in range(EVENTS):
                data = ('data: {"k": %d}\n\n' % k).encode()
                origin.sent[k] = time.time()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                if not origin.gates[k].wait(GATE_TIMEOUT_S):
                    origin.stalled = k
                    break
                time.sleep(0.02)  # the acceptance's 20 ms between events
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            origin.client_gone = True
            origin.gone_event.set()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, origin, tls_context):
        self.origin = origin
        self.tls_context = tls_context
        super().__init__(("127.0.0.1", 0), _GatedSseHandler)

    def finish_request(self, request, client_address):
        if self.tls_context is not None:
            request = self.tls_context.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass


class GatedSseOrigin:
    """An LLM-like origin streaming EVENTS SSE events, each only after the last was seen."""

    def __init__(self, tls_context=None):
        self.reset()
        self._server = _Server(self, tls_context)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()

    def reset(self):
        self.gates = [threading.Event() for _ in range(EVENTS)]
        self.sent = [None] * EVENTS
        self.stalled = None
        self.client_gone = False
        self.gone_event = threading.Event()

    def close(self):
        for g in self.gates:
            g.set()
        self._server.shutdown()
        self._server.server_close()


@unittest.skipIf(SKIP, SKIP)
class Http2Test(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = make_pki(tempfile.mkdtemp(prefix="aiw-h2-pki-"),
                           names=("api.openai.com", "files.example.test"))
        cls.addClassCleanup(shutil.rmtree, cls.pki.directory, True)
        cls.sse = GatedSseOrigin(cls.pki.server_context())
        cls.addClassCleanup(cls.sse.close)
        cls.sse_plain = GatedSseOrigin()
        cls.addClassCleanup(cls.sse_plain.close)
        cls.files = HttpOrigin(cls.pki.server_context())
        cls.addClassCleanup(cls.files.close)
        cls.proxy = Proxy()
        cls.sidecar_port = harness.free_port()
        cfg = cls.proxy.default_config()
        cfg["listeners"].append({
            "name": "agent", "type": "sidecar", "address": "127.0.0.1:%d" % cls.sidecar_port,
            "routes": [{"prefix": "/llm/", "upstream": "http://127.0.0.1:%d/" % cls.sse_plain.port}],
        })
        cfg["upstream"] = {"connect_timeout_ms": 2000, "ca_file": cls.pki.ca_pem,
                           "resolve": {"api.openai.com:443": "127.0.0.1:%d" % cls.sse.port,
                                       "files.example.test:443": "127.0.0.1:%d" % cls.files.port}}
        cfg["filters"] = [
            {"filter": "tls_inspector"},
            {"filter": "domain_classifier", "config": {
                "ai_domains": ["api.openai.com", "files.example.test"], "default": "bypass"}},
            {"filter": "chatty_bypass"},
            {"filter": "pattern_matcher"},
            {"filter": "rule_evaluator", "config": {"rules": []}},
        ]
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)
        cls.proxy_ca = os.path.join(cls.proxy.state_dir, "ca", "ca.pem")

    def node(self, **env):
        base = {"PROXY": "127.0.0.1:%d" % self.proxy.proxy_port, "CA": self.proxy_ca}
        base.update(env)
        return subprocess.Popen([NODE, CLIENT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=harness.clean_env(**base), cwd=TESTS_DIR)

    def run_node(self, **env):
        p = self.node(**env)
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 0, "node failed:\n%s\n%s" % (out, err))
        return json.loads(out.decode().strip().splitlines()[-1])

    # -- streaming -------------------------------------------------------------------------------
    def stream_events(self, origin, **env):
        origin.reset()
        body = json.dumps({"model": "gpt-4o", "stream": True,
                           "messages": [{"role": "user", "content": "count to fifty"}]})
        p = self.node(MODE="sse", BODY=body, **env)
        latencies = []
        done = None
        try:
            for line in p.stdout:
                msg = json.loads(line)
                if "event" in msg:
                    k = msg["event"]
                    if k < EVENTS and origin.sent[k] is not None:
                        latencies.append(msg["t"] / 1000.0 - origin.sent[k])
                    if k < EVENTS:
                        origin.gates[k].set()
                elif msg.get("done"):
                    done = msg
                    break
        finally:
            out, err = p.communicate(timeout=60)
        self.assertIsNone(origin.stalled,
                          "the origin waited %ds for event %s to reach the client: the proxy "
                          "held the stream back\n%s" % (GATE_TIMEOUT_S, origin.stalled, err))
        self.assertIsNotNone(done, err)
        self.assertEqual(done["status"], 200)
        self.assertEqual(done["events"], EVENTS)
        print("  SSE over h2: %d events, origin->client latency max %.1f ms, median %.1f ms"
              % (len(latencies), 1000 * max(latencies), 1000 * sorted(latencies)[len(latencies) // 2]))

    def test_sse_reaches_an_h2_client_event_by_event_on_the_intercepted_path(self):
        self.stream_events(self.sse, TARGET="https://api.openai.com", URL_PATH="/v1/chat/completions")

    def test_sse_reaches_an_h2c_client_event_by_event_on_a_sidecar_route(self):
        self.stream_events(self.sse_plain, H2C_URL="http://127.0.0.1:%d" % self.sidecar_port,
                           URL_PATH="/llm/v1/chat/completions",
                           HEADERS=json.dumps({"x-proxy-token": harness.TOKEN}))

    # -- bodies ----------------------------------------------------------------------------------
    def test_h2_client_to_http1_origin_moves_1_mib_each_way_byte_identical(self):
        up = self.run_node(MODE="transfer", TARGET="https://files.example.test", URL_PATH="/echo",
                           SIZE=str(1 << 20))
        self.assertEqual(up["status"], 200)
        self.assertEqual(up["length"], 1 << 20)
        self.assertEqual(up["sha256"], up["sent_sha256"])
        down = self.run_node(MODE="transfer", METHOD="GET", TARGET="https://files.example.test",
                             URL_PATH="/bytes?n=%d&seed=4" % (1 << 20), SIZE="0")
        self.assertEqual(down["status"], 200)
        self.assertEqual(down["length"], 1 << 20)
        self.assertEqual(down["sha256"], content_sha256(1 << 20, 4))

    def test_curl_http2_through_the_intercepting_proxy(self):
        r = curl(["--http2", "-v", "--cacert", self.proxy_ca,
                  "https://files.example.test/bytes?n=100000&seed=2"],
                 proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.status, 200)
        self.assertIn("ALPN: server accepted h2", r.stderr)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), content_sha256(100000, 2))

    def test_100_concurrent_streams_on_one_connection_all_succeed(self):
        out = self.run_node(MODE="concurrent", COUNT="100", TARGET="https://files.example.test",
                            URL_PATH="/bytes?n=2000&seed=3")
        self.assertEqual(out["alpn"], "h2")
        self.assertEqual(out["statuses"], [200] * 100)

    # -- cancellation ----------------------------------------------------------------------------
    def test_a_reset_stream_ends_the_upstream_request(self):
        self.sse.reset()
        body = json.dumps({"model": "gpt-4o", "stream": True,
                           "messages": [{"role": "user", "content": "go"}]})
        p = self.node(MODE="abort", BODY=body, TARGET="https://api.openai.com",
                      URL_PATH="/v1/chat/completions", HOLD_MS="5000")
        try:
            line = json.loads(p.stdout.readline())
            self.assertTrue(line.get("aborted"), line)
            start = time.monotonic()
            # The origin learns it when a write fails: let it stream on (50 events, ~1 s); had
            # the proxy kept the upstream request, the stream would end without a failed write.
            for g in self.sse.gates:
                g.set()
            gone = self.sse.gone_event.wait(4)
            print("  upstream closed %.0f ms after the client's RST_STREAM"
                  % (1000 * (time.monotonic() - start)))
            self.assertTrue(gone, "the origin kept streaming to a stream the client reset")
        finally:
            for g in self.sse.gates:
                g.set()
            p.kill()
            p.communicate(timeout=30)

    def test_an_h2_client_that_stops_reading_a_100_mib_answer_keeps_the_proxy_small(self):
        with harness.stalled_node_h2_client(
                NODE, CLIENT, TESTS_DIR, PROXY="127.0.0.1:%d" % self.proxy.proxy_port,
                CA=self.proxy_ca, TARGET="https://files.example.test",
                URL_PATH="/bytes?n=%d&seed=5" % (100 << 20)) as line:
            self.assertIn("stalled", line)
            self.assertProxyStaysSmall(self.proxy, "a stalled h2 client, 100 MiB answer")
        self.assertProxyAlive(self.proxy)

    def test_the_proxy_keeps_serving_after_h2_clients(self):
        r = curl(["--cacert", self.proxy_ca, "--http1.1",
                  "https://files.example.test/bytes?n=10&seed=1"],
                 proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.status, 200, r.describe())
        self.assertProxyAlive(self.proxy)


if __name__ == "__main__":
    unittest.main()
