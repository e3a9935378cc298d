// The HTTP/2 codec end to end in memory: a client session and a server session joined by a wire.
#include <doctest/doctest.h>

#include <string>

#include "http/http2_client_session.h"
#include "http/http2_server_session.h"
#include "unit/http/http2_test_util.h"

namespace aiw {
namespace {

using h2test::kNotReset;
using h2test::patternBytes;
using h2test::Wire;

Headers fields(std::initializer_list<std::pair<const char*, const char*>> list) {
  Headers h;
  for (auto& [n, v] : list) h.add(n, v);
  return h;
}

TEST_SUITE("http2 session") {
  TEST_CASE("a GET and its response arrive with every pseudo-header and field") {
    Wire w;
    w.server_rec.on_request_end = [&](int32_t id) {
      REQUIRE(
          w.server->submitResponse(id, 200, fields({{"content-type", "text/plain"}}), false).ok());
      REQUIRE(w.server->submitData(id, std::string_view("hello"), true).ok());
    };
    auto id = w.client->submitRequest("GET", "https", "api.example.com", "/v1/models?x=1",
                                      fields({{"Accept", "*/*"}, {"user-agent", "t"}}), true);
    REQUIRE(id.ok());
    w.pump();
    auto& req = w.server_rec.reqs.at(*id);
    CHECK(req.head.method == "GET");
    CHECK(req.head.scheme == "https");
    CHECK(req.head.authority == "api.example.com");
    CHECK(req.head.path == "/v1/models?x=1");
    CHECK(req.headers_end);
    REQUIRE(req.head.headers.size() == 2);
    CHECK(req.head.headers.fields()[0].name == "accept");  // lower-cased on the way out
    CHECK(*req.head.headers.find("user-agent") == "t");
    auto& resp = w.client_rec.resps.at(*id);
    CHECK(resp.statuses == std::vector<uint16_t>{200});
    CHECK(*resp.headers.find("content-type") == "text/plain");
    CHECK(resp.body == "hello");
    CHECK(resp.ended);
    CHECK(resp.closed);
    CHECK(resp.close_code == kH2NoError);
    CHECK(req.closed);
    CHECK(w.server->streamCount() == 0);
    CHECK(w.client->streamCount() == 0);
  }

  TEST_CASE("a POST with a 1 MiB body and a 1 MiB response arrive byte-identical") {
    Wire w;
    const std::string up = patternBytes(1 << 20, 7);
    const std::string down = patternBytes(1 << 20, 9);
    w.server_rec.on_request_end = [&](int32_t id) {
      REQUIRE(w.server->submitResponse(id, 200, Headers{}, false).ok());
      // In pieces, as a proxy forwards what the upstream delivers.
      for (size_t off = 0; off < down.size(); off += 10000) {
        bool last = off + 10000 >= down.size();
        REQUIRE(w.server->submitData(id, std::string_view(down).substr(off, 10000), last).ok());
      }
    };
    auto id = w.client->submitRequest("POST", "https", "h", "/upload",
                                      fields({{"content-length", "1048576"}}), false);
    REQUIRE(id.ok());
    REQUIRE(w.client->submitData(*id, up, true).ok());
    CHECK(w.client->outboundQueued(*id) == up.size());
    w.pump();
    CHECK(w.server_rec.reqs.at(*id).body == up);
    CHECK(w.server_rec.reqs.at(*id).ended);
    CHECK(w.client_rec.resps.at(*id).body == down);
    CHECK(w.client_rec.resps.at(*id).ended);
    CHECK(w.client->outboundQueuedTotal() == 0);
    CHECK(w.server->outboundQueuedTotal() == 0);
  }

  TEST_CASE("100 concurrent streams each get their own response") {
    Wire w;
    w.server_rec.on_request_end = [&](int32_t id) {
      const std::string& path = w.server_rec.reqs.at(id).head.path;
      REQUIRE(w.server->submitResponse(id, 200, Headers{}, false).ok());
      REQUIRE(w.server->submitData(id, "answer to " + path, true).ok());
    };
    w.pump();  // SETTINGS both ways: the client learns the server's limit of 100
    std::map<int32_t, std::string> paths;
    for (int i = 0; i < 100; ++i) {
      std::string path = "/r/" + std::to_string(i);
      auto id = w.client->submitRequest("GET", "https", "h", path, Headers{}, true);
      REQUIRE(id.ok());
      paths[*id] = path;
    }
    CHECK(w.client->availableStreams() == 0);
    w.pump();
    REQUIRE(w.client_rec.resps.size() == 100);
    for (auto& [id, path] : paths) {
      CHECK(w.client_rec.resps.at(id).body == "answer to " + path);
      CHECK(w.client_rec.resps.at(id).closed);
    }
    CHECK(w.client->availableStreams() == 100);
  }

  TEST_CASE("the client respects the server's MAX_CONCURRENT_STREAMS") {
    Http2Options server_opts;
    server_opts.max_concurrent_streams = 10;
    Wire w(server_opts);
    CHECK(w.client->availableStreams() == 100);  // assumed (our own limit) before SETTINGS
    w.pump();
    CHECK(w.client->peerMaxConcurrentStreams() == 10);
    CHECK(w.client->availableStreams() == 10);
    std::vector<int32_t> ids;
    for (int i = 0; i < 10; ++i) {
      auto id = w.client->submitRequest("GET", "https", "h", "/", Headers{}, true);
      REQUIRE(id.ok());
      ids.push_back(*id);
    }
    CHECK_FALSE(w.client->canOpenStream());
    auto refused = w.client->submitRequest("GET", "https", "h", "/", Headers{}, true);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == "no_stream_capacity");
    w.pump();
    CHECK(w.server_rec.reqs.size() == 10);
    REQUIRE(w.server->submitResponse(ids[3], 204, Headers{}, true).ok());
    w.pump();
    CHECK(w.client->availableStreams() == 1);
  }

  TEST_CASE("flow control: the client stops at the window until the server consumes") {
    Wire w;
    w.server_rec.auto_consume = false;
    const std::string body = patternBytes(200000, 3);
    auto id = w.client->submitRequest("POST", "https", "h", "/", Headers{}, false);
    REQUIRE(id.ok());
    REQUIRE(w.client->submitData(*id, body, true).ok());
    w.pump();
    auto& req = w.server_rec.reqs.at(*id);
    // The stream window (65535) is all the client may send before a WINDOW_UPDATE.
    CHECK(req.body.size() == 65535);
    CHECK(w.server->unconsumed(*id) == 65535);
    CHECK(w.client->outboundQueued(*id) == body.size() - 65535);
    w.pump();  // nothing moves without consumed()
    CHECK(req.body.size() == 65535);

    w.server->consumed(*id, 40000);
    w.pump();
    CHECK(req.body.size() == 65535 + 40000);
    CHECK(w.server->unconsumed(*id) == 65535);
    int rounds = 0;
    while (!req.ended && rounds++ < 100) {
      w.server->consumed(*id, w.server->unconsumed(*id));
      w.pump();
    }
    CHECK(req.ended);
    CHECK(req.body == body);
  }

  TEST_CASE("flow control holds the response too when the client does not consume") {
    Wire w;
    w.client_rec.auto_consume = false;
    const std::string body = patternBytes(100000, 5);
    w.server_rec.on_request_end = [&](int32_t id) {
      REQUIRE(w.server->submitResponse(id, 200, Headers{}, false).ok());
      REQUIRE(w.server->submitData(id, body, true).ok());
    };
    auto id = w.client->submitRequest("GET", "https", "h", "/", Headers{}, true);
    REQUIRE(id.ok());
    w.pump();
    CHECK(w.client_rec.resps.at(*id).body.size() == 65535);
    CHECK(w.server->outboundQueued(*id) == body.size() - 65535);
    w.client->consumed(*id, 65535);
    w.pump();
    CHECK(w.client_rec.resps.at(*id).body == body);
  }

  TEST_CASE("a reset from the client reaches onStreamReset and closes the stream") {
    Wire w;
    auto id = w.client->submitRequest("POST", "https", "h", "/", Headers{}, false);
    REQUIRE(id.ok());
    REQUIRE(w.client->submitData(*id, std::string_view("partial"), false).ok());
    w.pump();
    REQUIRE(w.server_rec.reqs.count(*id) == 1);
    CHECK(w.server_rec.reqs.at(*id).reset == kNotReset);
    REQUIRE(w.client->resetStream(*id, kH2Cancel).ok());
    w.pump();
    auto& req = w.server_rec.reqs.at(*id);
    CHECK(req.reset == kH2Cancel);
    CHECK(req.closed);
    CHECK(req.close_code == kH2Cancel);
    CHECK_FALSE(req.ended);
    CHECK(w.server->streamCount() == 0);
    CHECK(w.client_rec.resps.at(*id).close_code == kH2Cancel);
  }

  TEST_CASE("a reset from the server closes the client's stream with its code") {
    Wire w;
    w.server_rec.on_headers = [&](int32_t id) {
      REQUIRE(w.server->resetStream(id, kH2RefusedStream).ok());
    };
    auto id = w.client->submitRequest("GET", "https", "h", "/", Headers{}, true);
    REQUIRE(id.ok());
    w.pump();
    CHECK(w.client_rec.resps.at(*id).closed);
    CHECK(w.client_rec.resps.at(*id).close_code == kH2RefusedStream);
  }

  TEST_CASE("trailers travel both ways after the body") {
    Wire w;
    w.server_rec.on_request_end = [&](int32_t id) {
      REQUIRE(
          w.server->submitResponse(id, 200, fields({{"content-type", "application/grpc"}}), false)
              .ok());
      REQUIRE(w.server->submitData(id, std::string_view("reply"), false).ok());
      REQUIRE(w.server->submitTrailers(id, fields({{"grpc-status", "0"}})).ok());
    };
    auto id =
        w.client->submitRequest("POST", "https", "h", "/svc", fields({{"te", "trailers"}}), false);
    REQUIRE(id.ok());
    REQUIRE(w.client->submitData(*id, std::string_view("question"), false).ok());
    REQUIRE(w.client->submitTrailers(*id, fields({{"X-Checksum", "abc"}})).ok());
    CHECK(w.client->submitData(*id, std::string_view("late"), false).error().code ==
          "stream_ended");
    w.pump();
    auto& req = w.server_rec.reqs.at(*id);
    CHECK(*req.head.headers.find("te") == "trailers");
    CHECK(req.body == "question");
    CHECK(req.ended);
    REQUIRE(req.trailers.size() == 1);
    CHECK(*req.trailers.find("x-checksum") == "abc");
    auto& resp = w.client_rec.resps.at(*id);
    CHECK(resp.body == "reply");
    CHECK(resp.ended);
    CHECK(*resp.trailers.find("grpc-status") == "0");
  }

  TEST_CASE("a 100 Continue reaches the client before the final response") {
    Wire w;
    w.server_rec.on_headers = [&](int32_t id) {
      REQUIRE(w.server->submitInformational(id, 100, Headers{}).ok());
    };
    w.server_rec.on_request_end = [&](int32_t id) {
      REQUIRE(w.server->submitResponse(id, 201, Headers{}, true).ok());
    };
    auto id = w.client->submitRequest("PUT", "https", "h", "/",
                                      fields({{"expect", "100-continue"}}), false);
    REQUIRE(id.ok());
    w.pump();
    CHECK(w.client_rec.resps.at(*id).statuses == std::vector<uint16_t>{100});
    REQUIRE(w.client->submitData(*id, std::string_view("x"), true).ok());
    w.pump();
    CHECK(w.client_rec.resps.at(*id).statuses == std::vector<uint16_t>{100, 201});
    CHECK(w.client_rec.resps.at(*id).ended);
  }

  TEST_CASE("connection-specific and invalid fields never reach the wire") {
    Wire w;
    auto id = w.client->submitRequest("GET", "https", "h", "/",
                                      fields({{"Connection", "keep-alive"},
                                              {"Keep-Alive", "5"},
                                              {"Transfer-Encoding", "chunked"},
                                              {"Upgrade", "h2c"},
                                              {"Proxy-Connection", "x"},
                                              {"TE", "gzip"},
                                              {"x-ok", "1"}}),
                                      true);
    REQUIRE(id.ok());
    w.pump();
    auto& h = w.server_rec.reqs.at(*id).head.headers;
    REQUIRE(h.size() == 1);
    CHECK(h.fields()[0].name == "x-ok");
    auto bad =
        w.client->submitRequest("GET", "https", "h", "/", fields({{"x", "a\r\nb: c"}}), true);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == "invalid_field");
  }

  TEST_CASE("a GOAWAY from the server stops new streams on the client") {
    Wire w;
    w.pump();
    REQUIRE(w.server->goaway(kH2NoError, "shutdown").ok());
    w.pump();
    CHECK(w.client_rec.goaways == 1);
    CHECK(w.client_rec.goaway_code == kH2NoError);
    CHECK(w.client->availableStreams() == 0);
  }

  TEST_CASE("a session refuses bytes that are not HTTP/2 with a protocol error") {
    h2test::ServerRecorder rec;
    auto s = Http2ServerSession::create(rec);
    REQUIRE(s.ok());
    auto r = (*s)->receive("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "h2_protocol");
  }
}

}  // namespace
}  // namespace aiw
