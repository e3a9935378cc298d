// HTTP/2 abuse: rapid reset, CONTINUATION floods, header field count and HPACK bombs, and the
// budget for the resets the proxy sends itself. Attack traffic comes from a raw nghttp2 client
// session or from frames written by hand.
#include <doctest/doctest.h>
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <map>
#include <string>

#include "http/http2_server_session.h"
#include "unit/http/http2_test_util.h"

namespace aiw {
namespace {

using h2test::ServerRecorder;
using h2test::Wire;

// A bare nghttp2 client: writes whatever frames the test submits (no politeness of ours in
// between) and records the first GOAWAY it receives.
struct RawClient {
  nghttp2_session* session = nullptr;
  bool got_goaway = false;
  uint32_t goaway_code = 0;
  std::map<int32_t, std::string> statuses;  // stream -> :status received

  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
    auto* self = static_cast<RawClient*>(ud);
    if (frame->hd.type == NGHTTP2_GOAWAY && !self->got_goaway) {
      self->got_goaway = true;
      self->goaway_code = frame->goaway.error_code;  // the first one: what a client acts on
    }
    return 0;
  }
  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* ud) {
    if (std::string_view(reinterpret_cast<const char*>(name), namelen) == ":status") {
      static_cast<RawClient*>(ud)->statuses[frame->hd.stream_id] =
          std::string(reinterpret_cast<const char*>(value), valuelen);
    }
    return 0;
  }
  // max_send_header_block: nghttp2 refuses to send a header list above it (uncompressed
  // size), 64 KiB by default; an attacker's client has no such scruples.
  explicit RawClient(size_t max_send_header_block = 65536) {
    nghttp2_session_callbacks* cbs = nullptr;
    REQUIRE(nghttp2_session_callbacks_new(&cbs) == 0);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, onFrameRecv);
    nghttp2_session_callbacks_set_on_header_callback(cbs, onHeader);
    nghttp2_option* opt = nullptr;
    REQUIRE(nghttp2_option_new(&opt) == 0);
    nghttp2_option_set_max_send_header_block_length(opt, max_send_header_block);
    REQUIRE(nghttp2_session_client_new2(&session, cbs, this, opt) == 0);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    REQUIRE(nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0) == 0);
  }
  ~RawClient() { nghttp2_session_del(session); }

  std::string send() {
    std::string out;
    for (;;) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(session, &data);
      REQUIRE(n >= 0);
      if (n == 0) return out;
      out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
  }
  int32_t get(const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    std::vector<nghttp2_nv> nv;
    auto add = [&](const std::string& n, const std::string& v) {
      nv.push_back({(uint8_t*)n.data(), (uint8_t*)v.data(), n.size(), v.size(), 0});
    };
    static const std::string m = ":method", get = "GET", s = ":scheme", https = "https",
                             a = ":authority", h = "h", p = ":path", slash = "/";
    add(m, get);
    add(s, https);
    add(a, h);
    add(p, slash);
    for (auto& [n, v] : extra) add(n, v);
    int32_t id = nghttp2_submit_request(session, nullptr, nv.data(), nv.size(), nullptr, nullptr);
    REQUIRE(id > 0);
    return id;
  }
  // Feeds a server's output; GOAWAY and other frames are recorded.
  void receive(const std::string& bytes) {
    nghttp2_session_mem_recv(session, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
};

std::string drain(Http2Session& s) {
  Buffer b;
  REQUIRE(s.drainOutput(b).ok());
  return b.toString();
}

std::string frameHeader(uint32_t len, uint8_t type, uint8_t flags, uint32_t stream) {
  std::string h(9, '\0');
  h[0] = static_cast<char>(len >> 16);
  h[1] = static_cast<char>(len >> 8);
  h[2] = static_cast<char>(len);
  h[3] = static_cast<char>(type);
  h[4] = static_cast<char>(flags);
  h[5] = static_cast<char>((stream >> 24) & 0x7f);
  h[6] = static_cast<char>(stream >> 16);
  h[7] = static_cast<char>(stream >> 8);
  h[8] = static_cast<char>(stream);
  return h;
}

// The error code of the GOAWAY in a server's output (frames walked by hand: a client session
// would stop at responses on streams it never opened); -1 without one.
int64_t goawayCode(const std::string& wire) {
  size_t pos = 0;
  while (pos + 9 <= wire.size()) {
    auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(wire[i])); };
    uint32_t len = byte(pos) << 16 | byte(pos + 1) << 8 | byte(pos + 2);
    if (byte(pos + 3) == NGHTTP2_GOAWAY && len >= 8 && pos + 9 + len <= wire.size()) {
      size_t c = pos + 9 + 4;
      return byte(c) << 24 | byte(c + 1) << 16 | byte(c + 2) << 8 | byte(c + 3);
    }
    pos += 9 + len;
  }
  return -1;
}

TEST_SUITE("http2 hardening") {
  TEST_CASE("this nghttp2 is checked for its flood limits") {
    auto l = http2LibraryLimits();
    MESSAGE("nghttp2 stream_reset_rate_limit: " << l.stream_reset_rate_limit
                                                << ", max_continuations: " << l.max_continuations);
    CHECK(true);
  }

  TEST_CASE("1000 HEADERS + RST_STREAM pairs make the server send GOAWAY") {
    Http2Options opts;
    SUBCASE("with nghttp2's own limit as well") { opts.use_library_limits = true; }
    SUBCASE("with the session's own budget alone") { opts.use_library_limits = false; }
    ServerRecorder rec;
    auto server = Http2ServerSession::create(rec, opts);
    REQUIRE(server.ok());
    rec.session = server->get();
    RawClient attacker;
    std::string wire = attacker.send();
    for (int i = 0; i < 1000; ++i) {
      int32_t id = attacker.get();
      wire += attacker.send();  // HEADERS out first, or nghttp2 cancels them locally
      REQUIRE(nghttp2_submit_rst_stream(attacker.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL) ==
              0);
      wire += attacker.send();
    }
    auto r = (*server)->receive(wire);
    attacker.receive(drain(**server));
    CHECK(attacker.got_goaway);
    // Our budget runs out before nghttp2's backstop (which would say INTERNAL_ERROR).
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "h2_abuse");
    CHECK((*server)->abuseReason() == "rapid_reset");
    CHECK(attacker.goaway_code == NGHTTP2_ENHANCE_YOUR_CALM);
    // Far fewer than 1000 streams reached the application.
    CHECK(rec.reqs.size() <= opts.peer_reset_burst + 1);
    CHECK((*server)->finished());
  }

  TEST_CASE("resets under the budget are served normally") {
    ServerRecorder rec;
    auto server = Http2ServerSession::create(rec);
    REQUIRE(server.ok());
    rec.session = server->get();
    RawClient client;
    std::string wire = client.send();
    for (int i = 0; i < 50; ++i) {
      int32_t id = client.get();
      wire += client.send();
      REQUIRE(nghttp2_submit_rst_stream(client.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL) ==
              0);
      wire += client.send();
    }
    REQUIRE((*server)->receive(wire).ok());
    client.receive(drain(**server));
    CHECK_FALSE(client.got_goaway);
    CHECK(rec.reqs.size() == 50);
    CHECK(rec.reqs.begin()->second.reset == NGHTTP2_CANCEL);
  }

  TEST_CASE("a flood of empty CONTINUATION frames ends the connection with GOAWAY") {
    Http2Options opts;
    SUBCASE("with nghttp2's own limit as well") { opts.use_library_limits = true; }
    SUBCASE("with the session's own count alone") { opts.use_library_limits = false; }
    ServerRecorder rec;
    auto server = Http2ServerSession::create(rec, opts);
    REQUIRE(server.ok());
    rec.session = server->get();
    std::string wire = NGHTTP2_CLIENT_MAGIC;
    wire += frameHeader(0, NGHTTP2_SETTINGS, 0, 0);
    // HPACK: :method GET (0x82), :scheme https (0x87), :path / (0x84) — no END_HEADERS.
    std::string block = "\x82\x87\x84";
    wire += frameHeader(static_cast<uint32_t>(block.size()), NGHTTP2_HEADERS,
                        NGHTTP2_FLAG_END_STREAM, 1) +
            block;
    for (int i = 0; i < 10000; ++i) wire += frameHeader(0, NGHTTP2_CONTINUATION, 0, 1);
    auto r = (*server)->receive(wire);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "h2_abuse");
    CHECK((*server)->abuseReason() == "continuation_flood");
    RawClient probe;  // parses the server's frames
    probe.receive(drain(**server));
    CHECK(probe.got_goaway);
    CHECK(probe.goaway_code == NGHTTP2_ENHANCE_YOUR_CALM);
    CHECK(rec.reqs.empty());
    CHECK((*server)->finished());
  }

  TEST_CASE("a header block with too many fields is refused with 431, other streams go on") {
    Wire w;
    w.server_rec.on_request_end = [&](int32_t id) {
      REQUIRE(w.server->submitResponse(id, 204, Headers{}, true).ok());
    };
    Headers many;
    for (int i = 0; i < 250; ++i) many.add("x-f" + std::to_string(i), "v");
    auto bad = w.client->submitRequest("GET", "https", "h", "/", many, true);
    auto good = w.client->submitRequest("GET", "https", "h", "/", Headers{}, true);
    REQUIRE(bad.ok());
    REQUIRE(good.ok());
    w.pump();
    CHECK(w.server_rec.reqs.count(*bad) == 0);  // the application never saw it
    CHECK(w.client_rec.resps.at(*bad).statuses == std::vector<uint16_t>{431});
    CHECK(w.client_rec.resps.at(*bad).closed);
    CHECK(w.client_rec.resps.at(*good).statuses == std::vector<uint16_t>{204});
    CHECK(w.server->streamCount() == 0);

    Headers just_enough;
    for (int i = 0; i < 196; ++i) just_enough.add("x-f" + std::to_string(i), "v");  // + 4 pseudo
    auto ok = w.client->submitRequest("GET", "https", "h", "/", just_enough, true);
    REQUIRE(ok.ok());
    w.pump();
    CHECK(w.client_rec.resps.at(*ok).statuses == std::vector<uint16_t>{204});
  }

  TEST_CASE("an HPACK bomb is refused by the header list size cap") {
    ServerRecorder rec;
    auto server = Http2ServerSession::create(rec);
    REQUIRE(server.ok());
    rec.session = server->get();
    RawClient attacker(1 << 20);
    // One 2000-byte field, indexed in the dynamic table once, then repeated by its index: the
    // wire carries about 2 KB, the decoded list is 100 x 2 KB.
    std::vector<std::pair<std::string, std::string>> bomb(100, {"x-big", std::string(2000, 'a')});
    std::string wire = attacker.send();
    int32_t id = attacker.get(bomb);
    std::string headers = attacker.send();
    CHECK(headers.size() < 5000);
    REQUIRE((*server)->receive(wire + headers).ok());
    attacker.receive(drain(**server));
    CHECK(rec.reqs.empty());  // the application never saw it
    CHECK(attacker.statuses[id] == "431");
    CHECK_FALSE(attacker.got_goaway);  // one refused stream is not abuse of the connection

    // The connection still serves a normal request.
    rec.on_request_end = [&](int32_t sid) {
      REQUIRE((*server)->submitResponse(sid, 204, Headers{}, true).ok());
    };
    int32_t next = attacker.get();
    REQUIRE((*server)->receive(attacker.send()).ok());
    attacker.receive(drain(**server));
    CHECK(attacker.statuses[next] == "204");
  }

  TEST_CASE("a header list just under the size cap is delivered") {
    Wire w;
    Headers fat;
    for (int i = 0; i < 30; ++i) fat.add("x-f" + std::to_string(i), std::string(2000, 'b'));
    auto id = w.client->submitRequest("GET", "https", "h", "/", fat, true);
    REQUIRE(id.ok());
    w.pump();
    REQUIRE(w.server_rec.reqs.count(*id) == 1);
    CHECK(w.server_rec.reqs.at(*id).head.headers.size() == 30);
  }

  // Frames that move nothing, by the thousand: nghttp2 accepts them all; the session's bounds
  // end the connection (GOAWAY ENHANCE_YOUR_CALM) and name the flood.
  TEST_CASE("floods of frames that do no work end the connection with GOAWAY") {
    struct Flood {
      const char* reason;
      std::string frame;  // one frame of the flood
      size_t harmless;    // this many in a row are still fine
    };
    std::string priority_payload("\0\0\0\0\x0f", 5);  // depends on stream 0, weight 16
    std::string increment_1("\0\0\0\x01", 4);
    Flood flood;
    SUBCASE("empty DATA without END_STREAM") {
      flood = {"empty_frames", frameHeader(0, NGHTTP2_DATA, 0, 1), 50};
    }
    SUBCASE("PRIORITY") {
      flood = {"priority_flood", frameHeader(5, NGHTTP2_PRIORITY, 0, 3) + priority_payload, 150};
    }
    SUBCASE("WINDOW_UPDATE of 1 on the connection") {
      flood = {"window_update_flood", frameHeader(4, NGHTTP2_WINDOW_UPDATE, 0, 0) + increment_1,
               90};
    }
    // A POST whose body is still open: HPACK :method POST (0x83), :scheme https (0x87),
    // :path / (0x84), :authority h (literal, static name 1).
    std::string start = NGHTTP2_CLIENT_MAGIC;
    start += frameHeader(0, NGHTTP2_SETTINGS, 0, 0);
    start += frameHeader(6, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1);
    start += "\x83\x87\x84\x01\x01h";

    // Under the bound: served as usual, the body that follows arrives.
    {
      ServerRecorder rec;
      auto server = Http2ServerSession::create(rec);
      REQUIRE(server.ok());
      rec.session = server->get();
      std::string wire = start;
      for (size_t i = 0; i < flood.harmless; ++i) wire += flood.frame;
      wire += frameHeader(3, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1) + "abc";
      REQUIRE((*server)->receive(wire).ok());
      CHECK((*server)->abuseReason().empty());
      REQUIRE(rec.reqs.count(1) == 1);
      CHECK(rec.reqs.at(1).body == "abc");
      CHECK(rec.reqs.at(1).ended);
    }
    // Far past it: GOAWAY, and nothing read after the frame that broke the bound.
    ServerRecorder rec;
    auto server = Http2ServerSession::create(rec);
    REQUIRE(server.ok());
    rec.session = server->get();
    std::string wire = start;
    for (int i = 0; i < 10000; ++i) wire += flood.frame;
    wire += frameHeader(3, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1) + "abc";
    auto r = (*server)->receive(wire);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "h2_abuse");
    CHECK((*server)->abuseReason() == flood.reason);
    RawClient probe;  // parses the server's frames
    probe.receive(drain(**server));
    CHECK(probe.got_goaway);
    CHECK(probe.goaway_code == NGHTTP2_ENHANCE_YOUR_CALM);
    CHECK(rec.reqs.at(1).body.empty());
    CHECK((*server)->finished());
  }

  TEST_CASE("the WINDOW_UPDATEs of a long download stay within their bound") {
    // 2 MiB through a 64 KiB stream window: the client reopens the window again and again (one
    // WINDOW_UPDATE per stream and per connection for each DATA frame it consumed, at most).
    Wire w;
    const std::string body = h2test::patternBytes(2 << 20);
    w.server_rec.on_request_end = [&](int32_t id) {
      REQUIRE(w.server->submitResponse(id, 200, Headers{}, false).ok());
      REQUIRE(w.server->submitData(id, body, true).ok());
    };
    auto id = w.client->submitRequest("GET", "https", "h", "/", Headers{}, true);
    REQUIRE(id.ok());
    w.pump();
    CHECK(w.client_rec.resps.at(*id).body == body);
    CHECK(w.server->abuseReason().empty());
    CHECK(w.client_rec.goaways == 0);
  }

  TEST_CASE("a server that must reset stream after stream ends the connection") {
    Http2Options opts;
    opts.own_reset_burst = 20;
    opts.own_reset_per_second = 1;
    Wire w(opts);
    w.server_rec.on_headers = [&](int32_t id) {
      (void)w.server->resetStream(id, kH2RefusedStream);
    };
    w.pump();
    for (int round = 0; round < 5 && w.client_rec.goaways == 0; ++round) {
      for (int i = 0; i < 10 && w.client->canOpenStream(); ++i) {
        REQUIRE(w.client->submitRequest("GET", "https", "h", "/", Headers{}, true).ok());
      }
      w.pump();
    }
    CHECK(w.client_rec.goaways == 1);
    CHECK(w.client_rec.goaway_code == kH2EnhanceYourCalm);
    CHECK(w.server->abuseReason() == "reset_budget");
  }

  // RFC 9113 §5.1.1. HPACK blocks by hand: GET (0x82) / POST (0x83), :scheme https (0x87),
  // :path / (0x84), :authority h (literal, static name 1); a trailer x-t: v (literal, new name).
  TEST_CASE("a HEADERS frame on a stream id that goes backwards ends the connection") {
    const std::string get_block = "\x82\x87\x84\x01\x01h";
    const std::string post_block = "\x83\x87\x84\x01\x01h";
    const std::string trailer_block = std::string("\x00\x03x-t\x01v", 7);
    const uint8_t end = NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM;
    std::string start = NGHTTP2_CLIENT_MAGIC;
    start += frameHeader(0, NGHTTP2_SETTINGS, 0, 0);
    ServerRecorder rec;
    auto server = Http2ServerSession::create(rec);
    REQUIRE(server.ok());
    rec.session = server->get();

    SUBCASE("lower than a stream already opened: GOAWAY PROTOCOL_ERROR, not delivered") {
      std::string wire = start;
      wire += frameHeader(6, NGHTTP2_HEADERS, end, 5) + get_block;
      wire += frameHeader(6, NGHTTP2_HEADERS, end, 3) + get_block;
      auto r = (*server)->receive(wire);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == "h2_protocol");
      CHECK(rec.reqs.count(5) == 1);
      CHECK(rec.reqs.count(3) == 0);
      RawClient probe;
      probe.receive(drain(**server));
      CHECK(probe.got_goaway);
      CHECK(probe.goaway_code == NGHTTP2_PROTOCOL_ERROR);
      CHECK((*server)->finished());
    }
    SUBCASE("equal to a stream that has ended: GOAWAY STREAM_CLOSED (nghttp2 still knows it)") {
      std::string wire = start + frameHeader(6, NGHTTP2_HEADERS, end, 1) + get_block;
      REQUIRE((*server)->receive(wire).ok());
      REQUIRE(rec.reqs.count(1) == 1);
      REQUIRE((*server)->submitResponse(1, 200, Headers{}, true).ok());
      std::string out = drain(**server);  // stream 1 ended both ways, without a reset
      CHECK((*server)->streamCount() == 0);
      (void)(*server)->receive(frameHeader(6, NGHTTP2_HEADERS, end, 1) + get_block);
      CHECK(goawayCode(out) == -1);
      CHECK(goawayCode(drain(**server)) == NGHTTP2_STREAM_CLOSED);
      CHECK(rec.reqs.size() == 1);
    }
    SUBCASE("trailers on an open stream below the highest are delivered") {
      std::string wire = start;
      wire += frameHeader(6, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1) + post_block;
      wire += frameHeader(6, NGHTTP2_HEADERS, end, 3) + get_block;
      wire += frameHeader(7, NGHTTP2_HEADERS, end, 1) + trailer_block;
      REQUIRE((*server)->receive(wire).ok());
      REQUIRE(rec.reqs.count(1) == 1);
      CHECK(rec.reqs.at(1).ended);
      CHECK(rec.reqs.at(1).trailers.find("x-t") != nullptr);
      CHECK(rec.reqs.count(3) == 1);
      CHECK((*server)->abuseReason().empty());
    }
    SUBCASE("trailers crossing the server's reset of their stream are ignored") {
      std::string wire = start;
      wire += frameHeader(6, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1) + post_block;
      wire += frameHeader(6, NGHTTP2_HEADERS, end, 3) + get_block;
      REQUIRE((*server)->receive(wire).ok());
      REQUIRE((*server)->resetStream(1, NGHTTP2_CANCEL).ok());
      std::string out = drain(**server);  // the RST_STREAM is out; the client has not seen it
      wire = frameHeader(7, NGHTTP2_HEADERS, end, 1) + trailer_block;
      REQUIRE((*server)->receive(wire).ok());
      CHECK((*server)->abuseReason().empty());
      CHECK(goawayCode(out + drain(**server)) == -1);
      // ... and the connection goes on.
      REQUIRE((*server)->receive(frameHeader(6, NGHTTP2_HEADERS, end, 5) + get_block).ok());
      CHECK(rec.reqs.count(5) == 1);
    }
  }
}

}  // namespace
}  // namespace aiw
