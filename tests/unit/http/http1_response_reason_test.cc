// The reason phrase of an upstream's status line (found by tests/fuzz/http1_response_fuzz.cc:
// llhttp 8.1 accepts control characters there, and the proxy passes the reason on to its client).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "http/http1_parser.h"

namespace {

struct Heads : aiw::Http1ParserCallbacks {
  std::vector<aiw::ResponseHead> heads;
  aiw::HeadAction onResponseHead(aiw::ResponseHead& head) override {
    heads.push_back(head);
    return aiw::HeadAction::Continue;
  }
};

}  // namespace

TEST_CASE("a reason phrase with a control character is a malformed response (502)") {
  for (char c : std::string("\x01\x13\x1f\x7f", 4)) {
    Heads heads;
    aiw::Http1Parser p(aiw::Http1Parser::Type::Response, heads);
    std::string input = std::string("HTTP/1.1 200 O") + c + "K\r\nContent-Length: 0\r\n\r\n";
    aiw::Result<size_t> r = p.feed(input);
    CAPTURE(static_cast<int>(c));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == aiw::kHttp1Malformed);
    CHECK(r.error().message.find("reason phrase") != std::string::npos);
    CHECK(p.errorStatus() == 502);
    CHECK(heads.heads.empty());
  }
  // The first 1xx of the seed the fuzzer mutated, then its final response.
  Heads heads;
  aiw::Http1Parser p(aiw::Http1Parser::Type::Response, heads);
  CHECK_FALSE(p.feed(std::string("HTTP/1.1 100 C\x13\x13ontinue\r\n\r\n")).ok());
}

TEST_CASE("a reason phrase of spaces, tabs, visible ASCII and obs-text, or none, is accepted") {
  for (std::string reason : {std::string("OK"), std::string("Not\tFound  here"),
                             std::string("\xc3\xa9t\xc3\xa9 \x80\xff"), std::string()}) {
    Heads heads;
    aiw::Http1Parser p(aiw::Http1Parser::Type::Response, heads);
    std::string input = "HTTP/1.1 200 " + reason + "\r\nContent-Length: 0\r\n\r\n";
    aiw::Result<size_t> r = p.feed(input);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    REQUIRE(heads.heads.size() == 1);
    CHECK(heads.heads[0].reason == reason);
  }
}
