"""TLS interception (issue 3): a CONNECT to a domain the classifier marks for interception is
decrypted with a leaf minted by the local CA, its requests go to the real origin over a new TLS
connection that is always verified, and everything else stays a blind tunnel.
"""

import json
import os
import subprocess
import tempfile
import urllib.parse

import harness
from harness import Proxy, ProxyTestCase, curl
from origins import HttpOrigin
from pki import make_pki, shared_pki


class InterceptionTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = shared_pki()
        cls.origin = HttpOrigin(cls.pki.server_context())
        cls.addClassCleanup(cls.origin.close)
        # An origin whose certificate no configured CA vouches for.
        cls.rogue_pki = make_pki(tempfile.mkdtemp(prefix="aiw-rogue-pki-"))
        cls.rogue = HttpOrigin(cls.rogue_pki.server_context())
        cls.addClassCleanup(cls.rogue.close)
        # "api.openai.com", served locally by an origin whose certificate the test CA issued.
        cls.openai_pki = make_pki(tempfile.mkdtemp(prefix="aiw-openai-pki-"),
                                  names=("api.openai.com",))
        cls.openai = HttpOrigin(cls.openai_pki.server_context())
        cls.addClassCleanup(cls.openai.close)
        port, rogue, openai = cls.origin.port, cls.rogue.port, cls.openai.port
        cls.proxy = Proxy()
        cfg = cls.proxy.default_config()
        bundle = os.path.join(cls.proxy.workdir, "origin-cas.pem")
        with open(bundle, "w") as out:
            for ca in (cls.pki.ca_pem, cls.openai_pki.ca_pem):
                with open(ca) as f:
                    out.write(f.read())
        cfg["upstream"] = {
            "ca_file": bundle,
            "resolve": {
                "origin.test:%d" % port: "127.0.0.1:%d" % port,
                "wrongname.test:%d" % port: "127.0.0.1:%d" % port,
                "rogue.test:%d" % rogue: "127.0.0.1:%d" % rogue,
                "localhost:%d" % port: "127.0.0.1:%d" % port,
                "api.openai.com:%d" % openai: "127.0.0.1:%d" % openai,
            },
        }
        cfg["filters"] = [
            {"filter": "tls_inspector"},
            {"filter": "domain_classifier", "config": {
                "ai_domains": ["api.openai.com", "origin.test", "wrongname.test", "rogue.test"],
                "chatty_domains": ["localhost"],
                "default": "bypass"}},
            {"filter": "chatty_bypass"},
        ]
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)
        cls.proxy_ca = os.path.join(cls.proxy.state_dir, "ca", "ca.pem")

    def fetch(self, host, port, path, ca=None, extra=()):
        return curl(["--cacert", ca or self.proxy_ca] + list(extra) +
                    ["https://%s:%d%s" % (host, port, path)], proxy_port=self.proxy.proxy_port)

    def test_api_openai_com_is_intercepted_with_a_leaf_from_the_local_ca(self):
        # Acceptance 1: the answer is the origin's, the certificate curl saw was issued by the
        # aiwarden CA for api.openai.com, and the exchange counts as intercepted.
        before = self.proxy.metrics()["intercepted"]
        r = self.fetch("api.openai.com", self.openai.port, "/v1/models",
                       extra=["-w", "\n%{certs}"])
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.status, 200, r.describe())
        body, _, certs = r.body.decode(errors="replace").partition("\n")
        self.assertEqual(json.loads(body)["data"][0]["id"], "gpt-4o")
        self.assertRegex(certs, r"Subject:.*CN ?= ?api\.openai\.com")
        self.assertRegex(certs, r"Issuer:.*aiwarden interception CA")
        self.assertEqual(self.proxy.metrics()["intercepted"], before + 1)

    def test_an_intercepted_request_reaches_the_origin_and_returns_intact(self):
        before = self.proxy.metrics().get("intercepted", 0)
        r = self.fetch("origin.test", self.origin.port, "/bytes?n=300000&seed=4")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.status, 200, r.describe())
        from origins import content
        self.assertEqual(r.body, content(300000, 4))
        self.assertGreater(self.proxy.metrics()["intercepted"], before)

    def test_the_client_sees_a_leaf_for_the_host_signed_by_the_local_ca(self):
        r = self.fetch("origin.test", self.origin.port, "/bytes?n=10",
                       extra=["-w", "%{certs}", "-o", "/dev/null"])
        self.assertEqual(r.rc, 0, r.describe())
        certs = r.body.decode(errors="replace")
        self.assertIn("aiwarden interception CA", certs)
        self.assertIn("origin.test", certs)
        # and the client does NOT trust it with only the origin's own CA: it is not the origin's
        r2 = self.fetch("origin.test", self.origin.port, "/bytes?n=10", ca=self.pki.ca_pem)
        self.assertNotEqual(r2.rc, 0, "the client was shown the origin's certificate")

    def test_the_origin_sees_an_origin_form_request_with_via(self):
        r = self.fetch("origin.test", self.origin.port, "/headers")
        self.assertEqual(r.status, 200, r.describe())
        seen = r.json()
        self.assertEqual(seen["target"], "/headers")
        headers = {k.lower(): v for k, v in seen["headers"]}
        self.assertIn("aiwarden", headers.get("via", ""))
        self.assertEqual(headers.get("host"), "origin.test:%d" % self.origin.port)

    def test_http3_alternatives_are_removed_from_alt_svc(self):
        alt = 'h3=":443"; ma=86400, h2=":443"'
        r = self.fetch("origin.test", self.origin.port,
                       "/headers?alt_svc=" + urllib.parse.quote(alt))
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("alt-svc"), 'h2=":443"')
        only_h3 = self.fetch("origin.test", self.origin.port,
                             "/headers?alt_svc=" + urllib.parse.quote('h3=":443"'))
        self.assertIsNone(only_h3.header("alt-svc"))

    def test_an_origin_certificate_from_an_unknown_ca_is_a_502_naming_the_reason(self):
        before = self.rogue.request_count
        r = self.fetch("rogue.test", self.rogue.port, "/bytes?n=10")
        self.assertEqual(r.status, 502, r.describe())
        body = r.json()
        self.assertEqual(body["error"], "tls_verify_failed", body)
        self.assertIn("verify", body["message"])
        self.assertEqual(self.rogue.request_count, before, "a request went to an unverified origin")

    def test_an_origin_certificate_for_another_name_is_a_502(self):
        r = self.fetch("wrongname.test", self.origin.port, "/bytes?n=10")
        self.assertEqual(r.status, 502, r.describe())
        self.assertEqual(r.json()["error"], "tls_hostname_mismatch", r.json())

    def test_a_host_field_naming_another_host_is_refused(self):
        r = self.fetch("origin.test", self.origin.port, "/bytes?n=10",
                       extra=["-H", "Host: elsewhere.test"])
        self.assertEqual(r.status, 421, r.describe())

    def test_a_chatty_domain_is_a_blind_tunnel_counted_as_a_bypass(self):
        # Acceptance 2: the origin's own leaf (it covers "localhost") verifies against the
        # origin's own CA — only a blind tunnel lets that through.
        before = self.proxy.metrics()["bypassed"]
        r = self.fetch("localhost", self.origin.port, "/bytes?n=10", ca=self.pki.ca_pem)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(self.proxy.metrics()["bypassed"], before + 1)

    def test_an_unknown_host_is_a_blind_tunnel_counted_as_a_bypass(self):
        # Acceptance 2: 127.0.0.1 is in no list (default: bypass); its leaf has the IP SAN.
        before = self.proxy.metrics()["bypassed"]
        r = self.fetch("127.0.0.1", self.origin.port, "/bytes?n=10", ca=self.pki.ca_pem)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(self.proxy.metrics()["bypassed"], before + 1)

    def test_a_client_hello_for_another_host_than_connect_is_refused(self):
        r = self.fetch("localhost", self.origin.port, "/bytes?n=10", ca=self.pki.ca_pem,
                       extra=["--connect-to", "localhost:%d:origin.test:%d"
                              % (self.origin.port, self.origin.port)])
        self.assertNotEqual(r.rc, 0, r.describe())
        self.assertTrue(self.proxy.wait_log(r"domain fronting refused"), self.proxy.log_tail())

    def test_ca_pem_is_served_without_a_token_and_matches_ca_path(self):
        r = self.proxy.admin("GET", "/ca.pem", token=None)
        self.assertEqual(r.status, 200)
        with open(self.proxy_ca, "rb") as f:
            self.assertEqual(r.body, f.read())
        out = subprocess.run([harness.binary(), "ca", "path", "-c", self.proxy.config_path],
                             capture_output=True, env=harness.clean_env(), timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.decode().strip(), self.proxy_ca)
        self.assertEqual(os.stat(os.path.join(self.proxy.state_dir, "ca", "ca.key")).st_mode & 0o777,
                         0o600)


if __name__ == "__main__":
    import unittest
    unittest.main()
