"""Acceptance 7 and 8 (issue 2) and the limits of SPEC §3 / bad input of SPEC §9.

A client trickling its headers is cut off at header_timeout_ms while others are served;
CL+TE and duplicate Content-Length get 400 and never reach the origin; oversized heads get 431;
max_connections refuses new connections at once without touching the existing ones; garbage gets
400.
"""

import hashlib
import select
import socket
import threading
import time
import unittest

import harness
from harness import (Proxy, ProxyTestCase, RawResponseReader, connect, curl, poll,
                     raw_exchange, read_until_close)
from origins import HttpOrigin, content_sha256

HEADER_TIMEOUT_MS = 2000
MAX_HEADER_BYTES = 8192


class Trickler(threading.Thread):
    """Sends a request head one byte every 0.5 s (at most `max_bytes`), never completing it;
    records when and how the proxy ended the connection."""

    def __init__(self, port, head: bytes, max_bytes=24, interval=0.5):
        super().__init__(daemon=True)
        self.port, self.head, self.max_bytes, self.interval = port, head, max_bytes, interval
        self.elapsed = None  # seconds from connect to disconnect; None if never disconnected
        self.reply = b""
        self.sent = 0
        self.done = threading.Event()

    def run(self):
        try:
            s = connect(self.port)
        except OSError:
            self.done.set()
            return
        t0 = time.monotonic()
        try:
            while self.sent < self.max_bytes:
                r, _, _ = select.select([s], [], [], self.interval)
                if r:
                    data, closed = read_until_close(s, timeout=2.0)
                    self.reply += data
                    self.elapsed = time.monotonic() - t0
                    return
                try:
                    s.send(self.head[self.sent:self.sent + 1])
                    self.sent += 1
                except (BrokenPipeError, ConnectionResetError):
                    self.elapsed = time.monotonic() - t0
                    return
            # the budget ran out without the proxy doing anything: give it one more interval
            _, closed = read_until_close(s, timeout=self.interval)
            if closed:
                self.elapsed = time.monotonic() - t0
        finally:
            s.close()
            self.done.set()


class LimitsTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.proxy = Proxy()
        cfg = cls.proxy.default_config(workers=1)
        cfg["limits"] = {"header_timeout_ms": HEADER_TIMEOUT_MS,
                         "max_header_bytes": MAX_HEADER_BYTES}
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)

    def setUp(self):
        self.origin = HttpOrigin()
        self.addCleanup(self.origin.close)

    def head(self, path="/bytes?n=100", method="GET", extra=""):
        return ("%s %s HTTP/1.1\r\nHost: %s\r\n%s" % (
            method, self.origin.url(path), self.origin.authority, extra)).encode()

    def assertServed(self, seed):
        r = curl([self.origin.url("/bytes?n=3000&seed=%d" % seed)],
                 proxy_port=self.proxy.proxy_port, timeout=10)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), content_sha256(3000, seed))

    def assertRefusedAndNotForwarded(self, data, status=400):
        resp, closed, raw = raw_exchange(self.proxy.proxy_port, data)
        self.assertIsNotNone(resp, "no response before close (got %r)" % raw[:200])
        self.assertEqual(resp.status, status, resp)
        self.assertTrue(closed, "the connection stayed open after a %d" % status)
        # A good request afterwards is served and is the only thing the origin ever saw.
        self.assertServed(99)
        targets = [r["target"] for r in self.origin.requests]
        self.assertEqual(targets, ["/bytes?n=3000&seed=99"], "the origin saw %r" % targets)

    # -- acceptance 7 -------------------------------------------------------------------------
    def test_clients_trickling_headers_are_cut_off_at_header_timeout_while_others_are_served(self):
        head = self.head(extra="X-Trickle: " + "a" * 200)  # never reaches the end of the head
        tricklers = [Trickler(self.proxy.proxy_port, head) for _ in range(3)]
        for t in tricklers:
            t.start()
        served_while_trickling = 0
        for i in range(40):  # bounded: at most 40 requests
            if all(t.done.is_set() for t in tricklers):
                break
            self.assertServed(i)
            served_while_trickling += 1
            tricklers[0].done.wait(0.2)
        for t in tricklers:
            t.join(timeout=20)
        for t in tricklers:
            self.assertIsNotNone(t.elapsed, "a trickler sent %d bytes and was never cut off"
                                 % t.sent)
            # header_timeout_ms is 2000: a deadline for the whole head, however slowly it comes
            self.assertGreaterEqual(t.elapsed, 1.5, "cut off too early (%r)" % t.reply[:100])
            self.assertLess(t.elapsed, 6.0)
            if t.reply:
                self.assertTrue(t.reply.startswith(b"HTTP/1.1 408"), t.reply[:100])
        self.assertGreaterEqual(served_while_trickling, 2)
        self.assertEqual(self.origin.request_count, served_while_trickling)
        self.assertServed(1000)

    # -- acceptance 8 -------------------------------------------------------------------------
    def test_content_length_with_transfer_encoding_is_refused_with_400_and_never_forwarded(self):
        smuggled = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                    % (self.origin.url("/smuggled"), self.origin.authority)).encode()
        data = (self.head("/echo", "POST",
                          "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
                + b"0\r\n\r\n" + smuggled)
        self.assertRefusedAndNotForwarded(data)

    def test_transfer_encoding_before_content_length_is_refused_with_400_and_never_forwarded(self):
        data = (self.head("/echo", "POST",
                          "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n")
                + b"5\r\nhello\r\n0\r\n\r\n" + b"x" * 25)
        self.assertRefusedAndNotForwarded(data)

    def test_two_different_content_lengths_are_refused_with_400_and_never_forwarded(self):
        data = (self.head("/echo", "POST", "Content-Length: 5\r\nContent-Length: 6\r\n\r\n")
                + b"hello!")
        self.assertRefusedAndNotForwarded(data)

    def test_two_equal_content_lengths_are_refused_with_400_and_never_forwarded(self):
        data = (self.head("/echo", "POST", "Content-Length: 5\r\nContent-Length: 5\r\n\r\n")
                + b"hello")
        self.assertRefusedAndNotForwarded(data)

    # -- malformed ----------------------------------------------------------------------------
    def test_plain_garbage_gets_400_and_the_connection_closed(self):
        self.assertRefusedAndNotForwarded(b"HELLO THERE, THIS IS NOT HTTP\r\n\r\n")

    def test_binary_garbage_is_refused_and_the_proxy_keeps_serving(self):
        junk = bytes((i * 37 + 11) % 256 for i in range(4096))
        s = connect(self.proxy.proxy_port)
        with s:
            try:
                s.sendall(junk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            data, closed = read_until_close(s, timeout=5)
        self.assertTrue(closed, "the proxy kept a connection that sent binary garbage")
        if data:
            self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:100])
        self.assertServed(5)
        self.assertProxyAlive(self.proxy)

    def test_bare_lf_line_endings_are_refused_with_400(self):
        data = ("GET %s HTTP/1.1\nHost: %s\n\n"
                % (self.origin.url("/bytes?n=10"), self.origin.authority)).encode()
        self.assertRefusedAndNotForwarded(data)

    def test_an_obs_folded_header_is_refused_with_400(self):
        data = self.head(extra="X-Folded: first\r\n second\r\n\r\n")
        self.assertRefusedAndNotForwarded(data)

    # -- sizes --------------------------------------------------------------------------------
    def test_a_header_over_max_header_bytes_gets_431_and_is_not_forwarded(self):
        data = self.head(extra="X-Big: %s\r\n\r\n" % ("b" * (2 * MAX_HEADER_BYTES)))
        self.assertRefusedAndNotForwarded(data, status=431)

    def test_many_headers_adding_up_over_max_header_bytes_get_431(self):
        extra = "".join("X-Many-%03d: %s\r\n" % (i, "m" * 50) for i in range(300)) + "\r\n"
        self.assertRefusedAndNotForwarded(self.head(extra=extra), status=431)

    def test_a_head_well_under_max_header_bytes_is_served(self):
        r = curl(["-H", "X-Medium: " + "c" * (MAX_HEADER_BYTES // 2), self.origin.url("/headers")],
                 proxy_port=self.proxy.proxy_port, timeout=10)
        self.assertEqual(r.status, 200, r.describe())
        got = dict((k.lower(), v) for k, v in r.json()["headers"])
        self.assertEqual(got.get("x-medium"), "c" * (MAX_HEADER_BYTES // 2))


class MaxConnectionsTest(ProxyTestCase):

    def test_max_connections_refuses_new_connections_at_once_and_keeps_the_existing_ones(self):
        proxy = Proxy()
        cfg = proxy.default_config(workers=1)
        cfg["limits"] = {"header_timeout_ms": 20000, "max_connections": 5}
        proxy.write_config(cfg)
        self.start_proxy(proxy)
        origin = HttpOrigin()
        self.addCleanup(origin.close)

        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for _ in range(5):
            held.append(connect(proxy.proxy_port))

        # The sixth: accepted by the kernel, then closed by the proxy at once (or a 503).
        extra = connect(proxy.proxy_port)
        with extra:
            data, closed = read_until_close(extra, timeout=3)
        self.assertTrue(closed, "the 6th connection was not refused (max_connections 5)")
        if data:
            self.assertTrue(data.startswith(b"HTTP/1.1 503"), data[:100])

        # The five held connections are untouched and serve keep-alive requests.
        for i, s in enumerate(held):
            reader = RawResponseReader(s, timeout=10)
            for j in range(2):
                s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                           % (origin.url("/bytes?n=500&seed=%d" % (i * 10 + j)),
                              origin.authority)).encode())
                resp = reader.read()
                self.assertEqual(resp.status, 200, resp)
                self.assertEqual(hashlib.sha256(resp.body).hexdigest(),
                                 content_sha256(500, i * 10 + j))

        # Closing them frees the slots: a new client is served again.
        for s in held:
            s.close()
        held.clear()

        def served():
            r = curl([origin.url("/bytes?n=10")], proxy_port=proxy.proxy_port, timeout=5)
            return r.status == 200
        self.assertTrue(poll(served, timeout=5, interval=0.1),
                        "no new connection served after the others closed")


if __name__ == "__main__":
    unittest.main()
