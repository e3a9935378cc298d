// ClientHelloParser on real ClientHellos (client_hello_samples.h): the facts read, and the same
// facts whatever the bytes' split across reads and across records.
#include "tls/client_hello.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "hello_bytes.h"

namespace aiw {
namespace {

using test::Bytes;
using test::sample;
namespace s = test::hello_samples;

using Strings = std::vector<std::string>;
using Versions = std::vector<uint16_t>;

struct Expected {
  const char* name;
  Bytes wire;
  std::string sni;
  Strings alpn;
  Versions versions;
  bool tls13;
};

std::vector<Expected> samples() {
  return {
      {"openssl_tls13_alpn",
       sample(s::kOpensslTls13Alpn),
       "api.openai.com",
       {"h2", "http/1.1"},
       {kTls13, kTls12, kTls11, kTls10},
       true},
      {"curl_http2",
       sample(s::kCurlHttp2),
       "api.openai.com",
       {"h2", "http/1.1"},
       {kTls13, kTls12, kTls11, kTls10},
       true},
      {"node_tls",
       sample(s::kNodeTls),
       "api.anthropic.com",
       {"h2", "http/1.1"},
       {kTls13, kTls12},
       true},
      // Headless Chromium: GREASE in supported_versions (and ciphers, groups, extensions), ECH
      // GREASE, an X25519MLKEM768 key share; a 1.9 KB hello in one record.
      {"chromium",
       sample(s::kChromium),
       "api.openai.com",
       {"h2", "http/1.1"},
       {kTls13, kTls12},
       true},
      {"openssl_tls12_only", sample(s::kOpensslTls12Only), "chatgpt.com", {}, {}, false},
      {"openssl_no_sni", sample(s::kOpensslNoSni), "", {}, {kTls13, kTls12, kTls11, kTls10}, true},
  };
}

void checkFacts(const ClientHelloParser& parser, const Expected& e) {
  REQUIRE_MESSAGE(parser.status() == HelloStatus::Done, parser.error());
  const ClientHelloInfo& hello = parser.clientHello();
  CHECK(hello.sni == e.sni);
  CHECK(hello.alpn == e.alpn);
  CHECK(hello.supported_versions == e.versions);
  CHECK(hello.offers_tls13 == e.tls13);
  CHECK(hello.legacy_version == kTls12);
  CHECK(parser.error().empty());
}

TEST_CASE("reads SNI, ALPN and versions from every captured real hello in one go") {
  for (const auto& e : samples()) {
    CAPTURE(e.name);
    ClientHelloParser parser;
    CHECK(parser.feed(e.wire) == HelloStatus::Done);
    checkFacts(parser, e);
    CHECK(parser.clientHello().wire_bytes == e.wire.size());
    CHECK(parser.clientHello().record_version == kTls10);
  }
}

TEST_CASE("the one-shot parse gives the same facts") {
  auto r = parseClientHello(sample(s::kCurlHttp2));
  REQUIRE(r.status == HelloStatus::Done);
  CHECK(r.hello.sni == "api.openai.com");
  CHECK(r.error.empty());
  CHECK(std::string(helloStatusName(r.status)) == "done");
}

TEST_CASE("every proper prefix of a real hello needs more, whatever the byte it stops at") {
  for (const auto& e : samples()) {
    CAPTURE(e.name);
    for (size_t n = 0; n < e.wire.size(); ++n) {
      CAPTURE(n);
      auto r = parseClientHello(std::span(e.wire).first(n));
      REQUIRE_MESSAGE(r.status == HelloStatus::NeedMore, r.error);
    }
  }
}

TEST_CASE("a hello split into two reads at every offset parses to the same facts") {
  for (const auto& e : samples()) {
    CAPTURE(e.name);
    for (size_t split = 0; split < e.wire.size(); ++split) {
      CAPTURE(split);
      ClientHelloParser parser;
      REQUIRE(parser.feed(std::span(e.wire).first(split)) == HelloStatus::NeedMore);
      REQUIRE(parser.feed(e.wire) == HelloStatus::Done);
      checkFacts(parser, e);
    }
  }
}

TEST_CASE("a hello arriving one byte per read is parsed once it is whole") {
  for (const auto& e : samples()) {
    CAPTURE(e.name);
    ClientHelloParser parser;
    for (size_t n = 1; n < e.wire.size(); ++n) {
      REQUIRE(parser.feed(std::span(e.wire).first(n)) == HelloStatus::NeedMore);
    }
    CHECK(parser.feed(e.wire) == HelloStatus::Done);
    checkFacts(parser, e);
  }
}

TEST_CASE("a hello fragmented over two records at every offset parses to the same facts") {
  for (const auto& e : samples()) {
    CAPTURE(e.name);
    Bytes message = test::handshakeOf(e.wire);
    for (size_t split = 1; split < message.size(); ++split) {
      CAPTURE(split);
      Bytes wire = test::frameSplit(message, split);
      ClientHelloParser parser;
      REQUIRE(parser.feed(wire) == HelloStatus::Done);
      checkFacts(parser, e);
      CHECK(parser.clientHello().wire_bytes == wire.size());
    }
  }
}

TEST_CASE("a hello in one-byte records, read one byte at a time, parses to the same facts") {
  Expected e = samples()[0];
  Bytes wire = test::frame(test::handshakeOf(e.wire), 1);
  REQUIRE(wire.size() < ClientHelloParser::kDefaultMaxBytes);
  ClientHelloParser parser;
  for (size_t n = 0; n < wire.size(); ++n) {
    REQUIRE(parser.feed(std::span(wire).first(n)) == HelloStatus::NeedMore);
  }
  CHECK(parser.feed(wire) == HelloStatus::Done);
  checkFacts(parser, e);
}

TEST_CASE("a hello fragmented over records of 7 bytes, split into reads of 5, parses") {
  Expected e = samples()[1];
  Bytes wire = test::frame(test::handshakeOf(e.wire), 7);
  ClientHelloParser parser;
  for (size_t n = 0; n < wire.size(); n += 5) {
    REQUIRE(parser.feed(std::span(wire).first(n)) == HelloStatus::NeedMore);
  }
  CHECK(parser.feed(wire) == HelloStatus::Done);
  checkFacts(parser, e);
}

TEST_CASE("Chromium's real hello: GREASE dropped, post-quantum share and ECH skipped") {
  Bytes wire = sample(s::kChromium);
  auto isGrease = [](uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); };
  // The capture does offer a GREASE version first in supported_versions (RFC 8701)...
  size_t versions = test::extensionAt(wire, 0x002b);
  REQUIRE(wire[versions + 4] == 6);  // three versions
  CHECK(isGrease(static_cast<uint16_t>((wire[versions + 5] << 8) | wire[versions + 6])));
  // ...and carries ECH (GREASE) and an X25519MLKEM768 share (group 0x11ec, 1216 bytes).
  test::extensionAt(wire, 0xfe0d);
  size_t shares = test::extensionAt(wire, 0x0033);
  CHECK(((wire[shares + 2] << 8) | wire[shares + 3]) > 1200);
  CHECK(wire.size() > 1500);

  auto r = parseClientHello(wire);
  REQUIRE_MESSAGE(r.status == HelloStatus::Done, r.error);
  CHECK(r.hello.sni == "api.openai.com");
  CHECK(r.hello.alpn == Strings{"h2", "http/1.1"});
  CHECK(r.hello.supported_versions == Versions{kTls13, kTls12});
  CHECK(r.hello.offers_tls13);
  CHECK(r.hello.wire_bytes == wire.size());
  for (uint16_t v : r.hello.supported_versions) CHECK_FALSE(isGrease(v));

  // Split into two reads at every offset: the same facts.
  for (size_t split = 0; split < wire.size(); ++split) {
    CAPTURE(split);
    ClientHelloParser parser;
    REQUIRE(parser.feed(std::span(wire).first(split)) == HelloStatus::NeedMore);
    REQUIRE(parser.feed(wire) == HelloStatus::Done);
    CHECK(parser.clientHello().sni == r.hello.sni);
    CHECK(parser.clientHello().alpn == r.hello.alpn);
    CHECK(parser.clientHello().supported_versions == r.hello.supported_versions);
    CHECK(parser.clientHello().wire_bytes == wire.size());
  }
}

TEST_CASE("bytes after the hello (early data, the next record) are not looked at") {
  Bytes wire = sample(s::kNodeTls);
  size_t hello_size = wire.size();
  wire.insert(wire.end(), {0x17, 0x03, 0x03, 0x00, 0x02, 0xde, 0xad, 0xff, 0x00});
  ClientHelloParser parser;
  CHECK(parser.feed(wire) == HelloStatus::Done);
  CHECK(parser.clientHello().wire_bytes == hello_size);
}

TEST_CASE("a decided parse stays decided; a shorter span starts over") {
  Bytes wire = sample(s::kOpensslTls13Alpn);
  ClientHelloParser parser;
  REQUIRE(parser.feed(wire) == HelloStatus::Done);
  Bytes longer = wire;
  longer.push_back(0x00);
  CHECK(parser.feed(longer) == HelloStatus::Done);
  CHECK(parser.clientHello().sni == "api.openai.com");
  // Not how the listener calls it, but a shorter span must not read stale state.
  CHECK(parser.feed(std::span(wire).first(10)) == HelloStatus::NeedMore);
  CHECK(parser.feed(wire) == HelloStatus::Done);
}

TEST_CASE("an upper-case SNI is lower-cased") {
  Bytes wire = sample(s::kOpensslTls13Alpn);
  test::patch(wire, "api.openai.com", "API.OpenAI.Com");
  auto r = parseClientHello(wire);
  REQUIRE(r.status == HelloStatus::Done);
  CHECK(r.hello.sni == "api.openai.com");
}

TEST_CASE("GREASE values are left out of the ALPN and versions lists") {
  Bytes wire = test::helloRecord({test::sniExtension("gemini.google.com"),
                                  test::alpnExtension({"\x3a\x3a", "h2", "http/1.1"}),
                                  test::versionsExtension({0x7a7a, kTls13, kTls12})});
  auto r = parseClientHello(wire);
  REQUIRE_MESSAGE(r.status == HelloStatus::Done, r.error);
  CHECK(r.hello.sni == "gemini.google.com");
  CHECK(r.hello.alpn == Strings{"h2", "http/1.1"});
  CHECK(r.hello.supported_versions == Versions{kTls13, kTls12});
  CHECK(r.hello.offers_tls13);
}

TEST_CASE("a hello with no extensions block at all parses with no SNI and no ALPN") {
  auto r = parseClientHello(test::frame(test::helloMessage({}, false), 16384));
  REQUIRE_MESSAGE(r.status == HelloStatus::Done, r.error);
  CHECK(r.hello.sni.empty());
  CHECK(r.hello.alpn.empty());
  CHECK(r.hello.supported_versions.empty());
  CHECK_FALSE(r.hello.offers_tls13);
}

TEST_CASE("server_name entries of unknown types are skipped") {
  Bytes data;
  test::put16(data, 3 + 3 + 3 + 5);
  data.insert(data.end(), {0x07, 0x00, 0x03, 'x', 'y', 'z'});
  data.insert(data.end(), {0x00, 0x00, 0x05, 'a', '.', 'c', 'o', 'm'});
  auto r = parseClientHello(test::helloRecord({{0, data}}));
  REQUIRE_MESSAGE(r.status == HelloStatus::Done, r.error);
  CHECK(r.hello.sni == "a.com");
}

TEST_CASE("sniNameProblem accepts DNS names and refuses everything else") {
  CHECK(sniNameProblem("api.openai.com").empty());
  CHECK(sniNameProblem("bedrock-runtime.us-east-1.amazonaws.com").empty());
  CHECK(sniNameProblem("_dmarc.example.com").empty());
  CHECK(sniNameProblem("xn--bcher-kva.example").empty());
  CHECK(sniNameProblem("localhost").empty());
  CHECK(sniNameProblem("1password.com").empty());
  CHECK(sniNameProblem(std::string(63, 'a') + ".com").empty());
  CHECK(sniNameProblem(std::string(64, 'a') + ".com") == "has a label longer than 63 bytes");
  std::string long_name;
  while (long_name.size() < 253) long_name += "abcdefghi.";
  long_name.resize(253);
  CHECK(sniNameProblem(long_name).empty());
  CHECK(sniNameProblem(long_name + "x") == "is longer than 253 bytes");
  CHECK(sniNameProblem("") == "is empty");
  CHECK(sniNameProblem("api.openai.com.") == "ends with a dot (RFC 6066 forbids)");
  CHECK(sniNameProblem("a..b") == "has an empty label");
  CHECK(sniNameProblem(".a.b") == "has an empty label");
  CHECK(sniNameProblem("a b.com") == "has an invalid character ' '");
  CHECK(sniNameProblem(std::string("a\0b.com", 7)) == "has an invalid character '\\x00'");
  CHECK(sniNameProblem("b\xc3\xbc"
                       "cher.de") == "has an invalid character '\\xc3'");
  const std::string ip = "is an IP address literal (RFC 6066 forbids addresses in SNI)";
  CHECK(sniNameProblem("127.0.0.1") == ip);
  CHECK(sniNameProblem("127.1") == ip);
  CHECK(sniNameProblem("2130706433") == ip);
  CHECK(sniNameProblem("0x7f.0.0.1") == ip);
  CHECK(sniNameProblem("1.2.3.0x1f") == ip);
  CHECK(sniNameProblem("::1") == ip);
  CHECK(sniNameProblem("[2001:db8::1]") == ip);
  CHECK(sniNameProblem("2001:db8::1") == ip);
}

}  // namespace
}  // namespace aiw
