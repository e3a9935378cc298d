#include "http/http2_translate.h"

#include <doctest/doctest.h>

#include <string>

#include "http/message_utils.h"

namespace aiw {
namespace {

RequestHead h1Request(std::string method, std::string target,
                      std::initializer_list<std::pair<const char*, const char*>> fields) {
  RequestHead h;
  h.method = std::move(method);
  h.target = std::move(target);
  for (auto& [n, v] : fields) h.headers.add(n, v);
  return h;
}

Headers hdrs(std::initializer_list<std::pair<const char*, const char*>> list) {
  Headers h;
  for (auto& [n, v] : list) h.add(n, v);
  return h;
}

TEST_SUITE("http2 translate") {
  TEST_CASE("an origin-form HTTP/1 request takes :authority from Host and drops Host") {
    auto h1 = h1Request("GET", "/v1/chat?x=1", {{"Host", "api.openai.com"}, {"Accept", "*/*"}});
    auto h2 = h2RequestFromH1(h1, "https");
    REQUIRE(h2.ok());
    CHECK(h2->method == "GET");
    CHECK(h2->scheme == "https");
    CHECK(h2->authority == "api.openai.com");
    CHECK(h2->path == "/v1/chat?x=1");
    CHECK_FALSE(h2->headers.has("host"));
    REQUIRE(h2->headers.size() == 1);
    CHECK(h2->headers.fields()[0].name == "accept");  // lower-case for HTTP/2
  }

  TEST_CASE("an absolute-form request takes scheme, authority and path from the URL") {
    auto h2 = h2RequestFromH1(
        h1Request("GET", "http://example.com:8080/a?b", {{"Host", "example.com:8080"}}), "https");
    REQUIRE(h2.ok());
    CHECK(h2->scheme == "http");
    CHECK(h2->authority == "example.com:8080");
    CHECK(h2->path == "/a?b");
  }

  TEST_CASE("CONNECT becomes :authority alone and OPTIONS * keeps its asterisk") {
    auto c = h2RequestFromH1(h1Request("CONNECT", "h.example:443", {{"Host", "h.example:443"}}),
                             "https");
    REQUIRE(c.ok());
    CHECK(c->authority == "h.example:443");
    CHECK(c->scheme.empty());
    CHECK(c->path.empty());
    auto o = h2RequestFromH1(h1Request("OPTIONS", "*", {{"Host", "h"}}), "https");
    REQUIRE(o.ok());
    CHECK(o->path == "*");
  }

  TEST_CASE("connection-specific fields are removed on the way to HTTP/2") {
    auto h2 = h2RequestFromH1(h1Request("POST", "/",
                                        {{"Host", "h"},
                                         {"Connection", "keep-alive, X-Hop"},
                                         {"Keep-Alive", "timeout=5"},
                                         {"Proxy-Connection", "keep-alive"},
                                         {"Transfer-Encoding", "chunked"},
                                         {"Upgrade", "websocket"},
                                         {"X-Hop", "named by Connection"},
                                         {"X-Keep", "1"}}),
                              "https");
    REQUIRE(h2.ok());
    REQUIRE(h2->headers.size() == 1);
    CHECK(h2->headers.fields()[0].name == "x-keep");
  }

  TEST_CASE("TE survives only as te: trailers") {
    auto with =
        h2RequestFromH1(h1Request("POST", "/", {{"Host", "h"}, {"TE", "gzip, trailers"}}), "https");
    REQUIRE(with.ok());
    REQUIRE(with->headers.find("te") != nullptr);
    CHECK(*with->headers.find("te") == "trailers");
    auto without = h2RequestFromH1(h1Request("GET", "/", {{"Host", "h"}, {"TE", "gzip"}}), "https");
    REQUIRE(without.ok());
    CHECK_FALSE(without->headers.has("te"));
  }

  TEST_CASE("a Content-Length request keeps its length for HTTP/2") {
    auto h1 = h1Request("POST", "/", {{"Host", "h"}, {"Content-Length", "12"}});
    h1.framing = BodyFraming::ContentLength;
    h1.content_length = 12;
    auto h2 = h2RequestFromH1(h1, "https");
    REQUIRE(h2.ok());
    CHECK(*h2->headers.find("content-length") == "12");
  }

  TEST_CASE("a request without any authority is refused") {
    auto h2 = h2RequestFromH1(h1Request("GET", "/", {}), "https");
    REQUIRE_FALSE(h2.ok());
    CHECK(h2.error().code == "bad_request");
  }

  TEST_CASE("an HTTP/2 request gets Host from :authority, replacing any Host field") {
    Http2RequestHead h2;
    h2.method = "GET";
    h2.scheme = "https";
    h2.authority = "api.anthropic.com";
    h2.path = "/v1/messages";
    h2.headers = hdrs({{"host", "other.example"}, {"accept", "*/*"}});
    auto h1 = h1RequestFromH2(h2, false);
    REQUIRE(h1.ok());
    CHECK(h1->target == "/v1/messages");
    CHECK(h1->headers.count("host") == 1);
    CHECK(*h1->headers.find("host") == "api.anthropic.com");
    CHECK(h1->headers.fields()[0].name == "host");
    CHECK(h1->framing == BodyFraming::None);
  }

  TEST_CASE("an HTTP/2 request without :authority keeps its Host field, without both fails") {
    Http2RequestHead h2;
    h2.method = "GET";
    h2.scheme = "https";
    h2.path = "/";
    h2.headers = hdrs({{"host", "h.example"}});
    auto h1 = h1RequestFromH2(h2, false);
    REQUIRE(h1.ok());
    CHECK(*h1->headers.find("host") == "h.example");
    h2.headers.clear();
    auto none = h1RequestFromH2(h2, false);
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().code == "bad_request");
  }

  TEST_CASE("an HTTP/2 request body is Content-Length when given, else chunked") {
    Http2RequestHead h2;
    h2.method = "POST";
    h2.scheme = "https";
    h2.authority = "h";
    h2.path = "/";
    h2.headers = hdrs({{"content-length", "42"}});
    auto sized = h1RequestFromH2(h2, true);
    REQUIRE(sized.ok());
    CHECK(sized->framing == BodyFraming::ContentLength);
    CHECK(sized->content_length == 42);
    h2.headers.clear();
    auto chunked = h1RequestFromH2(h2, true);
    REQUIRE(chunked.ok());
    CHECK(chunked->framing == BodyFraming::Chunked);
    auto empty = h1RequestFromH2(h2, false);
    REQUIRE(empty.ok());
    CHECK(empty->framing == BodyFraming::None);
    h2.headers = hdrs({{"content-length", "4x"}});
    CHECK_FALSE(h1RequestFromH2(h2, true).ok());
  }

  TEST_CASE("te: trailers crosses into HTTP/1 with Connection: te") {
    Http2RequestHead h2;
    h2.method = "POST";
    h2.scheme = "https";
    h2.authority = "h";
    h2.path = "/";
    h2.headers = hdrs({{"te", "trailers"}});
    auto h1 = h1RequestFromH2(h2, true);
    REQUIRE(h1.ok());
    CHECK(*h1->headers.find("te") == "trailers");
    CHECK(headerHasToken(h1->headers, "connection", "te"));
  }

  TEST_CASE("cookie crumbs are joined with a semicolon for HTTP/1") {
    Http2RequestHead h2;
    h2.method = "GET";
    h2.scheme = "https";
    h2.authority = "h";
    h2.path = "/";
    h2.headers = hdrs({{"cookie", "a=1"}, {"accept", "x"}, {"cookie", "b=2"}, {"cookie", "c=3"}});
    auto h1 = h1RequestFromH2(h2, false);
    REQUIRE(h1.ok());
    CHECK(h1->headers.count("cookie") == 1);
    CHECK(*h1->headers.find("cookie") == "a=1; b=2; c=3");
    CHECK(h1->headers.fields()[1].name == "cookie");  // where the first crumb was
    CHECK(h1->headers.fields()[2].name == "accept");
  }

  TEST_CASE("an HTTP/1 response keeps its status and length, loses connection fields") {
    ResponseHead h1;
    h1.status = 404;
    h1.reason = "Not Found";
    h1.headers = hdrs({{"Content-Type", "application/json"},
                       {"Connection", "keep-alive"},
                       {"Keep-Alive", "timeout=5"},
                       {"Content-Length", "7"}});
    h1.framing = BodyFraming::ContentLength;
    h1.content_length = 7;
    Headers h2 = h2ResponseFieldsFromH1(h1);
    CHECK(h2.size() == 2);
    CHECK(*h2.find("content-type") == "application/json");
    CHECK(*h2.find("content-length") == "7");
    ResponseHead chunked;
    chunked.status = 200;
    chunked.headers = hdrs({{"Transfer-Encoding", "chunked"}, {"X-A", "1"}});
    chunked.framing = BodyFraming::Chunked;
    Headers c2 = h2ResponseFieldsFromH1(chunked);
    REQUIRE(c2.size() == 1);
    CHECK(c2.fields()[0].name == "x-a");
  }

  TEST_CASE("an HTTP/2 response gets the HTTP/1 framing its shape calls for") {
    auto sized = h1ResponseFromH2(200, hdrs({{"content-length", "5"}}), true);
    REQUIRE(sized.ok());
    CHECK(sized->framing == BodyFraming::ContentLength);
    CHECK(sized->content_length == 5);
    auto streamed = h1ResponseFromH2(200, hdrs({{"content-type", "text/event-stream"}}), true);
    REQUIRE(streamed.ok());
    CHECK(streamed->framing == BodyFraming::Chunked);
    auto empty = h1ResponseFromH2(200, Headers{}, false);
    REQUIRE(empty.ok());
    CHECK(empty->framing == BodyFraming::ContentLength);
    CHECK(empty->content_length == 0);
    auto no_content = h1ResponseFromH2(204, Headers{}, false);
    REQUIRE(no_content.ok());
    CHECK(no_content->framing == BodyFraming::None);
    auto head = h1ResponseFromH2(200, hdrs({{"content-length", "900"}}), false, true);
    REQUIRE(head.ok());
    CHECK(head->framing == BodyFraming::ContentLength);
    CHECK(head->content_length == 900);
    CHECK_FALSE(h1ResponseFromH2(200, hdrs({{"content-length", "-1"}}), true).ok());
  }
}

}  // namespace
}  // namespace aiw
