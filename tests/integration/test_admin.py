"""Acceptance 6 (issue 2): the admin skeleton.

/ready needs no token; every other route needs X-Proxy-Token (401 without, 401 wrong, 200 right);
metrics carry the totals; /config_dump masks the token; the token comes from the configuration,
from PROXY_TOKEN, or is generated once into STATE_DIR/admin-token (mode 0600).
"""

import os
import stat
import tempfile
import shutil
import unittest

import harness
from harness import Proxy, ProxyTestCase, curl, find_key, poll
from origins import HttpOrigin

TOKEN = "adm1n-t0ken-5f0e2c"


class AdminTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.proxy = cls.start_class_proxy(Proxy(token=TOKEN))

    def test_ready_answers_200_without_a_token(self):
        r = self.proxy.admin("GET", "/ready", token=None)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json().get("status"), "ready")

    def test_metrics_without_a_token_is_401(self):
        r = self.proxy.admin("GET", "/proxy/v1/metrics", token=None)
        self.assertEqual(r.status, 401, r)
        self.assertNotIn(b"calls", r.body)

    def test_metrics_with_a_wrong_token_is_401(self):
        for wrong in ("wrong", TOKEN[:-1], TOKEN + "x", TOKEN.upper(), ""):
            with self.subTest(token=wrong):
                r = self.proxy.admin("GET", "/proxy/v1/metrics", token=wrong)
                self.assertEqual(r.status, 401, r)

    def test_metrics_with_the_right_token_is_200_with_the_totals(self):
        r = self.proxy.admin("GET", "/proxy/v1/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertIn("json", (r.header("Content-Type") or "").lower())
        m = r.json()
        for key in ("calls", "errors", "bypassed"):
            self.assertIn(key, m)
            self.assertIsInstance(m[key], (int, float), key)
        lat = m.get("latency_ms")
        self.assertIsInstance(lat, dict, m)
        for key in ("total", "avg", "p50", "p99"):
            self.assertIn(key, lat)
            self.assertIsInstance(lat[key], (int, float), key)

    def test_calls_increase_after_proxied_requests(self):
        before = self.proxy.metrics()["calls"]
        with HttpOrigin() as origin:
            for i in range(3):
                r = curl([origin.url("/bytes?n=100&seed=%d" % i)], proxy_port=self.proxy.proxy_port)
                self.assertEqual(r.status, 200, r.describe())
        self.assertTrue(poll(lambda: self.proxy.metrics()["calls"] >= before + 3, timeout=5),
                        "calls went from %r to %r" % (before, self.proxy.metrics()["calls"]))

    def test_errors_increase_after_an_upstream_failure(self):
        before = self.proxy.metrics()["errors"]
        r = curl(["http://127.0.0.1:%d/" % harness.free_port()], proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.status, 502, r.describe())
        self.assertTrue(poll(lambda: self.proxy.metrics()["errors"] >= before + 1, timeout=5),
                        "errors stayed at %r" % before)

    def test_config_dump_needs_the_token(self):
        self.assertEqual(self.proxy.admin("GET", "/config_dump", token=None).status, 401)
        self.assertEqual(self.proxy.admin("GET", "/config_dump", token="nope").status, 401)

    def test_config_dump_shows_the_effective_configuration_with_the_token_masked(self):
        r = self.proxy.admin("GET", "/config_dump")
        self.assertEqual(r.status, 200, r)
        dump = r.json()
        self.assertNotIn(TOKEN.encode(), r.body)
        self.assertEqual(find_key(dump, "drain_timeout_ms"), 5000)
        self.assertIn("127.0.0.1:%d" % self.proxy.proxy_port, r.body.decode())


class AdminTokenSourceTest(ProxyTestCase):

    def test_the_token_comes_from_proxy_token_when_the_config_says_so(self):
        secret = "from-the-env-8d1b7a"
        proxy = Proxy(token=secret, env={"PROXY_TOKEN": secret})
        proxy.write_config(proxy.default_config(token="${PROXY_TOKEN}"))
        self.start_proxy(proxy)
        self.assertEqual(proxy.admin("GET", "/proxy/v1/metrics").status, 200)
        self.assertEqual(proxy.admin("GET", "/proxy/v1/metrics", token="${PROXY_TOKEN}").status,
                         401)
        self.assertEqual(proxy.admin("GET", "/proxy/v1/metrics", token=None).status, 401)
        r = proxy.admin("GET", "/config_dump")
        self.assertEqual(r.status, 200)
        self.assertNotIn(secret.encode(), r.body)

    def assertGeneratedToken(self, proxy, state_dir):
        path = os.path.join(state_dir, "admin-token")
        self.assertTrue(os.path.isfile(path), "no %s\n%s" % (path, proxy.log_tail()))
        mode = stat.S_IMODE(os.stat(path).st_mode)
        self.assertEqual(mode, 0o600, "admin-token mode is %o" % mode)
        with open(path) as f:
            token = f.read().strip()
        self.assertGreaterEqual(len(token), 16, "a generated token this short is guessable")
        self.assertEqual(proxy.admin("GET", "/proxy/v1/metrics", token=token).status, 200)
        self.assertEqual(proxy.admin("GET", "/proxy/v1/metrics", token=token + "x").status, 401)
        self.assertEqual(proxy.admin("GET", "/proxy/v1/metrics", token=None).status, 401)
        self.assertIn(path, proxy.log(), "the token file's path is not logged")
        return token

    def test_with_no_token_configured_one_is_generated_into_state_dir_with_mode_0600(self):
        proxy = Proxy(token=None)
        state = os.path.join(proxy.workdir, "fresh", "state")  # does not exist yet
        proxy.write_config(proxy.default_config(token=None, state_dir=state))
        self.start_proxy(proxy)
        self.assertGeneratedToken(proxy, state)

    def test_with_proxy_token_unset_the_default_placeholder_also_generates_a_token(self):
        proxy = Proxy(token=None)
        proxy.write_config(proxy.default_config(token="${PROXY_TOKEN}"))
        self.start_proxy(proxy)
        self.assertGeneratedToken(proxy, proxy.state_dir)

    def test_state_dir_from_the_command_line_holds_the_generated_token(self):
        other = tempfile.mkdtemp(prefix="aiw-state-")
        self.addCleanup(shutil.rmtree, other, True)
        proxy = Proxy(token=None, args=["--state-dir", other])
        proxy.write_config(proxy.default_config(token=None, state_dir=None))
        self.start_proxy(proxy)
        self.assertGeneratedToken(proxy, other)

    def test_the_generated_token_is_kept_across_restarts(self):
        proxy = Proxy(token=None)
        proxy.write_config(proxy.default_config(token=None))
        self.start_proxy(proxy)
        first = self.assertGeneratedToken(proxy, proxy.state_dir)
        self.assertEqual(proxy.stop(), 0, proxy.log_tail())
        proxy.start()
        second = self.assertGeneratedToken(proxy, proxy.state_dir)
        self.assertEqual(first, second)


if __name__ == "__main__":
    unittest.main()
