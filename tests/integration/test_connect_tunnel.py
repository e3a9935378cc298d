"""Acceptance 3 (issue 2): CONNECT tunnels through the forward listener.

`curl --proxy` to an https:// URL of a local TLS origin goes through a blind tunnel: curl
verifies the origin's own certificate (signed by the test CA, not by the proxy), and 256 MiB
arrive intact. Raw sockets check the tunnel's byte stream and half-close in both directions.
"""

import hashlib
import re
import socket
import unittest

import harness
from harness import Proxy, ProxyTestCase, RawResponseReader, connect, curl, curl_stream_sha256
from origins import HttpOrigin, TcpEchoOrigin, TcpSpeakFirstOrigin, content_sha256
from pki import shared_pki

BIG = 256 << 20


def open_tunnel(proxy_port: int, authority: str, timeout: float = 10.0):
    """Sends CONNECT authority; returns (socket, response head, tunnel bytes that came in the
    same reads as the head)."""
    s = connect(proxy_port, timeout)
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (authority, authority)).encode())
    reader = RawResponseReader(s, timeout)
    head = reader.read(head_only=True)
    return s, head, bytes(reader.buf)


def recv_exactly(sock, n: int, timeout: float = 10.0) -> bytes:
    sock.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        data = sock.recv(min(65536, n - len(out)))
        if not data:
            break
        out += data
    return bytes(out)


class ConnectTunnelTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = shared_pki()
        cls.tls_origin = HttpOrigin(cls.pki.server_context())
        cls.addClassCleanup(cls.tls_origin.close)
        cls.proxy = Proxy()
        cfg = cls.proxy.default_config()
        cfg["upstream"] = {
            "ca_file": cls.pki.ca_pem,
            "resolve": {"origin.test:%d" % cls.tls_origin.port:
                        "127.0.0.1:%d" % cls.tls_origin.port},
            "connect_timeout_ms": 2000,
        }
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)

    def https_url(self, path):
        return "https://origin.test:%d%s" % (self.tls_origin.port, path)

    def test_curl_sees_the_origins_own_certificate_through_the_tunnel(self):
        r = curl(["-v", "--cacert", self.pki.ca_pem,
                  "-w", "VERIFY=%{ssl_verify_result}\\n%{certs}", "-o", "/dev/null",
                  self.https_url("/bytes?n=10")], proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.rc, 0, r.describe())
        out = r.body.decode("ascii", errors="replace")
        self.assertIn("VERIFY=0", out)
        # The chain curl was shown holds the origin's leaf, byte for byte.
        flat = re.sub(r"\s+", "", out)
        self.assertIn(self.pki.leaf_base64(), flat, "curl did not see the origin's leaf")
        # and it went through a CONNECT to the name (which only the proxy resolves).
        self.assertIn("CONNECT origin.test:%d" % self.tls_origin.port, r.stderr)
        self.assertRegex(r.stderr, r"HTTP/1\.[01] 200")

    def test_a_tls_client_through_connect_gets_exactly_the_origin_leaf(self):
        s, head, early = open_tunnel(self.proxy.proxy_port,
                                     "origin.test:%d" % self.tls_origin.port)
        with s:
            self.assertEqual(head.status, 200, head)
            self.assertEqual(early, b"")  # TLS: the server says nothing before the ClientHello
            ctx = self.pki.client_context()
            with ctx.wrap_socket(s, server_hostname="origin.test") as tls:
                self.assertEqual(tls.getpeercert(binary_form=True), self.pki.leaf_der())
                tls.sendall(b"GET /bytes?n=1000&seed=4 HTTP/1.1\r\nHost: origin.test\r\n"
                            b"Connection: close\r\n\r\n")
                raw = harness.recv_until_close(tls, timeout=10)
        self.assertTrue(raw.startswith(b"HTTP/1.1 200"), raw[:200])
        body = raw.split(b"\r\n\r\n", 1)[1]
        self.assertEqual(hashlib.sha256(body).hexdigest(), content_sha256(1000, 4))

    def test_a_256mib_download_through_the_tunnel_arrives_intact(self):
        rc, count, digest, err = curl_stream_sha256(
            ["--cacert", self.pki.ca_pem, self.https_url("/bytes?n=%d&seed=7" % BIG)],
            timeout=180, proxy_port=self.proxy.proxy_port)
        self.assertEqual(rc, 0, err)
        self.assertEqual(count, BIG)
        self.assertEqual(digest, content_sha256(BIG, 7))
        self.assertProxyAlive(self.proxy)

    def test_bytes_flow_both_ways_and_a_client_half_close_reaches_the_origin(self):
        with TcpEchoOrigin() as origin:
            s, head, early = open_tunnel(self.proxy.proxy_port, "127.0.0.1:%d" % origin.port)
            with s:
                self.assertEqual(head.status, 200, head)
                self.assertEqual(early, b"")  # the echo origin speaks only when spoken to
                payload = bytes(range(256)) * 400  # 100 KiB
                s.sendall(payload)
                self.assertEqual(recv_exactly(s, len(payload)), payload)
                s.shutdown(socket.SHUT_WR)
                self.assertTrue(origin.eof_seen.wait(5), "the origin never saw the client's EOF")
                # The other direction stays open: the origin's reply after the EOF arrives.
                want = b"BYE %d %s\n" % (len(payload), hashlib.sha256(payload).hexdigest().encode())
                rest = harness.recv_until_close(s, timeout=10)
                self.assertEqual(rest, want)
                # The origin closed; the proxy closed the client side too (recv_until_close
                # returned on EOF, not on its deadline).
                self.assertTrue(origin.closed.wait(5))
            self.assertEqual(origin.connections, 1)

    def test_an_origin_half_close_reaches_the_client_which_can_still_send(self):
        with TcpSpeakFirstOrigin(b"HELLO FROM ORIGIN\n") as origin:
            s, head, early = open_tunnel(self.proxy.proxy_port, "127.0.0.1:%d" % origin.port)
            with s:
                self.assertEqual(head.status, 200, head)
                s.settimeout(10)
                got = bytearray(early)  # the greeting may come right behind the 200
                while True:  # until the origin's EOF arrives through the tunnel (bounded)
                    data = s.recv(65536)
                    if not data:
                        break
                    got += data
                    self.assertLess(len(got), 1000)
                self.assertEqual(bytes(got), b"HELLO FROM ORIGIN\n")
                s.sendall(b"still talking after your EOF")
                s.shutdown(socket.SHUT_WR)
                self.assertTrue(origin.eof_seen.wait(5), "client data/EOF lost after half-close")
                self.assertEqual(bytes(origin.received), b"still talking after your EOF")

    def test_connect_to_a_refused_port_answers_502(self):
        closed = harness.free_port()
        s, head, _ = open_tunnel(self.proxy.proxy_port, "127.0.0.1:%d" % closed)
        s.close()
        self.assertEqual(head.status, 502, head)


if __name__ == "__main__":
    unittest.main()
