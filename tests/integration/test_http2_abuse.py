"""HTTP/2 floods end to end (issue 4, acceptance 6): rapid reset (HEADERS + RST_STREAM by the
thousand), a CONTINUATION flood and an HPACK bomb, sent as raw frames over h2c to a sidecar,
each end in GOAWAY or a closed connection (the bomb may also just get its stream refused),
while another client keeps being served.
"""

import json
import socket
import struct

import harness
from harness import Proxy, ProxyTestCase, http_request
from tool_origin import ToolOrigin

from h2frames import (  # the frame helpers, shared with test_hostile_http2
    CANCEL, CONTINUATION, END_HEADERS, END_STREAM, ENHANCE_YOUR_CALM, HEADERS, PREFACE,
    RST_STREAM, SETTINGS, frame, goaway_code, literal, read_frames)


def request_block(path=b"/proxy/v1/tools/echo"):
    # :method POST (static 3), :scheme http (static 6), then literal :path and :authority.
    return (b"\x83\x86" + literal(b":path", path) + literal(b":authority", b"sidecar") +
            literal(b"x-proxy-token", harness.TOKEN.encode()))


class Http2AbuseTest(ProxyTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tools = ToolOrigin()
        cls.addClassCleanup(cls.tools.close)
        cls.proxy = Proxy()
        cls.sidecar_port = harness.free_port()
        cfg = cls.proxy.default_config()
        cfg["listeners"].append({
            "name": "agent", "type": "sidecar", "address": "127.0.0.1:%d" % cls.sidecar_port,
            "tools": {"echo": cls.tools.url("/run")}})
        cfg["filters"] = []
        cls.proxy.write_config(cfg)
        cls.start_class_proxy(cls.proxy)

    def attacker(self):
        sock = socket.create_connection(("127.0.0.1", self.sidecar_port), timeout=5)
        sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
        return sock

    def assertOthersServed(self):
        r = http_request(self.sidecar_port, "POST", "/proxy/v1/tools/echo",
                         headers={"X-Proxy-Token": harness.TOKEN,
                                  "Content-Type": "application/json"},
                         body=json.dumps({"args": {"still": "served"}}).encode())
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["result"], {"ran": {"still": "served"}})
        self.assertProxyAlive(self.proxy)

    def test_rapid_reset_ends_in_goaway_enhance_your_calm(self):
        sock = self.attacker()
        try:
            sent = 0
            try:
                for batch in range(50):
                    out = b"".join(
                        frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, request_block()) +
                        frame(RST_STREAM, 0, 2 * i + 1, struct.pack(">I", CANCEL))
                        for i in range(batch * 100, batch * 100 + 100))
                    sock.sendall(out)
                    sent += 100
            except (BrokenPipeError, ConnectionResetError):
                pass  # the proxy gave up on us mid-flood: what this test wants
            frames = read_frames(sock)
        finally:
            sock.close()
        self.assertEqual(goaway_code(frames), ENHANCE_YOUR_CALM,
                         "after %d HEADERS+RST_STREAM pairs: %s" % (sent, [f[0] for f in frames][-5:]))
        self.assertOthersServed()

    def test_continuation_flood_ends_the_connection(self):
        sock = self.attacker()
        try:
            try:
                sock.sendall(frame(HEADERS, 0, 1, request_block()))
                for i in range(2000):
                    sock.sendall(frame(CONTINUATION, 0, 1, literal(b"x-fill-%d" % i, b"y" * 64)))
            except (BrokenPipeError, ConnectionResetError):
                pass
            frames = read_frames(sock)
        finally:
            sock.close()
        code = goaway_code(frames)
        self.assertIsNotNone(code, "no GOAWAY after a CONTINUATION flood: %s" % frames[-3:])
        self.assertNotEqual(code, 0)
        self.assertOthersServed()

    def test_hpack_bomb_is_refused_without_decoding_it_into_memory(self):
        sock = self.attacker()
        try:
            # One 4000-byte value into the dynamic table, then 2000 references to it (2 bytes
            # each): 8 MB of header list from 8 KB on the wire.
            block = request_block() + literal(b"x-bomb", b"b" * 4000, indexed=True)
            block += b"\xbe" * 2000  # indexed field 62: the first dynamic entry
            sock.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
            frames = read_frames(sock)
        finally:
            sock.close()
        statuses = []
        for kind, _, stream, payload in frames:
            if kind == HEADERS and stream == 1:
                statuses.append(payload[:1])
        refused = (goaway_code(frames) is not None or
                   any(kind == RST_STREAM and stream == 1 for kind, _, stream, _ in frames) or
                   statuses)
        self.assertTrue(refused, "the bomb's stream got neither a refusal nor an answer: %s"
                        % [f[0] for f in frames])
        # No tool call went out with a bombed header list.
        self.assertFalse([c for c in self.tools.calls if "x-bomb" in c["headers"]])
        self.assertOthersServed()


if __name__ == "__main__":
    import unittest
    unittest.main()
