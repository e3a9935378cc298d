"""HTTP/2 to the origin (issue 4, acceptance 1 and 2): an origin that speaks only h2 (Node's
node:http2, tests/node/h2_origin.mjs) behind the intercepting proxy and a sidecar route. The
proxy's upstream connections negotiate h2 and are shared by the exchanges: 100 concurrent
streams from one client use at most two upstream connections (counted by the origin), and
HTTP/1.1 clients reach the h2-only origin with their bodies intact.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import Proxy, ProxyTestCase, curl, http_request
from pki import make_pki

TESTS_DIR = os.path.normpath(os.path.join(harness.HERE, ".."))
ORIGIN = os.path.join(TESTS_DIR, "node", "h2_origin.mjs")
CLIENT = os.path.join(TESTS_DIR, "node", "h2_client.mjs")
NODE = shutil.which("node")
NODE_OK = os.path.join(TESTS_DIR, "..", "scripts", "node-ok.sh")
if NODE is None or subprocess.run([NODE_OK], capture_output=True).returncode != 0:
    SKIP = "node >= 20.18.1 is not installed (the h2-only origin of these tests is Node's)"
else:
    SKIP = None

HOST = "h2only.test"
MIB = 1 << 20


@unittest.skipIf(SKIP, SKIP)
class Http2UpstreamTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = make_pki(tempfile.mkdtemp(prefix="aiw-h2up-pki-"), names=(HOST,))
        cls.addClassCleanup(shutil.rmtree, cls.pki.directory, True)
        cls.origin = subprocess.Popen([NODE, ORIGIN], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, cwd=TESTS_DIR,
                                      env=harness.clean_env(CERT=cls.pki.leaf_pem,
                                                            KEY=cls.pki.leaf_key))
        cls.addClassCleanup(cls._stop_origin)
        line = cls.origin.stdout.readline()
        if not line:
            raise AssertionError("the h2 origin did not start: %s"
                                 % cls.origin.stderr.read().decode(errors="replace"))
        cls.origin_port = json.loads(line)["port"]
        cls.connections = 0
        cls.lock = threading.Lock()
        threading.Thread(target=cls._count_connections, daemon=True).start()

        cls.proxy = Proxy()
        cls.sidecar_port = harness.free_port()
        cfg = cls.proxy.default_config()
        cfg["listeners"].append({
            "name": "agent", "type": "sidecar", "address": "127.0.0.1:%d" % cls.sidecar_port,
            "routes": [{"prefix": "/h2/", "upstream": "https://%s/" % HOST}]})
        cfg["upstream"] = {"connect_timeout_ms": 2000, "request_timeout_ms": 1500,
                           "ca_file": cls.pki.ca_pem,
                           "resolve": {"%s:443" % HOST: "127.0.0.1:%d" % cls.origin_port}}
        cfg["filters"] = [
            {"filter": "tls_inspector"},
            {"filter": "domain_classifier", "config": {"ai_domains": [HOST], "default": "bypass"}},
            {"filter": "chatty_bypass"},
        ]
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)
        cls.proxy_ca = os.path.join(cls.proxy.state_dir, "ca", "ca.pem")

    @classmethod
    def _count_connections(cls):
        for line in cls.origin.stdout:
            try:
                if "connection" in json.loads(line):
                    with cls.lock:
                        cls.connections += 1
            except ValueError:
                pass

    @classmethod
    def _stop_origin(cls):
        cls.origin.terminate()
        try:
            cls.origin.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.origin.kill()
            cls.origin.wait(timeout=10)
        cls.origin.stdout.close()
        cls.origin.stderr.close()

    def origin_connections(self):
        with self.lock:
            return self.connections

    def run_node(self, **env):
        base = {"PROXY": "127.0.0.1:%d" % self.proxy.proxy_port, "CA": self.proxy_ca,
                "TARGET": "https://%s" % HOST}
        base.update(env)
        p = subprocess.run([NODE, CLIENT], capture_output=True, env=harness.clean_env(**base),
                           cwd=TESTS_DIR, timeout=120)
        self.assertEqual(p.returncode, 0, "node failed:\n%s\n%s" % (p.stdout, p.stderr))
        return json.loads(p.stdout.decode().strip().splitlines()[-1])

    def test_100_concurrent_streams_share_at_most_two_upstream_h2_connections(self):
        before = self.origin_connections()
        out = self.run_node(MODE="concurrent", COUNT="100", URL_PATH="/hello")
        self.assertEqual(out["alpn"], "h2")
        self.assertEqual(out["statuses"], [200] * 100)
        used = self.origin_connections() - before
        print("  100 streams over %d upstream connection(s)" % used)
        self.assertGreaterEqual(used, 1)
        self.assertLessEqual(used, 2, "100 streams opened %d upstream connections" % used)
        metrics = self.proxy.metrics()
        self.assertGreaterEqual(metrics["upstream"]["reused"], 98)

    def test_curl_http2_100_parallel_transfers_share_the_upstream_connections(self):
        before = self.origin_connections()
        config = os.path.join(self.pki.directory, "urls.cfg")
        with open(config, "w") as f:
            for i in range(100):
                f.write('url = "https://%s/bytes?n=1000&seed=%d"\noutput = "/dev/null"\n'
                        % (HOST, i))
        r = subprocess.run(["curl", "-s", "--http2", "-Z", "--parallel-max", "100",
                            "--proxy", "http://127.0.0.1:%d" % self.proxy.proxy_port,
                            "--cacert", self.proxy_ca, "-K", config,
                            "-w", "%{http_code} %{http_version}\n"],
                           capture_output=True, timeout=120, env=harness.clean_env())
        lines = r.stdout.decode().split()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(lines.count("200"), 100, r.stdout)
        used = self.origin_connections() - before
        print("  curl: 100 parallel transfers over %d upstream connection(s)" % used)
        self.assertLessEqual(used, 2)

    def test_http1_client_to_h2_only_origin_moves_1_mib_each_way(self):
        r = curl(["--http1.1", "--cacert", self.proxy_ca,
                  "https://%s/bytes?n=%d&seed=3" % (HOST, MIB)], proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(len(r.body), MIB)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), r.header("x-body-sha256"))
        body = os.urandom(MIB)
        path = os.path.join(self.pki.directory, "upload.bin")
        with open(path, "wb") as f:
            f.write(body)
        r = curl(["--http1.1", "--cacert", self.proxy_ca, "--data-binary", "@" + path,
                  "-H", "Content-Type: application/octet-stream",
                  "https://%s/echo" % HOST], proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("x-body-length"), str(MIB))
        self.assertEqual(r.body, body)

    def test_h2_client_to_h2_origin_upload_arrives_byte_identical(self):
        up = self.run_node(MODE="transfer", URL_PATH="/echo", SIZE=str(MIB))
        self.assertEqual(up["status"], 200)
        self.assertEqual(up["length"], MIB)
        self.assertEqual(up["sha256"], up["sent_sha256"])

    def test_a_sidecar_route_reaches_an_h2_only_origin(self):
        r = http_request(self.sidecar_port, "GET", "/h2/hello",
                         headers={"X-Proxy-Token": harness.TOKEN})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, b"hello over h2\n")

    # -- an h2 origin that fails, falls silent, or meets a client that stops reading -----------
    def test_an_origin_that_resets_its_stream_mid_answer_cuts_the_clients_answer(self):
        r = curl(["--http1.1", "--cacert", self.proxy_ca, "https://%s/reset-midway" % HOST],
                 proxy_port=self.proxy.proxy_port)
        # The head and the first 1000 bytes went out; then the answer must not look whole.
        self.assertEqual(r.status, 200, r.describe())
        self.assertNotEqual(r.rc, 0, "curl took a cut answer for a whole one: " + r.describe())
        self.assertLessEqual(len(r.body), 1000)
        self.assertProxyAlive(self.proxy)

    def test_a_stream_the_origin_resets_before_answering_is_a_502_naming_the_reset(self):
        r = curl(["--http1.1", "--cacert", self.proxy_ca, "https://%s/refuse" % HOST],
                 proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.status, 502, r.describe())
        self.assertEqual(json.loads(r.body)["error"], "upstream_reset", r.body)

    def test_a_silent_h2_origin_is_a_504_after_request_timeout_ms(self):
        start = time.monotonic()
        r = curl(["--http1.1", "--cacert", self.proxy_ca, "https://%s/silent" % HOST],
                 proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.status, 504, r.describe())
        self.assertEqual(json.loads(r.body)["error"], "upstream_timeout", r.body)
        self.assertGreaterEqual(time.monotonic() - start, 1.4)  # request_timeout_ms: 1500

    def test_an_h2_origin_that_speaks_within_every_interval_is_not_cut(self):
        # request_timeout_ms (1500) counts the origin's silence, not the whole answer: 5 chunks
        # 700 ms apart take 3.5 s, no gap reaches the timeout.
        start = time.monotonic()
        r = curl(["--http1.1", "--cacert", self.proxy_ca, "https://%s/drip?n=5&gap=700" % HOST],
                 proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.body, b"".join(b"chunk %d\n" % k for k in range(1, 6)))
        self.assertGreaterEqual(time.monotonic() - start, 3.0)

    def test_an_h2_origin_silent_after_its_head_is_cut_after_request_timeout_ms(self):
        # The gap after the head (2.5 s) is longer than the timeout: the answer is cut, never
        # passed off as whole.
        r = curl(["--http1.1", "--cacert", self.proxy_ca, "https://%s/drip?n=2&gap=2500" % HOST],
                 proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.status, 200, r.describe())
        self.assertNotEqual(r.rc, 0, "curl took a cut answer for a whole one: " + r.describe())
        self.assertNotIn(b"chunk 2", r.body)

    def test_an_http1_client_reading_slowly_from_an_h2_origin_keeps_the_proxy_small(self):
        p = subprocess.Popen(["curl", "-s", "--http1.1", "--limit-rate", "20K", "-o", "/dev/null",
                              "--proxy", "http://127.0.0.1:%d" % self.proxy.proxy_port,
                              "--cacert", self.proxy_ca, "https://%s/zeros?n=%d" % (HOST, 100 * MIB)],
                             env=harness.clean_env())
        try:
            self.assertProxyStaysSmall(self.proxy,
                                       "an HTTP/1.1 client at 20 KiB/s, 100 MiB h2 answer")
        finally:
            p.kill()
            p.wait(timeout=30)
        self.assertProxyAlive(self.proxy)

    def test_an_h2_client_that_stops_reading_an_h2_origins_answer_keeps_the_proxy_small(self):
        with harness.stalled_node_h2_client(
                NODE, CLIENT, TESTS_DIR, PROXY="127.0.0.1:%d" % self.proxy.proxy_port,
                CA=self.proxy_ca, TARGET="https://%s" % HOST,
                URL_PATH="/zeros?n=%d" % (100 * MIB)) as line:
            self.assertIn("stalled", line)
            self.assertProxyStaysSmall(self.proxy, "a stalled h2 client, 100 MiB h2 answer")
        self.assertProxyAlive(self.proxy)

if __name__ == "__main__":
    unittest.main()
