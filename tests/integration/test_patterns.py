"""Proxy Patterns through the admin API (issue 3, acceptance 3 and 7): GET / PUT
/proxy/v1/patterns change what is intercepted for the next connection without a restart, are
validated whole, persist in STATE_DIR; GET /proxy.pac; and the leaf cache mints one leaf per
name however many connections ask for it.
"""

import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading

import harness
from harness import Proxy, ProxyTestCase, curl
from origins import HttpOrigin
from pki import LEAF_IPS, LEAF_NAMES, make_pki

INTERNAL = "api.internal.example.com"
LEAF_NAMES_COUNT = 50
CONNECTIONS = 1000
THREADS = 4


def leaf_name(i: int) -> str:
    return "name%d.leaf.test" % i


class PatternsTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        pki_dir = tempfile.mkdtemp(prefix="aiw-patterns-pki-")
        cls.addClassCleanup(shutil.rmtree, pki_dir, True)
        # The origin's own certificate also covers INTERNAL: through a blind tunnel the client
        # verifies it with the test CA; intercepted, the proxy does.
        cls.pki = make_pki(pki_dir, names=LEAF_NAMES + (INTERNAL,), ips=LEAF_IPS)
        cls.origin = HttpOrigin(cls.pki.server_context())
        cls.addClassCleanup(cls.origin.close)
        port = cls.origin.port
        cls.proxy = Proxy()
        cfg = cls.proxy.default_config()
        resolve = {"%s:%d" % (INTERNAL, port): "127.0.0.1:%d" % port,
                   "origin.test:%d" % port: "127.0.0.1:%d" % port}
        for i in range(LEAF_NAMES_COUNT):
            resolve["%s:%d" % (leaf_name(i), port)] = "127.0.0.1:%d" % port
        cfg["upstream"] = {"ca_file": cls.pki.ca_pem, "resolve": resolve}
        cls.configured = {
            "patterns": [{"pattern": ".internal.example.com", "proxy": False}],
            "ai_domains": [INTERNAL, "origin.test", ".leaf.test"],
            "chatty_domains": [".sentry.io"],
            "default": "bypass"}
        cfg["filters"] = [
            {"filter": "tls_inspector"},
            {"filter": "domain_classifier", "config": cls.configured},
            {"filter": "chatty_bypass"},
        ]
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)
        cls.proxy_ca = os.path.join(cls.proxy.state_dir, "ca", "ca.pem")
        cls.stored = os.path.join(cls.proxy.state_dir, "patterns.json")

    def setUp(self):
        # Every test starts from the configured lists, with nothing stored.
        if os.path.exists(self.stored):
            os.unlink(self.stored)
        r = self.put(self.configured)
        self.assertEqual(r.status, 200, r.body)
        os.unlink(self.stored)

    def put(self, body, raw=None):
        data = raw if raw is not None else json.dumps(body).encode()
        return self.proxy.admin("PUT", "/proxy/v1/patterns", body=data)

    def get_patterns(self):
        r = self.proxy.admin("GET", "/proxy/v1/patterns")
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def fetch_internal(self, ca, extra=()):
        return curl(["--cacert", ca] + list(extra) +
                    ["https://%s:%d/bytes?n=10" % (INTERNAL, self.origin.port)],
                    proxy_port=self.proxy.proxy_port)

    def test_a_proxy_false_pattern_bypasses_then_put_intercepts_the_next_connection(self):
        self.assertEqual(self.get_patterns(), self.configured)
        m0 = self.proxy.metrics()
        # Listed in ai_domains, but the Proxy Pattern wins: a blind tunnel, so curl verifies the
        # origin's own certificate with the test CA.
        r = self.fetch_internal(self.pki.ca_pem)
        self.assertEqual((r.rc, r.status), (0, 200), r.describe())
        m1 = self.proxy.metrics()
        self.assertEqual(m1["bypassed"], m0["bypassed"] + 1)
        self.assertEqual(m1["intercepted"], m0["intercepted"])

        updated = dict(self.configured, patterns=[{"pattern": ".internal.example.com",
                                                    "proxy": True}])
        r = self.put({k: v for k, v in updated.items() if k != "default"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), updated)
        self.assertEqual(self.get_patterns(), updated)

        # The next connection is intercepted: only the aiwarden CA verifies what curl sees now.
        r = self.fetch_internal(self.proxy_ca, extra=["-w", "%{certs}"])
        self.assertEqual((r.rc, r.status), (0, 200), r.describe())
        self.assertIn("aiwarden interception CA", r.body.decode(errors="replace"))
        m2 = self.proxy.metrics()
        self.assertEqual(m2["intercepted"], m1["intercepted"] + 1)
        self.assertEqual(m2["bypassed"], m1["bypassed"])
        self.assertNotEqual(self.fetch_internal(self.pki.ca_pem).rc, 0)

        # Stored (mode 0600) and applied again after a restart.
        self.assertEqual(os.stat(self.stored).st_mode & 0o777, 0o600)
        with open(self.stored) as f:
            self.assertEqual(json.load(f), updated)
        self.proxy.stop()
        self.proxy.start()
        self.assertEqual(self.get_patterns(), updated)
        r = self.fetch_internal(self.proxy_ca)
        self.assertEqual((r.rc, r.status), (0, 200), r.describe())
        self.assertEqual(self.proxy.metrics()["intercepted"], 1)
        # ... and on a reload.
        r = self.proxy.admin("POST", "/proxy/v1/reload")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.get_patterns(), updated)

    def test_a_bad_put_lists_every_error_and_changes_nothing(self):
        r = self.put({"patterns": [{"pattern": "bad..name", "proxy": "yes"},
                                   {"pattern": "*.ok.example", "proxy": True}],
                      "ai_domains": ["a*b.example", 7], "chatty_domains": [],
                      "default": "maybe"})
        self.assertEqual(r.status, 400, r.body)
        body = r.json()
        self.assertEqual(body["error"], "invalid_patterns")
        errors = "\n".join(body["errors"])
        for expected in ("patterns[0].proxy", "ai_domains[0]", "ai_domains[1]", "default"):
            self.assertIn(expected, errors)
        self.assertEqual(len(body["errors"]), 4, errors)
        bad = self.put(None, raw=b'{"patterns": [')
        self.assertEqual(bad.status, 400)
        self.assertIn("offset", bad.json()["errors"][0])
        self.assertEqual(self.get_patterns(), self.configured)
        self.assertFalse(os.path.exists(self.stored))
        self.assertEqual(self.proxy.admin("PUT", "/proxy/v1/patterns", token=None,
                                          body=b"{}").status, 401)

    def test_a_corrupt_stored_file_is_reported_and_the_configured_lists_kept(self):
        with open(self.stored, "w") as f:
            f.write('{"patterns": [')
        self.proxy.stop()
        self.proxy.start()
        self.assertTrue(self.proxy.wait_log(r"invalid stored patterns.*patterns\.json"),
                        self.proxy.log_tail())
        self.assertEqual(self.get_patterns(), self.configured)

    def test_proxy_pac_needs_no_token_and_follows_the_patterns(self):
        r = self.proxy.admin("GET", "/proxy.pac", token=None)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "application/x-ns-proxy-autoconfig")
        js = r.body.decode()
        proxy = "PROXY 127.0.0.1:%d" % self.proxy.proxy_port
        self.assertIn(proxy, js)
        node = shutil.which("node")
        if node is None:
            self.skipTest("node is not installed: the script is not evaluated")
        # The PAC helpers as browsers define them (shExpMatch: shell glob over the whole name).
        harness_js = r"""
            function dnsDomainIs(h, d) { return h.length >= d.length &&
                h.substring(h.length - d.length) == d; }
            function shExpMatch(s, p) { return new RegExp("^" + p.replace(/[.+^${}()|[\]\\]/g,
                "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$").test(s); }
        """
        hosts = [INTERNAL, "x.internal.example.com", "origin.test", "ORIGIN.test.",
                 "a.b.leaf.test", "o.sentry.io", "elsewhere.example"]
        script = js + harness_js + "console.log(JSON.stringify(%s.map(function (h) {" \
            " return FindProxyForURL('https://' + h + '/', h); })));" % json.dumps(hosts)
        out = subprocess.run([node, "-e", script], capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout), ["DIRECT", "DIRECT", proxy, proxy, proxy,
                                                  "DIRECT", "DIRECT"])

    def test_1000_intercepted_connections_over_50_names_mint_50_leaves(self):
        before = self.proxy.metrics()["tls"]
        ctx = ssl.create_default_context(cafile=self.proxy_ca)
        failures = []
        lock = threading.Lock()

        def one(i):
            name = leaf_name(i % LEAF_NAMES_COUNT)
            s = harness.connect(self.proxy.proxy_port)
            try:
                s.sendall(("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                           % (name, self.origin.port, name, self.origin.port)).encode())
                head = b""
                while b"\r\n\r\n" not in head:
                    data = s.recv(4096)
                    if not data:
                        raise ConnectionError("closed before the CONNECT response")
                    head += data
                if not head.startswith(b"HTTP/1.1 200"):
                    raise ConnectionError("CONNECT answered %r" % head[:40])
                with ctx.wrap_socket(s, server_hostname=name) as tls:
                    tls.getpeercert()
            finally:
                s.close()

        def worker(k):
            for i in range(k, CONNECTIONS, THREADS):
                try:
                    one(i)
                except (OSError, ssl.SSLError) as e:
                    with lock:
                        failures.append("%d: %r" % (i, e))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        self.assertEqual(failures[:5], [])
        after = self.proxy.metrics()["tls"]
        self.assertEqual(after["leaves_minted"] - before["leaves_minted"], LEAF_NAMES_COUNT)
        # Every other connection was served a leaf already minted (cached, or shared with a
        # concurrent first connection for the same name).
        served = sum(after[k] - before[k] for k in ("leaf_cache_hits", "leaf_cache_coalesced"))
        self.assertEqual(served, CONNECTIONS - LEAF_NAMES_COUNT)
        prom = self.proxy.admin("GET", "/metrics").body.decode()
        self.assertIn("aiwarden_tls_leaves_minted_total %d" % after["leaves_minted"], prom)


if __name__ == "__main__":
    import unittest
    unittest.main()
