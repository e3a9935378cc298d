"""CONNECT through the connection filters (tls_inspector → domain_classifier → chatty_bypass).

The proxy connects upstream, answers 200, reads the ClientHello without consuming it, and lets
the chain decide: a bypassed domain becomes a blind tunnel (the client still sees the origin's
own certificate); a domain to be intercepted is decrypted, never tunnelled blind
(test_interception.py has the rest); a ClientHello whose SNI names another host than the
CONNECT target is refused (domain fronting).
"""

import socket
import ssl
import unittest

from harness import Proxy, ProxyTestCase, connect, curl
from origins import HttpOrigin, TcpEchoOrigin
from pki import shared_pki
from test_connect_tunnel import open_tunnel


class ConnectClassificationTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = shared_pki()
        cls.origin = HttpOrigin(cls.pki.server_context())
        cls.addClassCleanup(cls.origin.close)
        port = cls.origin.port
        cls.proxy = Proxy()
        cfg = cls.proxy.default_config()
        cfg["upstream"] = {
            "ca_file": cls.pki.ca_pem,
            "resolve": {
                "origin.test:%d" % port: "127.0.0.1:%d" % port,
                "ai.test:%d" % port: "127.0.0.1:%d" % port,
            },
        }
        cfg["filters"] = [
            {"filter": "tls_inspector", "config": {"timeout_ms": 2000}},
            {"filter": "domain_classifier", "config": {
                "patterns": [{"pattern": "origin.test", "proxy": False}],
                "ai_domains": ["ai.test"],
                "default": "bypass"}},
            {"filter": "chatty_bypass"},
        ]
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)

    def test_a_bypassed_domain_is_tunnelled_after_its_client_hello_is_read(self):
        r = curl(["--cacert", self.pki.ca_pem, "https://origin.test:%d/bytes?n=5000&seed=9"
                  % self.origin.port], proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(len(r.body), 5000)

    def test_a_domain_to_be_intercepted_is_never_tunnelled_blind(self):
        # A client that trusts only the origin's CA cannot complete TLS: it is shown a leaf from
        # the proxy's CA, because the connection is intercepted, not tunnelled.
        before = self.origin.request_count
        intercepted_before = self.proxy.metrics()["intercepted"]
        r = curl(["--cacert", self.pki.ca_pem, "https://ai.test:%d/bytes?n=10"
                  % self.origin.port], proxy_port=self.proxy.proxy_port)
        self.assertNotEqual(r.rc, 0, "the AI domain was reachable through a blind tunnel")
        self.assertEqual(self.origin.request_count, before, "a request reached the origin")
        self.assertEqual(self.proxy.metrics()["intercepted"], intercepted_before + 1)

    def test_a_client_hello_naming_another_host_is_refused_as_domain_fronting(self):
        s, head, _ = open_tunnel(self.proxy.proxy_port, "origin.test:%d" % self.origin.port)
        self.assertEqual(head.status, 200)
        ctx = self.pki.client_context()
        ctx.check_hostname = False
        with self.assertRaises((ssl.SSLError, OSError)):
            tls = ctx.wrap_socket(s, server_hostname="elsewhere.test")
            tls.sendall(b"GET / HTTP/1.1\r\nHost: elsewhere.test\r\n\r\n")
            if not tls.recv(1):
                raise ConnectionError("closed")
        s.close()
        self.assertTrue(self.proxy.wait_log(r"CONNECT refused .*elsewhere\.test"),
                        self.proxy.log_tail())

    def test_plain_bytes_to_an_unclassified_ip_literal_flow_through_the_tunnel(self):
        # Not TLS at all, no SNI, no name: the inspector says "not TLS", the classifier's default
        # (bypass) applies, and the bytes reach the origin and come back unchanged.
        with TcpEchoOrigin() as echo:
            s, head, early = open_tunnel(self.proxy.proxy_port, "127.0.0.1:%d" % echo.port)
            self.assertEqual(head.status, 200)
            payload = b"plain bytes, not a ClientHello\n" * 10
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(10)
            data = early
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.close()
        self.assertTrue(data.startswith(payload), data[:100])
        self.assertIn(b"BYE %d " % len(payload), data)

if __name__ == "__main__":
    unittest.main()
