#include "http/http1_writer.h"

#include <doctest/doctest.h>

#include <string>

#include "http/http1_parser.h"

namespace aiw {
namespace {

Headers fields(std::initializer_list<std::pair<const char*, const char*>> list) {
  Headers h;
  for (const auto& [n, v] : list) h.add(n, v);
  return h;
}

TEST_CASE("writes a request head with its fields in order") {
  Buffer out;
  auto h = fields({{"Host", "api.example.com"}, {"Accept", "*/*"}, {"X-Two", "a"}, {"X-Two", "b"}});
  REQUIRE(writeRequestHead(out, "GET", "/v1/models", h, BodyFraming::None));
  CHECK(out.toString() ==
        "GET /v1/models HTTP/1.1\r\nHost: api.example.com\r\nAccept: */*\r\nX-Two: a\r\n"
        "X-Two: b\r\n\r\n");
}

TEST_CASE("writes exactly the framing field it is told and drops the received ones") {
  auto h = fields({{"Host", "h"},
                   {"Content-Length", "999"},
                   {"transfer-encoding", "gzip"},
                   {"Content-Length", "5"}});
  {
    Buffer out;
    REQUIRE(writeRequestHead(out, "POST", "/", h, BodyFraming::ContentLength, 42));
    CHECK(out.toString() == "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n");
  }
  {
    Buffer out;
    REQUIRE(writeRequestHead(out, "POST", "/", h, BodyFraming::Chunked));
    CHECK(out.toString() == "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  }
  {
    Buffer out;
    REQUIRE(writeRequestHead(out, "GET", "/", h, BodyFraming::None));
    CHECK(out.toString() == "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  }
  {
    Buffer out;
    REQUIRE(writeRequestHead(out, "POST", "/", h, BodyFraming::ContentLength, 0));
    CHECK(out.toString() == "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  }
}

TEST_CASE("writes a request head from a parsed head as HTTP/1.1") {
  RequestHead head;
  head.method = "PUT";
  head.target = "/x";
  head.version_minor = 0;
  head.headers.add("Host", "h");
  head.framing = BodyFraming::ContentLength;
  head.content_length = 3;
  Buffer out;
  REQUIRE(writeRequestHead(out, head));
  CHECK(out.toString() == "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n");
}

TEST_CASE("refuses to write a head that would split the message") {
  Buffer out;
  auto bad_value = fields({{"Host", "h"}, {"X-Inject", "a\r\nEvil: 1"}});
  auto r = writeRequestHead(out, "GET", "/", bad_value, BodyFraming::None);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == "invalid_head");
  CHECK(out.empty());  // nothing half-written
  auto bad_name = fields({{"X Bad", "v"}});
  CHECK_FALSE(writeRequestHead(out, "GET", "/", bad_name, BodyFraming::None));
  CHECK_FALSE(writeRequestHead(out, "GET", "/a b", Headers(), BodyFraming::None));
  CHECK_FALSE(writeRequestHead(out, "GET", "/a\r\n", Headers(), BodyFraming::None));
  CHECK_FALSE(writeRequestHead(out, "G ET", "/", Headers(), BodyFraming::None));
  CHECK_FALSE(writeResponseHead(out, 200, "OK\r\nX: y", Headers(), BodyFraming::None));
  CHECK_FALSE(writeResponseHead(out, 99, "", Headers(), BodyFraming::None));
  CHECK_FALSE(writeResponseHead(out, 600, "", Headers(), BodyFraming::None));
  CHECK(out.empty());
}

TEST_CASE("writes a response head with the standard reason phrase") {
  Buffer out;
  auto h = fields({{"Content-Type", "text/event-stream"}});
  REQUIRE(writeResponseHead(out, 200, "", h, BodyFraming::Chunked));
  CHECK(out.toString() ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
  Buffer out2;
  REQUIRE(writeResponseHead(out2, 429, "", Headers(), BodyFraming::ContentLength, 0));
  CHECK(out2.toString() == "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n");
  Buffer out3;
  REQUIRE(writeResponseHead(out3, 599, "", Headers(), BodyFraming::UntilClose));
  CHECK(out3.toString() == "HTTP/1.1 599 \r\n\r\n");  // no phrase known: empty reason
  Buffer out4;
  REQUIRE(writeResponseHead(out4, 404, "Nope", Headers(), BodyFraming::None));
  CHECK(out4.toString() == "HTTP/1.1 404 Nope\r\n\r\n");
}

TEST_CASE("never writes a framing field on 1xx and 204 responses") {
  Buffer out;
  REQUIRE(writeResponseHead(out, 204, "", Headers(), BodyFraming::ContentLength, 5));
  CHECK(out.toString() == "HTTP/1.1 204 No Content\r\n\r\n");
  Buffer out2;
  REQUIRE(writeResponseHead(out2, 100, "", Headers(), BodyFraming::Chunked));
  CHECK(out2.toString() == "HTTP/1.1 100 Continue\r\n\r\n");
  Buffer out3;  // a 304 may announce the length of what it stands for
  REQUIRE(writeResponseHead(out3, 304, "", Headers(), BodyFraming::ContentLength, 5));
  CHECK(out3.toString() == "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n");
}

TEST_CASE("has reason phrases for the codes the proxy sends") {
  CHECK(reasonPhrase(400) == "Bad Request");
  CHECK(reasonPhrase(401) == "Unauthorized");
  CHECK(reasonPhrase(403) == "Forbidden");
  CHECK(reasonPhrase(404) == "Not Found");
  CHECK(reasonPhrase(431) == "Request Header Fields Too Large");
  CHECK(reasonPhrase(501) == "Not Implemented");
  CHECK(reasonPhrase(502) == "Bad Gateway");
  CHECK(reasonPhrase(503) == "Service Unavailable");
  CHECK(reasonPhrase(504) == "Gateway Timeout");
  CHECK(reasonPhrase(505) == "HTTP Version Not Supported");
  CHECK(reasonPhrase(299) == "");
}

TEST_CASE("frames chunks by moving the data buffer") {
  Buffer out;
  Buffer data;
  data.append(std::string(26, 'x'));
  appendChunk(out, data);
  CHECK(data.empty());
  CHECK(out.toString() == "1a\r\n" + std::string(26, 'x') + "\r\n");
  Buffer empty;
  appendChunk(out, empty);  // an empty chunk would end the body: nothing is written
  appendChunk(out, std::string_view());
  appendChunk(out, std::string_view("hi"));
  appendLastChunk(out);
  CHECK(out.toString() == "1a\r\n" + std::string(26, 'x') + "\r\n2\r\nhi\r\n0\r\n\r\n");
}

TEST_CASE("writes trailers after the last chunk, leaving out framing fields") {
  Buffer out;
  auto t =
      fields({{"X-Checksum", "abc"}, {"Content-Length", "3"}, {"Bad\nName", "v"}, {"X-Ok", "1"}});
  appendLastChunk(out, t);
  CHECK(out.toString() == "0\r\nX-Checksum: abc\r\nX-Ok: 1\r\n\r\n");
}

TEST_CASE("builds a complete JSON response") {
  Buffer out;
  writeJsonResponse(out, 403, "{\"error\":\"blocked\"}",
                    fields({{"x-aiwarden-decision", "blocked"}, {"Content-Length", "1"}}));
  CHECK(out.toString() ==
        "HTTP/1.1 403 Forbidden\r\nx-aiwarden-decision: blocked\r\n"
        "Content-Type: application/json\r\nContent-Length: 19\r\n\r\n{\"error\":\"blocked\"}");
  Buffer closing;
  writeJsonResponse(closing, 400, "{}", Headers(), /*close_connection=*/true);
  CHECK(closing.toString() ==
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
        "Connection: close\r\n\r\n{}");
  Buffer typed;
  writeJsonResponse(typed, 200, "{}", fields({{"Content-Type", "application/problem+json"}}));
  CHECK(typed.toString() ==
        "HTTP/1.1 200 OK\r\nContent-Type: application/problem+json\r\nContent-Length: 2\r\n\r\n{}");
}

TEST_CASE("what the writer writes, the strict parser reads back") {
  struct Collect : Http1ParserCallbacks {
    std::string body;
    Headers trailers;
    int heads = 0;
    int completes = 0;
    HeadAction onRequestHead(RequestHead&) override {
      ++heads;
      return HeadAction::Continue;
    }
    FlowAction onBody(const char* d, size_t n) override {
      body.append(d, n);
      return FlowAction::Continue;
    }
    FlowAction onMessageComplete(Headers& t) override {
      trailers = t;
      ++completes;
      return FlowAction::Continue;
    }
  } cb;
  Buffer out;
  REQUIRE(
      writeRequestHead(out, "POST", "/v1/chat/completions",
                       fields({{"Host", "api.openai.com"}, {"Content-Type", "application/json"}}),
                       BodyFraming::Chunked));
  Buffer part;
  part.append("{\"model\":");
  appendChunk(out, part);
  appendChunk(out, std::string_view("\"gpt-4o\"}"));
  appendLastChunk(out, fields({{"X-T", "1"}}));
  Http1Parser p(Http1Parser::Type::Request, cb);
  std::string wire = out.toString();
  auto r = p.feed(wire);
  REQUIRE(r);
  CHECK(r.value() == wire.size());
  CHECK(cb.heads == 1);
  CHECK(cb.body == "{\"model\":\"gpt-4o\"}");
  CHECK(cb.completes == 1);
  CHECK(*cb.trailers.find("x-t") == "1");
}

}  // namespace
}  // namespace aiw
