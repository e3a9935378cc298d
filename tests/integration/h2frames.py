"""Raw HTTP/2 frames for the hostile-input tests (test_http2_abuse, test_hostile_http2): frames
built by hand (no client library in between that would refuse to send them), a minimal HPACK
encoder (literal fields, no Huffman, so any byte can go into a name or value) and a frame reader
with a bounded wait.
"""

import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
(DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE,
 CONTINUATION) = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
# Error codes (RFC 9113 §7).
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x2, 0x3
STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL = 0x5, 0x6, 0x7, 0x8
COMPRESSION_ERROR, ENHANCE_YOUR_CALM = 0x9, 0xB
# SETTINGS identifiers.
SETTINGS_HEADER_TABLE_SIZE, SETTINGS_ENABLE_PUSH, SETTINGS_MAX_CONCURRENT_STREAMS = 0x1, 0x2, 0x3
SETTINGS_INITIAL_WINDOW_SIZE, SETTINGS_MAX_FRAME_SIZE = 0x4, 0x5

CODE_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
              5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL",
              9: "COMPRESSION_ERROR", 0xB: "ENHANCE_YOUR_CALM"}


def frame(kind, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(
        ">I", stream_id & 0x7FFFFFFF) + payload


def settings(*pairs, ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0,
                 b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def window_update(stream_id, increment):
    return frame(WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment & 0x7FFFFFFF))


def rst_stream(stream_id, code):
    return frame(RST_STREAM, 0, stream_id, struct.pack(">I", code))


def hpack_int(value, prefix_bits, first_byte_flags=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = bytearray([first_byte_flags | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(name, value, indexed=False):
    """A literal field with a new name: without indexing, or with incremental indexing."""
    head = b"\x40" if indexed else b"\x00"
    return head + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


def fields(*pairs):
    """A header block of literal fields, in the order given (names and values as bytes)."""
    return b"".join(literal(n, v) for n, v in pairs)


def read_frames(sock, limit_bytes=1 << 22):
    """Frames until the peer closes or is quiet for the socket timeout; [(type, flags, id,
    payload)]. A reset connection counts as closed."""
    buf = b""
    try:
        while len(buf) < limit_bytes:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return parse_frames(buf)[0]


def parse_frames(buf):
    """([(type, flags, id, payload)], the bytes of an incomplete last frame). Linear in the
    input (an ACK flood is hundreds of thousands of frames)."""
    frames = []
    pos, end = 0, len(buf)
    while end - pos >= 9:
        length = int.from_bytes(buf[pos:pos + 3], "big")
        if end - pos < 9 + length:
            break
        frames.append((buf[pos + 3], buf[pos + 4],
                       int.from_bytes(buf[pos + 5:pos + 9], "big") & 0x7FFFFFFF,
                       buf[pos + 9:pos + 9 + length]))
        pos += 9 + length
    return frames, buf[pos:]


def goaway_code(frames):
    for kind, _, _, payload in frames:
        if kind == GOAWAY and len(payload) >= 8:
            return int.from_bytes(payload[4:8], "big")
    return None


def rst_code(frames, stream_id):
    """The error code of the first RST_STREAM the peer sent on stream_id, or None."""
    for kind, _, sid, payload in frames:
        if kind == RST_STREAM and sid == stream_id and len(payload) == 4:
            return int.from_bytes(payload, "big")
    return None


class FrameReader:
    """Reads frames from a socket until a condition holds, the peer closes, or a deadline: every
    wait is bounded in time and bytes. GOAWAY, RST_STREAM and HEADERS are indexed as they
    arrive, so conditions stay cheap however many frames (an ACK flood) came."""

    def __init__(self, sock, limit_bytes=1 << 24):
        self.sock = sock
        self.buf = b""
        self.frames = []
        self.closed = False
        self.received = 0
        self.limit = limit_bytes
        self._goaway = None
        self._rst = {}
        self._headers = {}
        self._ended = set()

    def _index(self, new):
        for f in new:
            kind, flags, sid, payload = f
            if kind == GOAWAY and self._goaway is None and len(payload) >= 8:
                self._goaway = int.from_bytes(payload[4:8], "big")
            elif kind == RST_STREAM and len(payload) == 4:
                self._rst.setdefault(sid, int.from_bytes(payload, "big"))
                self._ended.add(sid)
            elif kind == HEADERS:
                self._headers.setdefault(sid, []).append(f)
            if kind in (DATA, HEADERS) and flags & END_STREAM:
                self._ended.add(sid)
        self.frames.extend(new)

    def pump(self, until=lambda frames: False, timeout=5.0):
        """Reads until until(frames) is true (True), or close/deadline (False)."""
        deadline = time.monotonic() + timeout
        while not until(self.frames):
            left = deadline - time.monotonic()
            if self.closed or left <= 0 or self.received >= self.limit:
                return until(self.frames)
            self.sock.settimeout(min(left, 0.5))
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                self.closed = True
                continue
            self.received += len(chunk)
            new, self.buf = parse_frames(self.buf + chunk)
            self._index(new)
        return True

    def goaway(self):
        """The error code of the first GOAWAY received, or None."""
        return self._goaway

    def rst(self, stream_id):
        """The error code of the first RST_STREAM received on stream_id, or None."""
        return self._rst.get(stream_id)

    def headers_on(self, stream_id):
        return self._headers.get(stream_id, [])

    def ended(self, stream_id):
        """The stream ended on the server's side (END_STREAM or RST_STREAM)."""
        return stream_id in self._ended


# The HPACK static table entries for :status (RFC 7541 Appendix A) and the Huffman codes of the
# digits (Appendix B): enough to read the :status a server sends first in a response block.
_STATIC_STATUS = {8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}
_HUFFMAN_DIGITS = {"00000": "0", "00001": "1", "00010": "2", "011001": "3", "011010": "4",
                   "011011": "5", "011100": "6", "011101": "7", "011110": "8", "011111": "9"}


def _huffman_digits(data):
    bits = "".join(format(b, "08b") for b in data)
    out, code = "", ""
    for bit in bits:
        code += bit
        if code in _HUFFMAN_DIGITS:
            out += _HUFFMAN_DIGITS[code]
            code = ""
        elif len(code) > 6:
            return None
    return out if set(code) <= {"1"} else None


def response_status(block):
    """The :status of a response header block (it comes first), or None if not decodable here.
    A dynamic table size update may precede it."""
    i = 0
    while i < len(block) and block[i] & 0xE0 == 0x20:  # dynamic table size update
        i += 1
        while i < len(block) and block[i - 1] & 0x1F == 0x1F and block[i] & 0x80:
            i += 1
        if block[i - 1] & 0x1F == 0x1F:
            i += 1
    if i >= len(block):
        return None
    b = block[i]
    if b & 0x80:
        return _STATIC_STATUS.get(b & 0x7F)
    # A literal whose name is static entry 8 (:status): with indexing (0x48), without (0x08),
    # never indexed (0x18).
    if b not in (0x48, 0x08, 0x18) or i + 1 >= len(block):
        return None
    huffman, n = block[i + 1] & 0x80, block[i + 1] & 0x7F
    raw = block[i + 2:i + 2 + n]
    text = _huffman_digits(raw) if huffman else raw.decode("latin-1")
    return int(text) if text and text.isdigit() else None
