"""A reload applies `upstream.ca_file` to interception: origins are verified against the file
of the running configuration, not the one at start-up; an unusable file is refused whole.
"""

import os
import signal
import tempfile

from harness import Proxy, ProxyTestCase, curl
from origins import HttpOrigin
from pki import make_pki, shared_pki


class ReloadUpstreamCaTest(ProxyTestCase):

    def setUp(self):
        self.pki = shared_pki()
        self.other_pki = make_pki(tempfile.mkdtemp(prefix="aiw-other-ca-"))
        self.origin = HttpOrigin(self.pki.server_context())
        self.addCleanup(self.origin.close)
        self.proxy = Proxy()
        self.addCleanup(self.proxy.cleanup)
        self.config = self.proxy.default_config()
        self.config["upstream"] = {
            # Not the CA that issued the origin's certificate: verification must fail.
            "ca_file": self.other_pki.ca_pem,
            "resolve": {"origin.test:%d" % self.origin.port: "127.0.0.1:%d" % self.origin.port},
        }
        self.config["filters"] = [
            {"filter": "tls_inspector"},
            {"filter": "domain_classifier", "config": {"ai_domains": ["origin.test"]}},
            {"filter": "chatty_bypass"},
        ]
        self.proxy.write_config(self.config)
        self.proxy.start()

    def fetch(self):
        ca = os.path.join(self.proxy.state_dir, "ca", "ca.pem")
        return curl(["--cacert", ca, "https://origin.test:%d/bytes?n=10" % self.origin.port],
                    proxy_port=self.proxy.proxy_port)

    def reload_and_wait(self, expect_log):
        self.proxy.send_signal(signal.SIGHUP)
        self.assertTrue(self.proxy.wait_log(expect_log), self.proxy.log_tail())

    def test_a_reload_with_the_right_ca_file_makes_the_origin_verify(self):
        r = self.fetch()
        self.assertEqual(r.status, 502, r.describe())
        self.assertEqual(r.json()["error"], "tls_verify_failed")
        self.config["upstream"]["ca_file"] = self.pki.ca_pem
        self.proxy.write_config(self.config)
        self.reload_and_wait(r"configuration reloaded")
        r = self.fetch()
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(len(r.body), 10)

    def test_a_reload_naming_a_missing_ca_file_is_refused_and_the_old_one_stays(self):
        self.config["upstream"]["ca_file"] = "/nonexistent/ca.pem"
        self.proxy.write_config(self.config)
        self.reload_and_wait(r"reload failed")
        self.assertTrue(self.proxy.wait_log(r"upstream\.ca_file"), self.proxy.log_tail())
        r = self.fetch()  # still the start-up file: still refused the same way
        self.assertEqual(r.status, 502, r.describe())
        self.assertEqual(r.json()["error"], "tls_verify_failed")


if __name__ == "__main__":
    import unittest
    unittest.main()
