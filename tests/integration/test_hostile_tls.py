"""Hostile TLS and admin input (issue 8): what an intercepted client is shown (testssl.sh
against a minted leaf: TLS 1.2/1.3, AEAD only, no high or critical finding), the revocation
information behind it (GET /ca.crl), bytes that are not a ClientHello on a domain that must be
intercepted (refused and counted, never tunnelled), a CA key others can read (start-up refused),
and the admin listener held to the data plane's head limits.
"""

import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time

import harness
from harness import Proxy, ProxyTestCase, connect, curl, read_until_close
from origins import HttpOrigin, TcpEchoOrigin
from pki import shared_pki

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")


class ConnectRelay:
    """A local port whose every connection is CONNECTed through the proxy to `target`, then
    relayed byte for byte. testssl.sh's own --proxy support sends its CONNECT with bare LF line
    endings, which the proxy refuses as it must (RFC 9112 §2.2); this speaks CRLF for it."""

    def __init__(self, proxy_port: int, target: str):
        self.proxy_port, self.target = proxy_port, target
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.proxy_port), timeout=30)
            upstream.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                              % (self.target, self.target)).encode())
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                byte = upstream.recv(1)
                if not byte:
                    break
                head += byte
            if not head.startswith(b"HTTP/1.1 200"):
                client.close()
                upstream.close()
                return
            upstream.settimeout(None)
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
            self._pipe(client, upstream)
        except OSError:
            client.close()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass

    def close(self):
        self.closed = True
        self.sock.close()


class HostileTlsTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = shared_pki()  # its origin leaf names localhost
        cls.origin = HttpOrigin(cls.pki.server_context())
        cls.addClassCleanup(cls.origin.close)
        # Where garbage.test (intercepted) leads: records every byte that would get through.
        cls.sink = TcpEchoOrigin()
        cls.addClassCleanup(cls.sink.close)
        cls.proxy = Proxy()
        cfg = cls.proxy.default_config()
        cfg["upstream"] = {"ca_file": cls.pki.ca_pem,
                           "resolve": {"localhost:443": "127.0.0.1:%d" % cls.origin.port,
                                       "garbage.test:443": "127.0.0.1:%d" % cls.sink.port}}
        cfg["filters"] = [
            {"filter": "tls_inspector"},
            {"filter": "domain_classifier", "config": {"ai_domains": ["localhost", "garbage.test"],
                                                       "default": "bypass"}},
            {"filter": "chatty_bypass"},
        ]
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)
        cls.proxy_ca = os.path.join(cls.proxy.state_dir, "ca", "ca.pem")

    def connect_tunnel(self, target="localhost:443"):
        s = connect(self.proxy.proxy_port)
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            byte = s.recv(1)
            self.assertTrue(byte, "the proxy closed the CONNECT: %r" % head)
            head += byte
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        return s

    def counter(self, family):
        """The sum of a Prometheus counter family over its labels (0 when absent)."""
        text = self.proxy.admin("GET", "/metrics").body.decode()
        total = 0
        for line in text.splitlines():
            if line.startswith(family + "{") or line.startswith(family + " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    # -- what an intercepted client is shown -----------------------------------------------------

    def test_testssl_finds_tls12_and_tls13_with_aead_ciphers_only_and_nothing_high_or_critical(self):
        if TESTSSL is None:
            self.skipTest("testssl.sh is not installed (scripts/install-deps.sh installs it)")
        relay = ConnectRelay(self.proxy.proxy_port, "localhost:443")
        self.addCleanup(relay.close)
        out_dir = tempfile.mkdtemp(prefix="aiw-testssl-")
        self.addCleanup(shutil.rmtree, out_dir, True)
        report = os.path.join(out_dir, "report.json")
        env = harness.clean_env(
            # Leaves live leaf_validity_days (7) and are minted again a day before they end,
            # so "expires within 30/60 days", meant for public certificates, is expected here.
            DAYS2WARN1="2", DAYS2WARN2="1")
        run = subprocess.run(
            [TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--add-ca", self.proxy_ca,
             "--jsonfile", report, "-p", "-s", "-f", "-P", "-S", "-U",
             "localhost:%d" % relay.port],
            capture_output=True, env=env, timeout=600)
        self.assertTrue(os.path.exists(report), run.stdout.decode(errors="replace")[-3000:])
        with open(report) as f:
            findings = {f["id"]: f for f in json.load(f)}
        text = run.stdout.decode(errors="replace")

        severe = ["%s %s: %s" % (f["id"], f["severity"], f["finding"])
                  for f in findings.values() if f["severity"] in ("HIGH", "CRITICAL")]
        self.assertEqual(severe, [], text[-4000:])
        for old in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
            self.assertIn("not offered", findings[old]["finding"], old)
        for current in ("TLS1_2", "TLS1_3"):
            self.assertTrue(findings[current]["finding"].startswith("offered"), current)
        for weak in ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT",
                     "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"):
            self.assertEqual(findings[weak]["finding"], "not offered", weak)
        self.assertEqual(findings["cipherlist_STRONG"]["finding"], "offered")
        self.assertEqual(findings["cert_trust"]["severity"], "OK", findings["cert_trust"])
        self.assertIn("/ca.crl", findings["cert_crlDistributionPoints"]["finding"])

    def test_a_minted_leaf_points_to_a_crl_that_the_ca_signed_and_that_revokes_nothing(self):
        # The leaf as a client sees it, through the forward listener.
        r = curl(["--cacert", self.proxy_ca, "-w", "%{certs}", "-o", "/dev/null",
                  "https://localhost/"], proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.rc, 0, r.describe())
        certs = r.body.decode(errors="replace")
        leaf_pem = certs[certs.index("-----BEGIN CERTIFICATE-----"):
                         certs.index("-----END CERTIFICATE-----") + 25]
        text = subprocess.run(["openssl", "x509", "-noout", "-ext", "crlDistributionPoints"],
                              input=leaf_pem.encode(), capture_output=True, timeout=30)
        url = "http://127.0.0.1:%d/ca.crl" % self.proxy.admin_port
        self.assertIn(url, text.stdout.decode(), text.stderr)

        # GET /ca.crl needs no token (clients fetch it unauthenticated), directly and through
        # the forward listener, and openssl verifies it with the CA.
        for proxy_port in (None, self.proxy.proxy_port):
            r = curl([url], proxy_port=proxy_port)
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.header("content-type"), "application/pkix-crl")
            check = subprocess.run(["openssl", "crl", "-inform", "DER", "-CAfile", self.proxy_ca,
                                    "-noout", "-text"], input=r.body, capture_output=True,
                                   timeout=30)
            self.assertEqual(check.returncode, 0, check.stderr)
            self.assertIn(b"verify OK", check.stderr + check.stdout)
            self.assertIn(b"No Revoked Certificates", check.stdout)

        # And a client checking revocation with exactly that CRL accepts the leaf.
        crl_pem = subprocess.run(["openssl", "crl", "-inform", "DER", "-outform", "PEM"],
                                 input=curl([url]).body, capture_output=True, timeout=30).stdout
        chain = os.path.join(tempfile.mkdtemp(prefix="aiw-crl-"), "ca-and-crl.pem")
        self.addCleanup(shutil.rmtree, os.path.dirname(chain), True)
        with open(self.proxy_ca, "rb") as f, open(chain, "wb") as out_file:
            out_file.write(f.read() + crl_pem)
        verify = subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", chain,
                                 "-purpose", "sslserver"], input=leaf_pem.encode(),
                                capture_output=True, timeout=30)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)

    # -- bytes that are not a ClientHello on a domain that must be intercepted -------------------

    def test_plain_http_inside_an_intercepted_tunnel_is_refused_counted_and_never_forwarded(self):
        before = self.counter("aiwarden_tls_inspector_not_tls_total")
        s = self.connect_tunnel("garbage.test:443")
        s.sendall(b"GET / HTTP/1.1\r\nHost: garbage.test\r\n\r\n")
        data, closed = read_until_close(s, timeout=10)
        s.close()
        self.assertTrue(closed, "the tunnel stayed open after plain HTTP")
        self.assertFalse(data.startswith(b"HTTP/1.1 200"), data[:200])
        self.assertEqual(bytes(self.sink.received), b"")
        self.assertEqual(self.counter("aiwarden_tls_inspector_not_tls_total"), before + 1)

    def test_a_malformed_client_hello_is_refused_counted_and_never_forwarded(self):
        before = (self.counter("aiwarden_tls_inspector_malformed_total"),
                  self.counter("aiwarden_domain_classifier_unparsed_hello_refused_total"))
        s = self.connect_tunnel("garbage.test:443")
        # A handshake record whose first message is a ServerHello, not a ClientHello.
        body = b"\x02\x00\x00\x26" + b"\x03\x03" + b"\x00" * 36
        s.sendall(b"\x16\x03\x01" + len(body).to_bytes(2, "big") + body)
        data, closed = read_until_close(s, timeout=10)
        s.close()
        self.assertTrue(closed, "the tunnel stayed open after a malformed ClientHello")
        self.assertEqual(bytes(self.sink.received), b"")
        self.assertEqual((self.counter("aiwarden_tls_inspector_malformed_total"),
                          self.counter("aiwarden_domain_classifier_unparsed_hello_refused_total")),
                         (before[0] + 1, before[1] + 1))
        self.assertProxyAlive(self.proxy)

    def test_random_bytes_after_connect_to_an_intercepted_domain_are_refused(self):
        for _ in range(20):
            s = self.connect_tunnel("garbage.test:443")
            s.sendall(os.urandom(512))
            _, closed = read_until_close(s, timeout=10)
            s.close()
            self.assertTrue(closed)
        self.assertEqual(bytes(self.sink.received), b"")
        r = curl(["--cacert", self.proxy_ca, "https://localhost/bytes?n=10"],
                 proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.status, 200, r.describe())

    # -- the admin listener is held to the data plane's limits -----------------------------------

    def test_an_admin_head_over_max_header_bytes_gets_431(self):
        s = connect(self.proxy.admin_port)
        s.sendall(b"GET /ready HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
        data, _ = read_until_close(s, timeout=10)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 431"), data[:200])

    def test_an_admin_client_trickling_its_head_is_cut_off_at_header_timeout(self):
        s = connect(self.proxy.admin_port)
        start = time.monotonic()
        closed = False
        for byte in b"GET /ready HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"a" * 40:
            try:
                s.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.25)
            if time.monotonic() - start > 8:
                break
        data, eof = read_until_close(s, timeout=5)
        s.close()
        self.assertTrue(closed or eof, "a trickling admin client was never cut off")
        self.assertIn(b"408", data[:64] or b"408")

    def test_an_admin_body_over_one_mib_gets_413_and_changes_nothing(self):
        before = self.proxy.admin("GET", "/proxy/v1/rules").body
        s = connect(self.proxy.admin_port)
        s.sendall(b"PUT /proxy/v1/rules HTTP/1.1\r\nHost: a\r\nX-Proxy-Token: " +
                  harness.TOKEN.encode() + b"\r\nContent-Length: %d\r\n\r\n" % (2 << 20))
        data, _ = read_until_close(s, timeout=10)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])
        self.assertEqual(self.proxy.admin("GET", "/proxy/v1/rules").body, before)

    def test_the_admin_token_never_reaches_an_origin(self):
        plain = HttpOrigin()
        self.addCleanup(plain.close)
        r = curl(["-H", "X-Proxy-Token: " + harness.TOKEN,
                  "http://127.0.0.1:%d/bytes?n=1" % plain.port], proxy_port=self.proxy.proxy_port)
        self.assertEqual(r.status, 200, r.describe())
        seen = plain.requests[-1]
        self.assertNotIn("x-proxy-token", {k.lower() for k, _ in seen["headers"]})


class CaKeyPermissionsTest(ProxyTestCase):

    def test_a_ca_key_that_others_can_read_stops_start_up_naming_the_file(self):
        proxy = Proxy()
        self.start_proxy(proxy)  # creates STATE_DIR/ca/ on first use
        proxy.stop()
        key = os.path.join(proxy.state_dir, "ca", "ca.key")
        os.chmod(key, 0o644)
        proxy.start(wait=False)
        code = proxy.wait_exit(timeout=30)
        self.assertNotEqual(code, 0)
        self.assertIn(key, proxy.log())
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o644, "the mode was changed")
