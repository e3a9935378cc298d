#include "http/message_utils.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace aiw {
namespace {

std::vector<std::string> names(const Headers& h) {
  std::vector<std::string> out;
  for (const auto& f : h.fields()) out.push_back(f.name);
  return out;
}

TEST_CASE("removes the hop-by-hop fields") {
  Headers h;
  h.add("Host", "h");
  h.add("Connection", "keep-alive");
  h.add("Keep-Alive", "timeout=5");
  h.add("Proxy-Connection", "keep-alive");
  h.add("TE", "trailers");
  h.add("Transfer-Encoding", "chunked");
  h.add("Upgrade", "websocket");
  h.add("Proxy-Authorization", "Basic eA==");
  h.add("proxy-authenticate", "Basic");
  h.add("Authorization", "Bearer sk-x");
  h.add("Content-Type", "application/json");
  CHECK(removeHopByHopHeaders(h) == 8);
  CHECK(names(h) == std::vector<std::string>{"Host", "Authorization", "Content-Type"});
}

TEST_CASE("removes the fields that Connection names") {
  Headers h;
  h.add("Host", "h");
  h.add("Connection", "close, X-Secret-Hop");
  h.add("connection", " x-other ,,");
  h.add("X-Secret-Hop", "1");
  h.add("X-Other", "2");
  h.add("x-secret-hop", "3");
  h.add("X-Kept", "4");
  CHECK(removeHopByHopHeaders(h) == 5);
  CHECK(names(h) == std::vector<std::string>{"Host", "X-Kept"});
}

TEST_CASE("never removes Host or Content-Length because Connection names them") {
  Headers h;
  h.add("Host", "h");
  h.add("Content-Length", "5");
  h.add("Connection", "Host, Content-Length");
  removeHopByHopHeaders(h);
  CHECK(names(h) == std::vector<std::string>{"Host", "Content-Length"});
}

TEST_CASE("adds a Via entry or appends to the last Via field") {
  Headers h;
  addVia(h, "1.1", "aiwarden");
  CHECK(*h.find("Via") == "1.1 aiwarden");

  Headers two;
  two.add("Via", "1.0 fred");
  two.add("Host", "h");
  two.add("via", "1.1 p.example (Apache/1.1)");
  addVia(two, "1.1", "aiwarden");
  CHECK(two.fields()[0].value == "1.0 fred");
  CHECK(two.fields()[2].value == "1.1 p.example (Apache/1.1), 1.1 aiwarden");
  CHECK(two.count("via") == 2);
}

TEST_CASE("finds its own pseudonym in Via to detect loops") {
  Headers h;
  h.add("Via", "1.0 fred, 1.1 AIWarden (test)");
  CHECK(viaContains(h, "aiwarden"));
  CHECK_FALSE(viaContains(h, "fred2"));
  Headers other;
  other.add("Via", "1.1 aiwardenx");
  CHECK_FALSE(viaContains(other, "aiwarden"));
}

TEST_CASE("finds tokens in list fields") {
  Headers h;
  h.add("Connection", "Upgrade, keep-alive");
  CHECK(headerHasToken(h, "connection", "upgrade"));
  CHECK(headerHasToken(h, "Connection", "KEEP-ALIVE"));
  CHECK_FALSE(headerHasToken(h, "Connection", "close"));
  CHECK_FALSE(headerHasToken(h, "Upgrade", "keep-alive"));
}

TEST_CASE("checks field names and values") {
  CHECK(isValidFieldName("X-Custom_1.2!#$%&'*+^`|~"));
  CHECK_FALSE(isValidFieldName(""));
  CHECK_FALSE(isValidFieldName("X Y"));
  CHECK_FALSE(isValidFieldName("X:Y"));
  CHECK_FALSE(isValidFieldName("X\r"));
  CHECK(isValidFieldValue("text/html; q=0.9, \t caf\xc3\xa9"));
  CHECK(isValidFieldValue(""));
  CHECK_FALSE(isValidFieldValue("a\rb"));
  CHECK_FALSE(isValidFieldValue("a\nb"));
  CHECK_FALSE(isValidFieldValue(std::string("a\0b", 3)));
  CHECK_FALSE(isValidFieldValue("a\x7f"));
}

// Values are checked 16 bytes at a time where the CPU allows: every byte value, at every
// position of values of every length up to three blocks and a bit, against the rule itself.
TEST_CASE("field values: every byte at every position of every length decides as RFC 9110 says") {
  auto allowed = [](unsigned char u) { return u == '\t' || (u >= 0x20 && u != 0x7f); };
  for (size_t length = 1; length <= 50; ++length) {
    std::string value(length, 'v');
    CHECK(isValidFieldValue(value));
    for (size_t at = 0; at < length; ++at) {
      for (int byte = 0; byte < 256; ++byte) {
        value[at] = static_cast<char>(byte);
        if (isValidFieldValue(value) != allowed(static_cast<unsigned char>(byte))) {
          FAIL("length " << length << ", byte " << byte << " at " << at);
        }
      }
      value[at] = 'v';
    }
  }
}

TEST_CASE("parses absolute-form URLs") {
  auto u = parseAbsoluteUrl("http://api.example.com/v1/models?limit=2");
  REQUIRE(u);
  CHECK(u->scheme == "http");
  CHECK(u->authority.host == "api.example.com");
  CHECK(u->authority.port == 80);
  CHECK_FALSE(u->port_explicit);
  CHECK(u->path == "/v1/models?limit=2");
  CHECK(u->hostHeader() == "api.example.com");

  auto s = parseAbsoluteUrl("HTTPS://API.OpenAI.com:8443");
  REQUIRE(s);
  CHECK(s->scheme == "https");
  CHECK(s->authority.host == "api.openai.com");
  CHECK(s->authority.port == 8443);
  CHECK(s->port_explicit);
  CHECK(s->path == "/");
  CHECK(s->hostHeader() == "api.openai.com:8443");
  CHECK(s->authority.hostPort() == "api.openai.com:8443");

  auto d = parseAbsoluteUrl("https://h.example:443/x");
  REQUIRE(d);
  CHECK(d->hostHeader() == "h.example");  // default port left out

  auto q = parseAbsoluteUrl("http://h.example?x=1");
  REQUIRE(q);
  CHECK(q->path == "/?x=1");

  auto v6 = parseAbsoluteUrl("http://[2001:DB8:0:0::1]:8080/p");
  REQUIRE(v6);
  CHECK(v6->authority.host == "2001:db8::1");
  CHECK(v6->authority.kind == HostKind::IPv6);
  CHECK(v6->authority.port == 8080);
  CHECK(v6->hostHeader() == "[2001:db8::1]:8080");
  CHECK(v6->authority.hostPort() == "[2001:db8::1]:8080");

  auto v4 = parseAbsoluteUrl("http://127.0.0.1:9/");
  REQUIRE(v4);
  CHECK(v4->authority.kind == HostKind::IPv4);
  CHECK(v4->authority.isIpLiteral());

  auto dot = parseAbsoluteUrl("http://api.openai.com./v1");
  REQUIRE(dot);
  CHECK(dot->authority.host == "api.openai.com");  // one trailing dot removed

  auto under = parseAbsoluteUrl("http://my_host-1.internal/");
  REQUIRE(under);
}

TEST_CASE("refuses URLs a proxy must not forward") {
  const char* bad[] = {
      "ftp://h/x",                 // scheme
      "ws://h/x",                  // scheme
      "http:/h/x",                 // not absolute
      "//h/x",                     // no scheme
      "/just/a/path",              // origin-form
      "http://user:pw@h/x",        // userinfo
      "http://@h/x",               // empty userinfo
      "http://h/x#frag",           // fragment
      "http://h/x?#",              // fragment
      "http://h:0/",               // port 0
      "http://h:65536/",           // port too large
      "http://h:8a/",              // port not digits
      "http://h:/",                // empty port
      "http://h:+80/",             // signed port
      "http://h:000080/",          // too many digits
      "http:///x",                 // empty host
      "http://:80/x",              // empty host
      "http://h/a b",              // space
      "http://h/a\tb",             // tab
      "http://h/\x01",             // control character
      "http://h/caf\xc3\xa9",      // non-ASCII
      "http://h\r\nX: y/",         // CRLF
      "http://h..example/",        // empty label
      "http://.h/",                // empty label
      "http://h!.example/",        // character outside host names
      "http://127.1/",             // short IPv4 read as 127.0.0.1 by resolvers
      "http://0x7f.0.0.1/",        // hex IPv4
      "http://0177.0.0.1/",        // octal IPv4
      "http://256.0.0.1/",         // out of range
      "http://1.2.3.4.5/",         // too many parts
      "http://2130706433/",        // integer IPv4
      "http://[::1/",              // unterminated
      "http://[fe80::1%25eth0]/",  // zone id
      "http://[v1.fe]/",           // IPvFuture
      "http://[::1]x/",            // junk after literal
      "http://::1/",               // IPv6 without brackets
  };
  for (const char* url : bad) {
    INFO(std::string(url));
    auto r = parseAbsoluteUrl(url);
    CHECK_FALSE(r);
    if (!r) CHECK(r.error().code == "bad_url");
  }
  CHECK_FALSE(parseAbsoluteUrl("http://" + std::string(64, 'a') + ".example/"));  // label > 63
  CHECK_FALSE(parseAbsoluteUrl("http://" + std::string(250, 'a') + ".example/"));
}

TEST_CASE("parses CONNECT authority-form targets") {
  auto a = parseAuthorityForm("API.OpenAI.com:443");
  REQUIRE(a);
  CHECK(a->host == "api.openai.com");
  CHECK(a->port == 443);
  CHECK(a->kind == HostKind::Name);
  CHECK(a->hostPort() == "api.openai.com:443");

  auto v6 = parseAuthorityForm("[::1]:8443");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->kind == HostKind::IPv6);
  CHECK(v6->port == 8443);

  auto v4 = parseAuthorityForm("10.0.0.1:443");
  REQUIRE(v4);
  CHECK(v4->kind == HostKind::IPv4);

  const char* bad[] = {
      "api.openai.com", "api.openai.com:", "[::1]", "::1:443", "u@h:443", "h:443/x",  "h:0",
      "h:99999",        "http://h:443",    ":443",  "",        "h:443?x", "[::1]443", "h :443"};
  for (const char* t : bad) {
    INFO(std::string(t));
    auto r = parseAuthorityForm(t);
    CHECK_FALSE(r);
    if (!r) CHECK(r.error().code == "bad_authority");
  }
}

TEST_CASE("parses Host values with an optional port") {
  auto h = parseHostHeader("Example.COM");
  REQUIRE(h);
  CHECK(h->host == "example.com");
  CHECK(h->port == 0);
  auto p = parseHostHeader("example.com:8080");
  REQUIRE(p);
  CHECK(p->port == 8080);
  auto v6 = parseHostHeader("[::1]");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  for (const char* bad : {"", "a b", "a/b", "u@a", "a:", "a:x", "[::1", "a?b", "a\\b"}) {
    INFO(std::string(bad));
    CHECK_FALSE(parseHostHeader(bad));
  }
}

}  // namespace
}  // namespace aiw
