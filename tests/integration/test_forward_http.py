"""Acceptance 2 (issue 2): plain HTTP through the forward listener with `curl --proxy`.

Bodies of 1 MiB both ways (Content-Length and chunked) arrive byte-identical; one client
connection's 100 sequential requests use one upstream connection; hop-by-hop headers are removed
and Via added; upstream failures answer 502 / 504 with a JSON body.
"""

import hashlib
import json
import os
import shutil
import tempfile
import unittest

import harness
from harness import Proxy, ProxyTestCase, curl
from origins import BlackholeListener, HttpOrigin, content, content_sha256

MIB = 1 << 20


class ForwardHttpTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy()
        cfg = cls.proxy.default_config()
        cfg["upstream"]["connect_timeout_ms"] = 1000
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)
        cls.tmp = tempfile.mkdtemp(prefix="aiw-fwd-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    def setUp(self):
        # A fresh origin per test: its counters then only see this test's traffic.
        self.origin = HttpOrigin()
        self.addCleanup(self.origin.close)

    def via_proxy(self, args, timeout=60):
        return curl(args, timeout=timeout, proxy_port=self.proxy.proxy_port)

    def body_file(self, n, seed):
        path = os.path.join(self.tmp, "body-%d-%d.bin" % (n, seed))
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(content(n, seed))
        return path

    # -- bodies -------------------------------------------------------------------------------
    def test_get_of_a_1mib_content_length_body_arrives_byte_identical(self):
        r = self.via_proxy([self.origin.url("/bytes?n=%d&seed=11" % MIB)])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(len(r.body), MIB)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), content_sha256(MIB, 11))
        self.assertEqual(self.origin.request_count, 1)

    def test_get_of_a_1mib_chunked_body_arrives_byte_identical(self):
        r = self.via_proxy([self.origin.url("/chunked?n=%d&seed=12" % MIB)])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(len(r.body), MIB)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), content_sha256(MIB, 12))

    def test_post_of_1mib_with_content_length_reaches_the_origin_byte_identical(self):
        path = self.body_file(MIB, 13)
        r = self.via_proxy(["--data-binary", "@" + path,
                            "-H", "Content-Type: application/octet-stream",
                            self.origin.url("/echo")])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("X-Body-Length"), str(MIB), r.describe())
        self.assertEqual(r.header("X-Body-Sha256"), content_sha256(MIB, 13))
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), content_sha256(MIB, 13))

    def test_post_of_1mib_chunked_reaches_the_origin_byte_identical(self):
        path = self.body_file(MIB, 14)
        r = self.via_proxy(["--data-binary", "@" + path,
                            "-H", "Transfer-Encoding: chunked",
                            "-H", "Content-Type: application/octet-stream",
                            self.origin.url("/echo")])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("X-Body-Length"), str(MIB), r.describe())
        self.assertEqual(r.header("X-Body-Sha256"), content_sha256(MIB, 14))
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), content_sha256(MIB, 14))

    # -- connection reuse ---------------------------------------------------------------------
    def test_100_sequential_requests_on_one_client_connection_use_one_upstream_connection(self):
        args = ["-w", "%{http_code} %{num_connects} %{size_download}\\n"]
        for i in range(100):
            args += [self.origin.url("/bytes?n=%d&seed=%d" % (200 + i, i)), "-o", "/dev/null"]
        r = self.via_proxy(args, timeout=120)
        self.assertEqual(r.rc, 0, r.describe())
        lines = r.body.decode().split()
        rows = [lines[i:i + 3] for i in range(0, len(lines), 3)]
        self.assertEqual(len(rows), 100, r.body[:500])
        self.assertEqual([row[0] for row in rows], ["200"] * 100)
        self.assertEqual([int(row[2]) for row in rows], [200 + i for i in range(100)])
        # The client kept its one connection to the proxy (keep-alive downstream) ...
        self.assertEqual(sum(int(row[1]) for row in rows), 1,
                         "curl had to open more than one connection to the proxy")
        # ... and the proxy used one upstream connection for all of them.
        self.assertEqual(self.origin.request_count, 100)
        self.assertEqual(self.origin.connections, 1)

    # -- headers ------------------------------------------------------------------------------
    def test_hop_by_hop_request_headers_are_removed_and_via_is_added(self):
        r = self.via_proxy([
            "-H", "Connection: keep-alive, X-Custom-Hop",
            "-H", "X-Custom-Hop: must-not-pass",
            "-H", "Keep-Alive: timeout=5",
            "-H", "TE: trailers",
            "-H", "Upgrade: h2c",
            "-H", "Proxy-Authorization: Basic dXNlcjpwYXNz",
            "-H", "Proxy-Connection: keep-alive",
            "-H", "X-End-To-End: kept",
            "-H", "Via: 1.0 fred",
            self.origin.url("/headers")])
        self.assertEqual(r.status, 200, r.describe())
        got = r.json()["headers"]
        names = [k.lower() for k, _ in got]
        for hop in ("x-custom-hop", "keep-alive", "te", "upgrade", "proxy-authorization",
                    "proxy-connection"):
            self.assertNotIn(hop, names, "hop-by-hop %r reached the origin: %r" % (hop, got))
        for k, v in got:
            if k.lower() == "connection":
                self.assertNotIn("x-custom-hop", v.lower(), got)
        self.assertIn(["X-End-To-End", "kept"], [[k, v] for k, v in got])
        via = ", ".join(v for k, v in got if k.lower() == "via")
        self.assertIn("1.0 fred", via, got)
        self.assertRegex(via, r"1\.0 fred\s*,\s*1\.1 aiwarden\b", got)

    def test_via_is_added_to_a_request_that_had_none(self):
        r = self.via_proxy([self.origin.url("/headers")])
        self.assertEqual(r.status, 200, r.describe())
        vias = [v for k, v in r.json()["headers"] if k.lower() == "via"]
        self.assertEqual(len(vias), 1, r.json())
        self.assertRegex(vias[0], r"^1\.1 aiwarden\b")

    def test_hop_by_hop_response_headers_are_removed_and_via_is_added(self):
        r = self.via_proxy([self.origin.url("/headers?resp_hop=1")])
        self.assertEqual(r.status, 200, r.describe())
        names = [k.lower() for k, _ in r.headers]
        self.assertNotIn("x-resp-hop", names, r.headers)
        self.assertNotIn("keep-alive", names, r.headers)
        self.assertEqual(r.header("X-Resp-End-To-End"), "kept", r.headers)
        for k, v in r.headers:
            if k.lower() == "connection":
                self.assertNotIn("x-resp-hop", v.lower(), r.headers)
        self.assertRegex(r.header("Via", ""), r"1\.1 aiwarden\b", r.headers)

    def test_the_origin_receives_origin_form_with_the_host_header(self):
        r = self.via_proxy([self.origin.url("/headers?a=1")])
        self.assertEqual(r.status, 200, r.describe())
        seen = r.json()
        self.assertEqual(seen["target"], "/headers?a=1")
        hosts = [v for k, v in seen["headers"] if k.lower() == "host"]
        self.assertEqual(hosts, [self.origin.authority])

    # -- upstream errors ----------------------------------------------------------------------
    def assertJsonError(self, r, status):
        self.assertEqual(r.status, status, r.describe())
        try:
            body = json.loads(r.body.decode("utf-8"))
        except ValueError:
            self.fail("error body is not JSON: %r" % r.body[:300])
        self.assertIsInstance(body.get("error"), str, body)
        self.assertTrue(body["error"], body)
        self.assertIsInstance(body.get("message"), str, body)
        return body

    def test_a_refused_upstream_connection_answers_502_with_a_json_error(self):
        closed = harness.free_port()  # nothing listens there
        r = self.via_proxy(["http://127.0.0.1:%d/x" % closed])
        self.assertJsonError(r, 502)

    def test_a_name_that_does_not_resolve_answers_502_with_a_json_error(self):
        # .invalid never resolves (RFC 6761).
        r = self.via_proxy(["http://nonexistent.invalid/x"], timeout=40)
        self.assertJsonError(r, 502)

    def test_an_upstream_connect_timeout_answers_504_with_a_json_error(self):
        # A loopback listener with a full accept queue drops new SYNs: connect() never finishes.
        with BlackholeListener() as hole:
            if not hole.ok:
                self.skipTest("could not fill a loopback accept queue on this kernel")
            r = self.via_proxy(["http://127.0.0.1:%d/x" % hole.port], timeout=30)
            self.assertJsonError(r, 504)

    def test_the_proxy_keeps_serving_after_upstream_errors(self):
        closed = harness.free_port()
        self.assertEqual(self.via_proxy(["http://127.0.0.1:%d/" % closed]).status, 502)
        r = self.via_proxy([self.origin.url("/bytes?n=1000&seed=2")])
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), content_sha256(1000, 2))
        self.assertProxyAlive(self.proxy)


class UpstreamPoolTest(ProxyTestCase):
    """With one worker, the pool of an origin is shared by successive client connections."""

    def test_successive_client_connections_reuse_the_pooled_upstream_connection(self):
        proxy = Proxy()
        proxy.write_config(proxy.default_config(workers=1))
        self.start_proxy(proxy)
        with HttpOrigin() as origin:
            for i in range(5):  # five separate curl processes, one client connection each
                r = curl([origin.url("/bytes?n=100&seed=%d" % i)], proxy_port=proxy.proxy_port)
                self.assertEqual(r.status, 200, r.describe())
                self.assertEqual(hashlib.sha256(r.body).hexdigest(), content_sha256(100, i))
            self.assertEqual(origin.request_count, 5)
            self.assertEqual(origin.connections, 1)


if __name__ == "__main__":
    unittest.main()
