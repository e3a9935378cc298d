#include "http/http1_parser.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace aiw {
namespace {

// Records every event; actions are configurable per test.
struct Recorder : Http1ParserCallbacks {
  std::vector<RequestHead> requests;
  std::vector<ResponseHead> responses;
  std::vector<std::string> bodies{std::string()};  // one per message, last is the current one
  std::vector<Headers> trailers;
  size_t body_calls = 0;
  size_t completes = 0;
  HeadAction head_action = HeadAction::Continue;
  bool pause_on_complete = false;
  size_t pause_body_after = SIZE_MAX;  // pause once this many body bytes arrived in total

  HeadAction onRequestHead(RequestHead& head) override {
    requests.push_back(head);
    return head_action;
  }
  HeadAction onResponseHead(ResponseHead& head) override {
    responses.push_back(head);
    return head_action;
  }
  FlowAction onBody(const char* data, size_t len) override {
    CHECK(len > 0);
    ++body_calls;
    bodies.back().append(data, len);
    if (bodies.back().size() >= pause_body_after) {
      pause_body_after = SIZE_MAX;
      return FlowAction::Pause;
    }
    return FlowAction::Continue;
  }
  FlowAction onMessageComplete(Headers& t) override {
    ++completes;
    trailers.push_back(t);
    bodies.emplace_back();
    return pause_on_complete ? FlowAction::Pause : FlowAction::Continue;
  }
  const std::string& body(size_t i) const { return bodies.at(i); }
};

struct FeedOutcome {
  size_t consumed = 0;
  bool ok = true;
};

// Feeds `input` in pieces of `step` bytes as a socket would, handing the unconsumed tail back
// on the next read; stops at the first error or when the parser consumes nothing.
FeedOutcome feedInPieces(Http1Parser& p, const std::string& input, size_t step) {
  FeedOutcome out;
  std::string pending;
  size_t next = 0;
  while (next < input.size() || !pending.empty()) {
    if (next < input.size()) {
      size_t n = std::min(step, input.size() - next);
      pending.append(input, next, n);
      next += n;
    }
    auto r = p.feed(pending);
    if (!r) {
      out.ok = false;
      return out;
    }
    out.consumed += r.value();
    pending.erase(0, r.value());
    if (r.value() == 0 && next >= input.size()) break;
    if (p.state() != Http1ParserState::Ready) break;
  }
  return out;
}

const size_t kSteps[] = {SIZE_MAX, 1, 2, 3, 7};

std::string chunkedPost(const std::string& chunks) {
  return "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks;
}

// Parses `input` as one request in every piece size; returns the error status (0 when it parsed
// without error) and checks that all piece sizes agree.
uint16_t requestStatus(const std::string& input, size_t max_header_bytes = 65536) {
  uint16_t first = 0xffff;
  for (size_t step : kSteps) {
    Recorder rec;
    Http1Parser p(Http1Parser::Type::Request, rec, max_header_bytes);
    auto out = feedInPieces(p, input, step);
    uint16_t status = out.ok ? 0 : p.errorStatus();
    if (!out.ok) {
      CHECK(p.state() == Http1ParserState::Failed);
      CHECK(!p.error().message.empty());
    }
    if (first == 0xffff) {
      first = status;
    } else {
      INFO("step " << step << " input: " << input);
      CHECK(status == first);
    }
  }
  return first;
}

uint16_t responseStatus(const std::string& input) {
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Response, rec);
  auto out = feedInPieces(p, input, SIZE_MAX);
  return out.ok ? 0 : p.errorStatus();
}

TEST_CASE("parses a simple GET with its headers and keep-alive") {
  std::string in = "GET /v1/models?x=1 HTTP/1.1\r\nHost: api.example.com\r\nAccept: */*  \r\n\r\n";
  for (size_t step : kSteps) {
    Recorder rec;
    Http1Parser p(Http1Parser::Type::Request, rec);
    auto out = feedInPieces(p, in, step);
    REQUIRE(out.ok);
    CHECK(out.consumed == in.size());
    REQUIRE(rec.requests.size() == 1);
    const auto& h = rec.requests[0];
    CHECK(h.method == "GET");
    CHECK(h.target == "/v1/models?x=1");
    CHECK(h.version_major == 1);
    CHECK(h.version_minor == 1);
    REQUIRE(h.headers.size() == 2);
    CHECK(h.headers.fields()[0].name == "Host");
    CHECK(*h.headers.find("host") == "api.example.com");
    CHECK(*h.headers.find("Accept") == "*/*");  // trailing whitespace is not part of the value
    CHECK(h.keep_alive);
    CHECK_FALSE(h.upgrade);
    CHECK(h.framing == BodyFraming::None);
    CHECK_FALSE(h.hasBody());
    CHECK(h.head_bytes == in.size());
    CHECK(rec.completes == 1);
    CHECK(p.state() == Http1ParserState::Ready);
    CHECK_FALSE(p.messageInProgress());
  }
}

TEST_CASE("delivers a Content-Length body fed byte by byte as it arrives") {
  std::string body = "{\"model\":\"gpt-4o\",\"messages\":[]}";
  std::string in =
      "POST /v1/chat HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Request, rec);
  size_t head_len = in.size() - body.size();
  for (size_t i = 0; i < in.size(); ++i) {
    auto r = p.feed(in.data() + i, 1);
    REQUIRE(r);
    CHECK(r.value() == 1);
    if (i + 1 == head_len) {
      CHECK(rec.requests.size() == 1);
      CHECK(p.inBody());
    }
    if (i + 1 < in.size()) CHECK(rec.completes == 0);
  }
  REQUIRE(rec.requests.size() == 1);
  CHECK(rec.requests[0].framing == BodyFraming::ContentLength);
  CHECK(rec.requests[0].content_length == body.size());
  CHECK(rec.body(0) == body);
  CHECK(rec.body_calls == body.size());  // streamed, never gathered
  CHECK(p.bodyBytes() == body.size());
  CHECK(rec.completes == 1);
}

TEST_CASE("parses a chunked body with chunk extensions and trailers") {
  std::string in = chunkedPost(
      "5;name=value\r\nhello\r\n6;quoted=\"a b\"\r\n world\r\n1;flag\r\n!\r\n0\r\n"
      "X-Checksum: abc\r\n\r\n");
  for (size_t step : kSteps) {
    Recorder rec;
    Http1Parser p(Http1Parser::Type::Request, rec);
    auto out = feedInPieces(p, in, step);
    REQUIRE(out.ok);
    CHECK(out.consumed == in.size());
    REQUIRE(rec.requests.size() == 1);
    CHECK(rec.requests[0].framing == BodyFraming::Chunked);
    CHECK(rec.requests[0].hasBody());
    CHECK(rec.body(0) == "hello world!");
    REQUIRE(rec.completes == 1);
    REQUIRE(rec.trailers[0].size() == 1);
    CHECK(*rec.trailers[0].find("x-checksum") == "abc");
  }
}

TEST_CASE("parses pipelined requests in one read") {
  std::string a = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string b = "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz";
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Request, rec);
  auto r = p.feed(a + b);
  REQUIRE(r);
  CHECK(r.value() == a.size() + b.size());
  REQUIRE(rec.requests.size() == 2);
  CHECK(rec.requests[0].target == "/a");
  CHECK(rec.requests[1].target == "/b");
  CHECK(rec.body(1) == "xyz");
  CHECK(rec.completes == 2);
}

TEST_CASE("holds a pipelined request when the caller pauses at message completion") {
  std::string a = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi";
  std::string b = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  Recorder rec;
  rec.pause_on_complete = true;
  Http1Parser p(Http1Parser::Type::Request, rec);
  std::string in = a + b;
  auto r = p.feed(in);
  REQUIRE(r);
  CHECK(r.value() == a.size());  // the second request stays with the caller
  CHECK(p.state() == Http1ParserState::Paused);
  CHECK(rec.requests.size() == 1);
  // While paused nothing is consumed.
  auto again = p.feed(in.data() + a.size(), b.size());
  REQUIRE(again);
  CHECK(again.value() == 0);
  p.resume();
  CHECK(p.state() == Http1ParserState::Ready);
  auto r2 = p.feed(in.data() + a.size(), b.size());
  REQUIRE(r2);
  CHECK(r2.value() == b.size());
  REQUIRE(rec.requests.size() == 2);
  CHECK(rec.requests[1].target == "/b");
  CHECK(p.state() == Http1ParserState::Paused);
}

TEST_CASE("pauses inside a body for back-pressure and goes on after resume") {
  std::string in = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789";
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Request, rec);
  // Two reads: the first ends in the middle of the body.
  std::string first = in.substr(0, in.size() - 6);  // body "0123"
  rec.pause_body_after = 2;
  auto r = p.feed(first);
  REQUIRE(r);
  CHECK(r.value() == first.size());  // the span "0123" was delivered whole, then paused
  CHECK(p.state() == Http1ParserState::Paused);
  CHECK(rec.body(0) == "0123");
  p.resume();
  auto r2 = p.feed(in.data() + first.size(), 6);
  REQUIRE(r2);
  CHECK(r2.value() == 6);
  CHECK(rec.body(0) == "0123456789");
  CHECK(rec.completes == 1);
}

TEST_CASE("completes the message after a pause on its last body bytes without more input") {
  std::string in = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd";
  Recorder rec;
  rec.pause_body_after = 4;
  Http1Parser p(Http1Parser::Type::Request, rec);
  auto r = p.feed(in);
  REQUIRE(r);
  CHECK(r.value() == in.size());
  CHECK(p.state() == Http1ParserState::Paused);
  CHECK(rec.completes == 0);
  p.resume();
  CHECK(rec.completes == 0);  // resume() runs no callback itself
  auto r2 = p.feed(nullptr, 0);
  REQUIRE(r2);
  CHECK(r2.value() == 0);
  CHECK(rec.completes == 1);
}

TEST_CASE("a head the caller stops at without a body completes on resume") {
  Recorder rec;
  rec.head_action = HeadAction::Stop;
  Http1Parser p(Http1Parser::Type::Request, rec);
  REQUIRE(p.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  CHECK(p.state() == Http1ParserState::Stopped);
  p.resume();
  REQUIRE(p.feed(nullptr, 0));
  CHECK(rec.completes == 1);
  CHECK(p.state() == Http1ParserState::Ready);
}

TEST_CASE("stops after a CONNECT head and leaves the tunnel bytes unconsumed") {
  std::string head = "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n";
  std::string tls = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
  for (size_t step : kSteps) {
    Recorder rec;
    Http1Parser p(Http1Parser::Type::Request, rec);
    auto out = feedInPieces(p, head + tls, step);
    REQUIRE(out.ok);
    CHECK(out.consumed == head.size());
    CHECK(p.state() == Http1ParserState::Stopped);
    REQUIRE(rec.requests.size() == 1);
    CHECK(rec.requests[0].isConnect());
    CHECK(rec.requests[0].upgrade);
    CHECK(rec.requests[0].target == "api.openai.com:443");
    CHECK(rec.completes == 1);
    // Further bytes are not HTTP/1 to this parser.
    auto r = p.feed(tls);
    REQUIRE(r);
    CHECK(r.value() == 0);
    CHECK(p.finish());
  }
}

TEST_CASE("stops when the head callback says Stop and can resume with the body") {
  std::string head = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n";
  std::string in = head + "abcd";
  Recorder rec;
  rec.head_action = HeadAction::Stop;
  Http1Parser p(Http1Parser::Type::Request, rec);
  auto r = p.feed(in);
  REQUIRE(r);
  CHECK(r.value() == head.size());
  CHECK(p.state() == Http1ParserState::Stopped);
  CHECK(rec.completes == 0);
  p.resume();
  auto r2 = p.feed(in.data() + head.size(), 4);
  REQUIRE(r2);
  CHECK(r2.value() == 4);
  CHECK(rec.body(0) == "abcd");
  CHECK(rec.completes == 1);
}

TEST_CASE("stops after a websocket upgrade request") {
  std::string head =
      "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Request, rec);
  auto r = p.feed(head + "\x81\x05hello");
  REQUIRE(r);
  CHECK(r.value() == head.size());
  CHECK(p.state() == Http1ParserState::Stopped);
  REQUIRE(rec.requests.size() == 1);
  CHECK(rec.requests[0].upgrade);
}

TEST_CASE("refuses every request smuggling shape with the right status") {
  struct Case {
    const char* name;
    std::string input;
    uint16_t status;
  };
  const std::string kGet = "GET / HTTP/1.1\r\nHost: h\r\n";
  std::vector<Case> cases = {
      {"Content-Length with Transfer-Encoding",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n",
       400},
      {"Transfer-Encoding with Content-Length",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
       "0\r\n\r\n",
       400},
      {"two equal Content-Length fields",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400},
      {"two different Content-Length fields",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400},
      {"Content-Length list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello",
       400},
      {"Content-Length with sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello",
       400},
      {"negative Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
      {"hex Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello", 400},
      {"empty Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", 400},
      {"huge Content-Length",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
      {"chunked not last",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400},
      {"coding before chunked",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
      {"coding before chunked on two lines",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
       "\r\n0\r\n\r\n",
       501},
      {"only another coding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
      {"identity coding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 400},
      {"chunked lookalike", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
       400},
      {"chunked twice on two lines",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
       "\r\n0\r\n\r\n",
       400},
      {"chunked twice in a list",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
      {"empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", 400},
      {"Transfer-Encoding in HTTP/1.0",
       "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"obs-fold with a space", kGet + "X-A: one\r\n two\r\n\r\n", 400},
      {"obs-fold with a tab", kGet + "X-A: one\r\n\ttwo\r\n\r\n", 400},
      {"obs-fold of Transfer-Encoding",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
      {"bare LF after the request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400},
      {"bare LF after a header", "GET / HTTP/1.1\r\nHost: h\n\r\n", 400},
      {"bare LF as the empty line", kGet + "\n", 400},
      {"bare LF everywhere", "GET / HTTP/1.1\nHost: h\n\n", 400},
      {"bare LF before the request line", "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"bare CR in a header value", kGet + "X-A: a\rb\r\n\r\n", 400},
      {"bare CR ending a header", kGet + "X-A: a\rX-B: b\r\n\r\n", 400},
      {"bare CR in the request line", "GET / HTTP/1.1\rHost: h\r\n\r\n", 400},
      {"space before the colon", kGet + "Content-Length : 5\r\n\r\nhello", 400},
      {"space inside a field name", kGet + "X A: b\r\n\r\n", 400},
      {"empty field name", kGet + ": b\r\n\r\n", 400},
      {"field line starting with whitespace", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400},
      {"NUL in a value", kGet + std::string("X-A: a\0b\r\n\r\n", 13), 400},
      {"control character in a value",
       kGet + "X-A: a\x01"
              "b\r\n\r\n",
       400},
      {"DEL in a value",
       kGet + "X-A: a\x7f"
              "b\r\n\r\n",
       400},
      {"missing Host in HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
      {"duplicate Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
      {"Host with userinfo", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400},
      {"Host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
      {"empty Host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", 400},
      {"Host naming another server than the absolute-form target",
       "GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", 400},
      {"Host naming another port than the absolute-form target",
       "GET http://a.example:8080/ HTTP/1.1\r\nHost: a.example\r\n\r\n", 400},
      {"Host with a port where the absolute-form target has the default",
       "GET http://a.example/ HTTP/1.1\r\nHost: a.example:8080\r\n\r\n", 400},
      {"Host naming another server than an https target",
       "GET https://a.example/ HTTP/1.1\r\nHost: b.example:443\r\n\r\n", 400},
      {"chunk size in hex notation", chunkedPost("0x5\r\nhello\r\n0\r\n\r\n"), 400},
      {"negative chunk size", chunkedPost("-5\r\nhello\r\n0\r\n\r\n"), 400},
      {"chunk size with trailing space", chunkedPost("5 \r\nhello\r\n0\r\n\r\n"), 400},
      {"chunk size overflow", chunkedPost("FFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n"), 400},
      {"empty chunk size", chunkedPost("\r\nhello\r\n0\r\n\r\n"), 400},
      {"chunk longer than its size", chunkedPost("3\r\nhello\r\n0\r\n\r\n"), 400},
      {"chunk size line with bare LF", chunkedPost("5\nhello\r\n0\r\n\r\n"), 400},
      {"chunk data ended by bare LF", chunkedPost("5\r\nhello\n0\r\n\r\n"), 400},
      {"bare CR after a chunk extension", chunkedPost("5;a=b\rhello\r\n0\r\n\r\n"), 400},
      {"bare CR after a chunk size", chunkedPost("5\rhello\r\n0\r\n\r\n"), 400},
      {"chunk extension with an empty name", chunkedPost("5;=v\r\nhello\r\n0\r\n\r\n"), 400},
      {"chunk extension with an empty value", chunkedPost("5;n=\r\nhello\r\n0\r\n\r\n"), 400},
      {"last chunk extension with an empty name", chunkedPost("5\r\nhello\r\n0;=v\r\n\r\n"), 400},
      {"chunk extension with a space in the value", chunkedPost("5;n=a b\r\nhello\r\n0\r\n\r\n"),
       400},
      {"chunk extension with a non-token name", chunkedPost("5;n@m=v\r\nhello\r\n0\r\n\r\n"), 400},
      {"chunk extension with a control character", chunkedPost("5;n=\x01\r\nhello\r\n0\r\n\r\n"),
       400},
      {"last chunk ended by bare LF", chunkedPost("5\r\nhello\r\n0\n\r\n"), 400},
      {"trailer section ended by bare LF", chunkedPost("5\r\nhello\r\n0\r\n\n"), 400},
      {"trailer ended by bare LF", chunkedPost("0\r\nX-T: 1\n\r\n"), 400},
      {"obs-fold in a trailer", chunkedPost("0\r\nX-T: 1\r\n 2\r\n\r\n"), 400},
      {"Content-Length in trailers", chunkedPost("0\r\nContent-Length: 5\r\n\r\n"), 400},
      {"Transfer-Encoding in trailers", chunkedPost("0\r\nTransfer-Encoding: chunked\r\n\r\n"),
       400},
      {"HTTP/0.9 request", "GET /\r\n\r\n", 400},
      {"HTTP/0.9 version", "GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505},
      {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505},
      {"HTTP/2.0 in an HTTP/1 request", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
      {"HTTP/3.0", "GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505},
      {"HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
      {"lower-case protocol name", "GET / http/1.1\r\nHost: h\r\n\r\n", 400},
      {"space after the version", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
      {"two spaces after the method", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"two spaces before the version", "GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"tab in the target", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"fragment in the target", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"non-ASCII in the target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"control character in the target", "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"unknown method", "FROB / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"lower-case method", "get / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"TLS bytes on a plain port", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400},
      {"CONNECT with a body length",
       "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 5\r\n\r\nhello", 400},
      {"CONNECT with chunked body",
       "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
  };
  for (const auto& c : cases) {
    INFO(std::string(c.name));
    CHECK(requestStatus(c.input) == c.status);
  }
}

TEST_CASE("refuses a bad head before any callback sees it") {
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Request, rec);
  auto r = p.feed("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == "malformed");
  CHECK(r.error().message.find("obs-fold") != std::string::npos);
  CHECK(rec.requests.empty());
  // A failed parser keeps failing with the same error.
  auto again = p.feed("GET / HTTP/1.1\r\n");
  REQUIRE_FALSE(again);
  CHECK(again.error().message == r.error().message);
  CHECK_FALSE(p.finish());
}

TEST_CASE("names the problem in the error") {
  struct Case {
    std::string input;
    const char* code;
    const char* words;
  };
  std::vector<Case> cases = {
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       "malformed", "Transfer-Encoding"},
      {"GET / HTTP/1.1\r\nAccept: x\r\n\r\n", "malformed", "without Host"},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "malformed", "more than one Host"},
      {"GET / HTTP/1.1\nHost: a\r\n\r\n", "malformed", "LF without CR"},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: br, chunked\r\n\r\n",
       "unsupported_transfer_encoding", "chunked"},
      {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", "unsupported_version", "2.0"},
      {"GET / HTTP/1.2\r\nHost: h\r\n\r\n", "unsupported_version", "1.2"},
  };
  for (const auto& c : cases) {
    INFO(c.input);
    Recorder rec;
    Http1Parser p(Http1Parser::Type::Request, rec);
    auto r = p.feed(c.input);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == c.code);
    CHECK(r.error().message.find(c.words) != std::string::npos);
  }
}

TEST_CASE("accepts what strictness must not refuse") {
  const std::vector<std::string> ok = {
      "GET / HTTP/1.0\r\n\r\n",                         // HTTP/1.0 needs no Host
      "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",          // empty line before (RFC 9112 §2.2)
      "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",     // IPv6 Host
      "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n",  // empty value
      "GET / HTTP/1.1\r\nHost: h\r\nX-A: caf\xc3\xa9\r\n\r\n",       // obs-text in a value
      "GET / HTTP/1.1\r\nHost: h\r\nX-A:\tv\t\r\n\r\n",              // tabs as OWS
      "GET /?q={\"a\":[1]}|x HTTP/1.1\r\nHost: h\r\n\r\n",           // unusual but visible ASCII
      "GET http://h.example/p HTTP/1.1\r\nHost: h.example\r\n\r\n",  // absolute-form
      "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",                       // asterisk-form
      "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nContent-Length: 0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n1234567",
      // Host and absolute-form authority compared as authorities: case, default port, the
      // trailing dot of a name.
      "GET http://H.example/p HTTP/1.1\r\nHost: h.EXAMPLE:80\r\n\r\n",
      "GET https://h.example/p HTTP/1.1\r\nHost: h.example:443\r\n\r\n",
      "GET http://h.example.:81/p HTTP/1.1\r\nHost: h.example:81\r\n\r\n",
      "GET http://[::1]:81/p HTTP/1.1\r\nHost: [::1]:81\r\n\r\n",
      // OWS around the coding is SP or HTAB (RFC 9110 §5.6.3).
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\tchunked\t\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked \t \r\n\r\n0\r\n\r\n",
      // Chunk extensions: a name alone, name=token, name=quoted-string (empty too).
      chunkedPost("5;n\r\nhello\r\n0\r\n\r\n"),
      chunkedPost("5;n=v\r\nhello\r\n0;last=1\r\n\r\n"),
      chunkedPost("5;n;m=v\r\nhello\r\n0\r\n\r\n"),
      chunkedPost("5;n=\"a ; b\"\r\nhello\r\n0\r\n\r\n"),
      chunkedPost("5;n=\"\"\r\nhello\r\n0\r\n\r\n"),
  };
  for (const auto& in : ok) {
    INFO(in);
    CHECK(requestStatus(in) == 0);
  }
}

TEST_CASE("a chunked coding followed by HTAB frames the body as chunked") {
  // llhttp 8.1 alone takes "chunked<HTAB>" for an unknown coding (a request it refuses, a
  // response it reads until close); the parser makes it read chunks, as the head says.
  for (size_t step : kSteps) {
    INFO("step " << step);
    Recorder rec;
    Http1Parser p(Http1Parser::Type::Request, rec);
    auto out = feedInPieces(
        p,
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\t\r\n\r\n5;n=v\r\nhello\r\n"
        "0\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
        step);
    REQUIRE(out.ok);
    REQUIRE(rec.requests.size() == 2);
    CHECK(rec.requests[0].framing == BodyFraming::Chunked);
    CHECK(rec.body(0) == "hello");
    CHECK(rec.requests[1].target == "/next");
  }
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Response, rec);
  auto r =
      p.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding:\tchunked\t\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  REQUIRE(r);
  REQUIRE(rec.responses.size() == 1);
  CHECK(rec.responses[0].framing == BodyFraming::Chunked);
  CHECK(rec.responses[0].keep_alive);
  CHECK(rec.completes == 1);
  CHECK(rec.body(0) == "hello");
}

TEST_CASE("names a Host that conflicts with the absolute-form target") {
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Request, rec);
  auto r = p.feed("GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n");
  REQUIRE_FALSE(r);
  CHECK(p.errorStatus() == 400);
  CHECK(r.error().message.find("Host does not match") != std::string::npos);
  CHECK(rec.requests.empty());
}

TEST_CASE("answers 431 when the head is larger than max_header_bytes") {
  std::string base = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
  const size_t max = 200;
  std::string pad_to_exact(max - base.size() - 4, 'a');
  std::string exact = base + pad_to_exact + "\r\n\r\n";
  REQUIRE(exact.size() == max);
  CHECK(requestStatus(exact, max) == 0);
  std::string one_more = base + pad_to_exact + "a\r\n\r\n";
  CHECK(requestStatus(one_more, max) == 431);  // also byte by byte (requestStatus feeds both ways)

  // A huge head in one read is cut off at the limit, before any callback.
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Request, rec, max);
  std::string huge = base + std::string(100000, 'a') + "\r\n\r\n";
  auto r = p.feed(huge);
  REQUIRE_FALSE(r);
  CHECK(p.errorStatus() == 431);
  CHECK(r.error().code == "header_too_large");
  CHECK(rec.requests.empty());

  // Many small header lines count as much as one big one.
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  while (many.size() < 2 * max) many += "A: b\r\n";
  CHECK(requestStatus(many + "\r\n", max) == 431);
}

TEST_CASE("counts each head separately for pipelined requests") {
  const size_t max = 64;
  std::string req = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";  // 29 bytes
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Request, rec, max);
  auto r = p.feed(req + req + req);
  REQUIRE(r);
  CHECK(rec.requests.size() == 3);
}

TEST_CASE("answers 431 for a trailer section larger than max_header_bytes") {
  std::string in = chunkedPost("1\r\na\r\n0\r\nX-T: " + std::string(300, 'x') + "\r\n\r\n");
  CHECK(requestStatus(in, 200) == 431);
}

TEST_CASE("computes keep-alive from the version and Connection") {
  struct Case {
    std::string head;
    bool keep_alive;
  };
  std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n", false},
  };
  for (const auto& c : cases) {
    INFO(c.head);
    Recorder rec;
    Http1Parser p(Http1Parser::Type::Request, rec);
    auto r = p.feed(c.head);
    REQUIRE(r);
    REQUIRE(rec.requests.size() == 1);
    CHECK(rec.requests[0].keep_alive == c.keep_alive);
    CHECK(p.state() == (c.keep_alive ? Http1ParserState::Ready : Http1ParserState::Closed));
  }
}

TEST_CASE("parses nothing after a request that closes the connection") {
  std::string a = "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Request, rec);
  auto r = p.feed(a + "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(r);
  CHECK(r.value() == a.size());
  CHECK(p.state() == Http1ParserState::Closed);
  CHECK(rec.requests.size() == 1);
  CHECK(p.finish());
}

TEST_CASE("finish reports a request cut off in its head or body") {
  {
    Recorder rec;
    Http1Parser p(Http1Parser::Type::Request, rec);
    REQUIRE(p.feed("GET / HTTP/1.1\r\nHo"));
    CHECK(p.messageInProgress());
    auto f = p.finish();
    REQUIRE_FALSE(f);
    CHECK(f.error().code == "incomplete_message");
  }
  {
    Recorder rec;
    Http1Parser p(Http1Parser::Type::Request, rec);
    REQUIRE(p.feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nabc"));
    auto f = p.finish();
    REQUIRE_FALSE(f);
    CHECK(f.error().code == "incomplete_message");
  }
  {
    Recorder rec;
    Http1Parser p(Http1Parser::Type::Request, rec);
    REQUIRE(p.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    CHECK(p.finish());  // between messages: a normal close
  }
}

TEST_CASE("reset makes a failed parser usable again") {
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Request, rec);
  REQUIRE_FALSE(p.feed("GET / HTTP/1.1\nHost: h\r\n\r\n"));
  p.reset();
  CHECK(p.state() == Http1ParserState::Ready);
  auto r = p.feed("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(r);
  REQUIRE(rec.requests.size() == 1);
  CHECK(rec.requests[0].target == "/ok");
}

TEST_CASE("SkipBody on a request still reads its body, never as the next request") {
  std::string in =
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 27\r\n\r\n"
      "GET /smuggled HTTP/1.1\r\n\r\n";
  Recorder rec;
  rec.head_action = HeadAction::SkipBody;
  Http1Parser p(Http1Parser::Type::Request, rec);
  auto r = p.feed(in);
  REQUIRE(r);
  CHECK(rec.requests.size() == 1);
  CHECK(rec.body(0) == "GET /smuggled HTTP/1.1\r\n\r\n");
}

TEST_CASE("refuses to be fed again from inside its own callback") {
  struct Reenter : Http1ParserCallbacks {
    Http1Parser* parser = nullptr;
    bool refused = false;
    HeadAction onRequestHead(RequestHead&) override {
      auto r = parser->feed("GET / HTTP/1.1\r\n");
      refused = !r && r.error().code == "misuse";
      return HeadAction::Continue;
    }
  } cb;
  Http1Parser p(Http1Parser::Type::Request, cb);
  cb.parser = &p;
  auto r = p.feed("GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
  REQUIRE(r);
  CHECK(cb.refused);
  CHECK(p.state() == Http1ParserState::Ready);
}

// ---- responses -------------------------------------------------------------------------

TEST_CASE("parses a response with a Content-Length body") {
  std::string in =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  for (size_t step : kSteps) {
    Recorder rec;
    Http1Parser p(Http1Parser::Type::Response, rec);
    auto out = feedInPieces(p, in, step);
    REQUIRE(out.ok);
    CHECK(out.consumed == in.size());
    REQUIRE(rec.responses.size() == 1);
    CHECK(rec.responses[0].status == 200);
    CHECK(rec.responses[0].reason == "OK");
    CHECK(rec.responses[0].framing == BodyFraming::ContentLength);
    CHECK(rec.responses[0].keep_alive);
    CHECK(rec.body(0) == "{}");
    CHECK(rec.completes == 1);
  }
}

TEST_CASE("streams a chunked SSE response as chunks arrive") {
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Response, rec);
  REQUIRE(p.feed(head));
  REQUIRE(p.feed("e\r\ndata: token1\n\n\r\n"));
  CHECK(rec.body(0) == "data: token1\n\n");
  REQUIRE(p.feed("e\r\ndata: token2\n\n\r\n"));
  CHECK(rec.body(0) == "data: token1\n\ndata: token2\n\n");
  CHECK(rec.completes == 0);
  REQUIRE(p.feed("0\r\n\r\n"));
  CHECK(rec.completes == 1);
}

TEST_CASE("skips the body of a response to HEAD and parses the next response") {
  std::string a = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
  std::string b = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
  Recorder rec;
  rec.head_action = HeadAction::SkipBody;
  Http1Parser p(Http1Parser::Type::Response, rec);
  auto r = p.feed(a);
  REQUIRE(r);
  CHECK(r.value() == a.size());
  REQUIRE(rec.completes == 1);
  CHECK(rec.body(0).empty());
  CHECK(rec.responses[0].framing == BodyFraming::ContentLength);  // as announced
  CHECK(rec.responses[0].content_length == 1234);
  rec.head_action = HeadAction::Continue;
  auto r2 = p.feed(b);
  REQUIRE(r2);
  CHECK(rec.body(1) == "hi");
}

TEST_CASE("a HEAD response without a length keeps the connection") {
  Recorder rec;
  rec.head_action = HeadAction::SkipBody;
  Http1Parser p(Http1Parser::Type::Response, rec);
  REQUIRE(p.feed("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"));
  CHECK(rec.completes == 1);
  CHECK(p.state() == Http1ParserState::Ready);
  CHECK(p.responseHead().keep_alive);
}

TEST_CASE("reads no body for 204 and 304 even when a length is announced") {
  for (const char* status : {"204 No Content", "304 Not Modified"}) {
    INFO(status);
    std::string a = std::string("HTTP/1.1 ") + status + "\r\nContent-Length: 5\r\n\r\n";
    std::string b = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
    Recorder rec;
    Http1Parser p(Http1Parser::Type::Response, rec);
    auto r = p.feed(a + b);
    REQUIRE(r);
    CHECK(r.value() == a.size() + b.size());
    REQUIRE(rec.responses.size() == 2);
    CHECK(rec.responses[0].framing == BodyFraming::None);
    CHECK(rec.body(0).empty());
    CHECK(rec.body(1) == "x");
  }
}

TEST_CASE("delivers 1xx responses as messages before the final response") {
  std::string in =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Response, rec);
  auto r = p.feed(in);
  REQUIRE(r);
  CHECK(r.value() == in.size());
  REQUIRE(rec.responses.size() == 3);
  CHECK(rec.responses[0].status == 100);
  CHECK(rec.responses[0].isInformational());
  CHECK(rec.responses[1].status == 103);
  CHECK(rec.responses[2].status == 201);
  CHECK(rec.body(2) == "ok");
}

TEST_CASE("an HTTP/1.0 100 Continue does not end the connection") {
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Response, rec);
  std::string in = "HTTP/1.0 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx";
  auto r = p.feed(in);
  REQUIRE(r);
  CHECK(r.value() == in.size());
  CHECK(rec.responses.size() == 2);
  CHECK(p.state() == Http1ParserState::Closed);  // the final HTTP/1.0 response does
}

TEST_CASE("a body delimited by close ends with finish") {
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Response, rec);
  REQUIRE(p.feed("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome "));
  REQUIRE(rec.responses.size() == 1);
  CHECK(rec.responses[0].framing == BodyFraming::UntilClose);
  CHECK_FALSE(rec.responses[0].keep_alive);
  REQUIRE(p.feed("bytes"));
  CHECK(rec.completes == 0);
  REQUIRE(p.finish());
  CHECK(rec.completes == 1);
  CHECK(rec.body(0) == "some bytes");
  CHECK(p.state() == Http1ParserState::Closed);
}

TEST_CASE("finish reports a response cut off before its length") {
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Response, rec);
  REQUIRE(p.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
  auto f = p.finish();
  REQUIRE_FALSE(f);
  CHECK(f.error().code == "incomplete_message");
  CHECK(p.errorStatus() == 502);
}

TEST_CASE("stops after a 101 or a head the caller stops at and leaves the rest") {
  std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  Recorder rec;
  Http1Parser p(Http1Parser::Type::Response, rec);
  auto r = p.feed(head + "\x81\x02hi");
  REQUIRE(r);
  CHECK(r.value() == head.size());
  CHECK(p.state() == Http1ParserState::Stopped);
  CHECK(rec.responses[0].upgrade);

  // A 200 to CONNECT has no body: the caller stops there.
  std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
  Recorder rec2;
  rec2.head_action = HeadAction::Stop;
  Http1Parser p2(Http1Parser::Type::Response, rec2);
  auto r2 = p2.feed(established + "\x16\x03\x03");
  REQUIRE(r2);
  CHECK(r2.value() == established.size());
  CHECK(p2.state() == Http1ParserState::Stopped);
}

TEST_CASE("refuses malformed responses with 502") {
  std::vector<std::string> bad = {
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nabc",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
      "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 2 Short\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 1000 Long\r\n\r\n",
      "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\rhello\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;=b\r\nhello\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
      "HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
      "hello world\r\n",
      "SSH-2.0-OpenSSH_9.2\r\n",
  };
  for (const auto& in : bad) {
    INFO(in);
    CHECK(responseStatus(in) == 502);
  }
  CHECK(responseStatus("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n") == 0);  // empty reason
}

}  // namespace
}  // namespace aiw
