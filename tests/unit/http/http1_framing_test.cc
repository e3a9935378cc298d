#include "http/http1_framing.h"

#include <doctest/doctest.h>

#include "http/http1_line_scanner.h"

namespace aiw {
namespace {

Headers one(const char* name, const char* value) {
  Headers h;
  h.add(name, value);
  return h;
}

TEST_CASE("declares no body without Content-Length or Transfer-Encoding") {
  auto f = declaredFraming(one("Host", "h"), 1, 1);
  REQUIRE(f);
  CHECK_FALSE(f->chunked);
  CHECK_FALSE(f->has_length);
}

TEST_CASE("reads a Content-Length and a chunked Transfer-Encoding") {
  auto cl = declaredFraming(one("content-length", "0012"), 1, 1);
  REQUIRE(cl);
  CHECK(cl->has_length);
  CHECK(cl->length == 12);
  auto te = declaredFraming(one("Transfer-Encoding", " CHUNKED "), 1, 1);
  REQUIRE(te);
  CHECK(te->chunked);
}

TEST_CASE("refuses ambiguous framing with a stable code") {
  Headers both;
  both.add("Content-Length", "1");
  both.add("Transfer-Encoding", "chunked");
  auto r = declaredFraming(both, 1, 1);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == kHttp1Malformed);
  CHECK_FALSE(declaredFraming(one("Content-Length", "1,1"), 1, 1));
  CHECK_FALSE(declaredFraming(one("Content-Length", "1234567890123456789"), 1, 1));  // 19 digits
  CHECK_FALSE(declaredFraming(one("Transfer-Encoding", "chunked"), 1, 0));
  CHECK_FALSE(declaredFraming(one("Transfer-Encoding", "chunked,"), 1, 1));
  CHECK_FALSE(declaredFraming(one("Transfer-Encoding", "chunked;q=1"), 1, 1));
  auto gzip = declaredFraming(one("Transfer-Encoding", "gzip, chunked"), 1, 1);
  REQUIRE_FALSE(gzip);
  CHECK(gzip.error().code == kHttp1UnsupportedCoding);
}

TEST_CASE("decides keep-alive from version and Connection tokens") {
  CHECK(wantsKeepAlive(Headers(), 1, 1));
  CHECK_FALSE(wantsKeepAlive(Headers(), 1, 0));
  CHECK(wantsKeepAlive(one("Connection", "Keep-Alive"), 1, 0));
  CHECK_FALSE(wantsKeepAlive(one("Connection", "upgrade, close"), 1, 1));
  CHECK(wantsKeepAlive(one("Connection", "closed"), 1, 1));  // a token, not a substring
}

TEST_CASE("the line scanner checks CR LF discipline across calls") {
  using S = Http1LineScanner::Section;
  Http1LineScanner ok(true, 100);
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  for (char& c : head) CHECK(ok.scan(&c, &c + 1, S::Head) == nullptr);

  Http1LineScanner split_crlf(true, 100);
  std::string a = "GET / HTTP/1.1\r";
  std::string b = "X";
  CHECK(split_crlf.scan(a.data(), a.data() + a.size(), S::Head) == nullptr);
  CHECK(std::string(split_crlf.scan(b.data(), b.data() + 1, S::Head)) == "CR not followed by LF");

  Http1LineScanner fold(false, 100);
  std::string f = "HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n";
  CHECK(std::string(fold.scan(f.data(), f.data() + f.size(), S::Head)) ==
        "obsolete line folding (obs-fold)");

  Http1LineScanner chunk(true, 8);
  std::string line = "5;aaaaaaaaaaaa\r\n";
  CHECK(std::string(chunk.scan(line.data(), line.data() + line.size(), S::Body)) ==
        "chunk line too long");

  Http1LineScanner before(true, 100);
  std::string cr = "5;x=y\r";
  CHECK(before.scan(cr.data(), cr.data() + cr.size(), S::Body) == nullptr);
  CHECK(before.beforeBody() != nullptr);  // body may not start right after a lone CR
}

}  // namespace
}  // namespace aiw
