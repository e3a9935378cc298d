// Test doubles for the HTTP/2 codec: recording handlers and an in-memory wire between a client
// session and a server session (the bytes of one are fed to the other).
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/buffer.h"
#include "http/http2_client_session.h"
#include "http/http2_server_session.h"

namespace aiw::h2test {

constexpr uint32_t kNotReset = 0xffffffffu;

struct ServerRecorder : Http2ServerHandler {
  struct Req {
    Http2RequestHead head;
    bool headers_end = false;
    std::string body;
    bool ended = false;
    Headers trailers;
    uint32_t reset = kNotReset;
    bool closed = false;
    uint32_t close_code = kNotReset;
  };
  std::map<int32_t, Req> reqs;
  Http2ServerSession* session = nullptr;
  bool auto_consume = true;
  std::function<void(int32_t)> on_request_end;  // the request (body included) is complete
  std::function<void(int32_t)> on_headers;
  int goaways = 0;

  void onRequestHeaders(int32_t id, Http2RequestHead& head, bool end_stream) override {
    auto& r = reqs[id];
    r.head = std::move(head);
    r.headers_end = end_stream;
    if (on_headers) on_headers(id);
    if (end_stream) finish(id);
  }
  void onRequestData(int32_t id, std::string_view data, bool end_stream) override {
    auto& r = reqs[id];
    if (!end_stream) CHECK(!data.empty());
    r.body.append(data);
    if (auto_consume && !data.empty()) session->consumed(id, data.size());
    if (end_stream) finish(id);
  }
  void onRequestTrailers(int32_t id, Headers& trailers) override {
    reqs[id].trailers = trailers;
    finish(id);
  }
  void onStreamReset(int32_t id, uint32_t code) override { reqs[id].reset = code; }
  void onStreamClosed(int32_t id, uint32_t code) override {
    reqs[id].closed = true;
    reqs[id].close_code = code;
  }
  void onGoaway(uint32_t, int32_t) override { ++goaways; }
  void finish(int32_t id) {
    reqs[id].ended = true;
    if (on_request_end) on_request_end(id);
  }
};

struct ClientRecorder : Http2ClientHandler {
  struct Resp {
    std::vector<uint16_t> statuses;
    Headers headers;
    std::string body;
    bool ended = false;
    Headers trailers;
    bool closed = false;
    uint32_t close_code = kNotReset;
  };
  std::map<int32_t, Resp> resps;
  Http2ClientSession* session = nullptr;
  bool auto_consume = true;
  int goaways = 0;
  uint32_t goaway_code = kNotReset;

  void onResponseHeaders(int32_t id, uint16_t status, Headers& headers, bool end_stream) override {
    auto& r = resps[id];
    r.statuses.push_back(status);
    if (status >= 200) r.headers = headers;
    if (end_stream) r.ended = true;
  }
  void onResponseData(int32_t id, std::string_view data, bool end_stream) override {
    auto& r = resps[id];
    r.body.append(data);
    if (auto_consume && !data.empty()) session->consumed(id, data.size());
    if (end_stream) r.ended = true;
  }
  void onResponseTrailers(int32_t id, Headers& trailers) override {
    resps[id].trailers = trailers;
    resps[id].ended = true;
  }
  void onStreamClosed(int32_t id, uint32_t code) override {
    resps[id].closed = true;
    resps[id].close_code = code;
  }
  void onGoaway(uint32_t code, int32_t) override {
    ++goaways;
    goaway_code = code;
  }
};

// A client and a server session joined by memory.
struct Wire {
  ServerRecorder server_rec;
  ClientRecorder client_rec;
  std::unique_ptr<Http2ServerSession> server;
  std::unique_ptr<Http2ClientSession> client;

  explicit Wire(const Http2Options& server_opts = {}, const Http2Options& client_opts = {}) {
    auto s = Http2ServerSession::create(server_rec, server_opts);
    REQUIRE(s.ok());
    server = std::move(s.value());
    auto c = Http2ClientSession::create(client_rec, client_opts);
    REQUIRE(c.ok());
    client = std::move(c.value());
    server_rec.session = server.get();
    client_rec.session = client.get();
  }

  // Moves bytes both ways until neither side has anything to send. Returns the rounds taken.
  int pump(int max_rounds = 10000) {
    for (int i = 0; i < max_rounds; ++i) {
      Buffer to_server;
      REQUIRE(client->drainOutput(to_server).ok());
      if (!to_server.empty()) REQUIRE(server->receive(to_server.view()).ok());
      Buffer to_client;
      REQUIRE(server->drainOutput(to_client).ok());
      if (!to_client.empty()) REQUIRE(client->receive(to_client.view()).ok());
      if (to_server.empty() && to_client.empty()) return i;
    }
    FAIL("the sessions never went quiet");
    return max_rounds;
  }
};

inline std::string patternBytes(size_t n, uint32_t seed = 1) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 16);
  }
  return s;
}

}  // namespace aiw::h2test
