"""Upstream certificate verification on intercepted connections (issue 3, acceptance 4).

Three HTTPS origins whose names are AI domains (so the proxy intercepts them) and are mapped to
loopback with `upstream.resolve`; the proxy trusts only the test CA (`upstream.ca_file`):
  - a self-signed leaf for its name (no CA vouches for it),
  - a leaf for its name signed by the trusted test CA but expired (validity in 2020),
  - a valid leaf signed by the trusted test CA for ANOTHER name.
Each must be answered 502 with a JSON error naming the reason, and the origin must never see an
HTTP request (the proxy gave up at the TLS handshake).
"""

import os
import shutil
import tempfile

from harness import Proxy, ProxyTestCase, curl
from origins import HttpOrigin
from pki import make_ca_signed_leaf, make_self_signed_leaf, shared_pki

SELF_SIGNED = "selfsigned.test"
EXPIRED = "expired.test"
WRONG_HOST = "wronghost.test"
OTHER_NAME = "othername.test"  # the name the wrong-host origin's certificate is really for


class TlsOriginVerificationTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = shared_pki()
        work = tempfile.mkdtemp(prefix="aiw-tls-origins-")
        cls.addClassCleanup(shutil.rmtree, work, True)
        self_signed = make_self_signed_leaf(os.path.join(work, "self"), SELF_SIGNED)
        expired = make_ca_signed_leaf(cls.pki, os.path.join(work, "expired"), EXPIRED,
                                      startdate="20200101000000Z", enddate="20200102000000Z")
        other = make_ca_signed_leaf(cls.pki, os.path.join(work, "other"), OTHER_NAME)
        cls.origins = {}
        for name, leaf in ((SELF_SIGNED, self_signed), (EXPIRED, expired),
                           (WRONG_HOST, other)):
            origin = HttpOrigin(leaf.server_context())
            cls.addClassCleanup(origin.close)
            cls.origins[name] = origin
        cls.proxy = Proxy()
        cfg = cls.proxy.default_config()
        cfg["upstream"] = {
            "ca_file": cls.pki.ca_pem,
            "resolve": {"%s:%d" % (name, o.port): "127.0.0.1:%d" % o.port
                        for name, o in cls.origins.items()},
        }
        cfg["filters"] = [
            {"filter": "tls_inspector"},
            {"filter": "domain_classifier", "config": {
                "ai_domains": sorted(cls.origins),
                "default": "bypass"}},
            {"filter": "chatty_bypass"},
        ]
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)
        cls.proxy_ca = os.path.join(cls.proxy.state_dir, "ca", "ca.pem")

    def fetch_through_proxy(self, name):
        origin = self.origins[name]
        return curl(["--cacert", self.proxy_ca,
                     "https://%s:%d/bytes?n=10" % (name, origin.port)],
                    proxy_port=self.proxy.proxy_port)

    def assert_refused(self, name, code):
        """502 with {"error": code, ...} from the proxy; the origin was reached over TCP (so the
        failure is the TLS verification, not the connect) but never received a request.
        Returns the JSON body."""
        origin = self.origins[name]
        before = self.proxy.metrics().get("intercepted", 0)
        r = self.fetch_through_proxy(name)
        # curl completed TLS with the proxy (it trusts the proxy's CA) and got the proxy's answer.
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.status, 502, r.describe())
        self.assertIn("application/json", r.header("content-type", ""), r.describe())
        body = r.json()
        self.assertEqual(body.get("error"), code, body)
        self.assertIsInstance(body.get("message"), str, body)
        self.assertGreater(origin.connections, 0, "the proxy never connected to the origin")
        self.assertEqual(origin.request_count, 0,
                         "an HTTP request reached an origin that failed verification: %r"
                         % origin.requests)
        self.assertGreater(self.proxy.metrics().get("intercepted", 0), before,
                           "the connection was not intercepted")
        return body

    def test_a_self_signed_origin_is_a_502_tls_verify_failed(self):
        body = self.assert_refused(SELF_SIGNED, "tls_verify_failed")
        msg = body["message"].lower()
        self.assertTrue("self signed" in msg or "self-signed" in msg
                        or "unable to get local issuer" in msg, body)

    def test_an_expired_origin_certificate_is_a_502_tls_verify_failed(self):
        body = self.assert_refused(EXPIRED, "tls_verify_failed")
        self.assertIn("expired", body["message"].lower(), body)

    def test_an_origin_certificate_for_another_host_is_a_502_tls_hostname_mismatch(self):
        body = self.assert_refused(WRONG_HOST, "tls_hostname_mismatch")
        self.assertIn(WRONG_HOST, body["message"], body)

    def test_repeated_attempts_are_refused_every_time(self):
        # A refusal is not cached into a pass: each new connection is verified again.
        for _ in range(3):
            for name, code in ((SELF_SIGNED, "tls_verify_failed"),
                               (EXPIRED, "tls_verify_failed"),
                               (WRONG_HOST, "tls_hostname_mismatch")):
                r = self.fetch_through_proxy(name)
                self.assertEqual(r.status, 502, r.describe())
                self.assertEqual(r.json().get("error"), code, r.describe())
        for name, origin in self.origins.items():
            self.assertEqual(origin.request_count, 0, name)


if __name__ == "__main__":
    import unittest
    unittest.main()
