// ClientHelloParser on hostile and non-TLS input: every refusal is specific, nothing reads past
// the bytes at hand, and the bound holds however the hello is framed.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "hello_bytes.h"
#include "tls/client_hello.h"

namespace aiw {
namespace {

using test::Bytes;
using test::sample;
namespace s = test::hello_samples;

// The status of `wire` parsed whole, with the error checked to contain `says`.
void expect(const Bytes& wire, HelloStatus status, std::string_view says,
            size_t max_bytes = ClientHelloParser::kDefaultMaxBytes) {
  auto r = parseClientHello(wire, max_bytes);
  CHECK_MESSAGE(r.status == status, helloStatusName(r.status), ": ", r.error);
  CHECK_MESSAGE(r.error.find(says) != std::string::npos, r.error);
}

Bytes openssl() { return sample(s::kOpensslTls13Alpn); }

TEST_CASE("plain HTTP on a CONNECT tunnel is not TLS, from its first byte") {
  expect(test::text("GET / HTTP/1.1\r\nHost: api.openai.com\r\n\r\n"), HelloStatus::NotTls,
         "not TLS: the first byte is 0x47 ('G')");
  expect(test::text("CONNECT api.openai.com:443 HTTP/1.1\r\n\r\n"), HelloStatus::NotTls,
         "0x43 ('C')");
  expect(test::text("C"), HelloStatus::NotTls, "not a handshake record (0x16)");
  expect(test::text("SSH-2.0-OpenSSH_9.2\r\n"), HelloStatus::NotTls, "0x53");
  expect(Bytes{0x00, 0x01}, HelloStatus::NotTls, "'\\x00'");
}

TEST_CASE("nothing peeked yet needs more") {
  CHECK(parseClientHello({}).status == HelloStatus::NeedMore);
}

TEST_CASE("a record of another type before the hello is malformed, not plain text") {
  expect(Bytes{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28}, HelloStatus::Malformed,
         "connection starts with a TLS alert record");
  expect(Bytes{0x17, 0x03, 0x03, 0x00, 0x01, 0x00}, HelloStatus::Malformed, "application_data");
  expect(Bytes{0x14}, HelloStatus::Malformed, "change_cipher_spec");
}

TEST_CASE("a record of another type between hello fragments is malformed") {
  Bytes message = test::handshakeOf(openssl());
  Bytes wire = test::frame(Bytes(message.begin(), message.begin() + 100), 16384);
  wire.insert(wire.end(), {0x14, 0x03, 0x03, 0x00, 0x01, 0x01});
  expect(wire, HelloStatus::Malformed,
         "ClientHello fragment followed by a change_cipher_spec record (0x14): handshake "
         "records must not be interleaved");
}

TEST_CASE("an SSLv2-compatible hello is refused with a message saying so") {
  // msg_length 0x802e, msg_type 1 (CLIENT-HELLO), version 0x0301, ...
  Bytes v2{0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10};
  expect(v2, HelloStatus::Malformed, "SSLv2-compatible ClientHello");
  // Two bytes are not enough to tell.
  CHECK(parseClientHello(std::span(v2).first(2)).status == HelloStatus::NeedMore);
  // High bit set but no CLIENT-HELLO: just not TLS.
  expect(Bytes{0x80, 0x2e, 0x07}, HelloStatus::NotTls, "0x80");
}

TEST_CASE("record headers that no TLS client writes are malformed") {
  expect(Bytes{0x16, 0x47, 0x45, 0x54, 0x20}, HelloStatus::Malformed,
         "record version 0x4745 is not TLS");
  expect(Bytes{0x16, 0x03, 0x01, 0x00, 0x00}, HelloStatus::Malformed, "empty handshake record");
  expect(Bytes{0x16, 0x03, 0x01, 0x40, 0x01}, HelloStatus::Malformed,
         "record of 16385 bytes exceeds the TLS maximum of 16384");
}

TEST_CASE("a first handshake message that is not a ClientHello is malformed") {
  Bytes wire = openssl();
  wire[5] = 2;  // ServerHello
  expect(wire, HelloStatus::Malformed, "first handshake message is of type 2, not a ClientHello");
}

TEST_CASE("a hello larger than max_bytes is refused as soon as its length is read") {
  Bytes wire = openssl();
  // The record and handshake headers are enough: the listener need not peek any further.
  expect(Bytes(wire.begin(), wire.begin() + 9), HelloStatus::Malformed,
         "ClientHello of 333 bytes does not fit in max_bytes 256", 256);
  expect(wire, HelloStatus::Malformed, "does not fit in max_bytes 337", 337);
  CHECK(parseClientHello(wire, 338).status == HelloStatus::Done);
  // A declared length of 16 MiB is not waited for.
  expect(Bytes{0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff}, HelloStatus::Malformed,
         "ClientHello of 16777219 bytes does not fit in max_bytes 16384");
}

TEST_CASE("tiny records cannot stretch a hello past max_bytes") {
  Bytes message = test::handshakeOf(openssl());
  Bytes wire = test::frame(message, 1);  // 6 wire bytes per hello byte
  CHECK(parseClientHello(wire, wire.size()).status == HelloStatus::Done);
  // All at once, one byte short of the bound.
  expect(wire, HelloStatus::Malformed, "does not fit in max_bytes", wire.size() - 1);
  // With a bound of 1024 the parse gives up once the rest cannot fit, well before 1024 bytes.
  ClientHelloParser parser(1024);
  size_t n = 0;
  while (n < wire.size() && parser.feed(std::span(wire).first(n)) == HelloStatus::NeedMore) ++n;
  CHECK(parser.status() == HelloStatus::Malformed);
  CHECK(n <= 1024);
  CHECK(parser.error().find("does not fit in max_bytes 1024") != std::string::npos);
}

TEST_CASE("an extension whose length overruns the extensions block is malformed") {
  Bytes wire = openssl();
  size_t sni = test::extensionAt(wire, 0);
  test::set16(wire, sni + 2, 0xffff);
  expect(wire, HelloStatus::Malformed, "server_name of 65535 bytes overruns the extensions block");
  wire = openssl();
  size_t alpn = test::extensionAt(wire, 16);
  test::set16(wire, alpn + 2, 500);
  expect(wire, HelloStatus::Malformed, "application_layer_protocol_negotiation of 500 bytes");
}

TEST_CASE("a hello cut inside its extensions (lengths kept consistent) is malformed") {
  Bytes message = test::handshakeOf(openssl());
  for (size_t cut : {2, 3, 50, 150}) {
    CAPTURE(cut);
    Bytes shorter(message.begin(), message.end() - static_cast<ptrdiff_t>(cut));
    size_t body = shorter.size() - 4;
    shorter[1] = static_cast<uint8_t>(body >> 16);
    shorter[2] = static_cast<uint8_t>(body >> 8);
    shorter[3] = static_cast<uint8_t>(body);
    // The extensions block still claims the old length.
    expect(test::frame(shorter, 16384), HelloStatus::Malformed,
           "bytes are left in the ClientHello");
  }
}

TEST_CASE("a hello cut inside its fixed fields is malformed") {
  Bytes message = test::helloMessage({});
  for (auto [keep, field] : {std::pair{1, "legacy_version"},
                             {20, "random"},
                             {34, "legacy_session_id"},
                             {36, "cipher_suites"},
                             {39, "legacy_compression_methods"},
                             {42, "extensions length"}}) {
    CAPTURE(keep);
    Bytes body(message.begin() + 4, message.begin() + 4 + keep);
    Bytes cut{0x01, 0x00, 0x00, static_cast<uint8_t>(body.size())};
    cut.insert(cut.end(), body.begin(), body.end());
    expect(test::frame(cut, 16384), HelloStatus::Malformed,
           std::string("ClientHello ends inside its ") + field);
  }
  expect(test::frame(Bytes{0x01, 0x00, 0x00, 0x00}, 16384), HelloStatus::Malformed,
         "ends inside its legacy_version");
}

TEST_CASE("fixed fields out of their ranges are malformed") {
  Bytes wire = test::helloRecord({});
  Bytes bad = wire;
  bad[9] = 0x02;
  expect(bad, HelloStatus::Malformed, "ClientHello version 0x0203 is not TLS");
  bad = wire;
  bad[9 + 2 + 32 + 1 + 1] = 0x01;  // cipher_suites length 0x0001: odd
  expect(bad, HelloStatus::Malformed, "cipher_suites of 1 bytes (needs an even length");
  bad = wire;
  bad[9 + 2 + 32 + 1 + 4] = 0x00;  // legacy_compression_methods length 0
  expect(bad, HelloStatus::Malformed, "empty legacy_compression_methods");
  bad = test::helloRecord({{0xffce, Bytes(40, 0)}});
  bad[9 + 2 + 32] = 33;  // legacy_session_id length 33, the bytes being there
  expect(bad, HelloStatus::Malformed, "legacy_session_id of 33 bytes (max 32)");
}

TEST_CASE("an SNI that is an IP literal or not a DNS name is refused, naming it") {
  Bytes wire = openssl();
  test::patch(wire, "api.openai.com", "192.168.100.20");
  expect(wire, HelloStatus::Malformed,
         "SNI '192.168.100.20' is an IP address literal (RFC 6066 forbids addresses in SNI)");
  wire = openssl();
  test::patch(wire, "api.openai.com", "api.open@i.com");
  expect(wire, HelloStatus::Malformed, "SNI 'api.open@i.com' has an invalid character '@'");
  wire = openssl();
  test::patch(wire, "api.openai.com", std::string_view("api.\x01penai.com", 14));
  expect(wire, HelloStatus::Malformed, "SNI 'api.\\x01penai.com' has an invalid character");
  wire = openssl();
  test::patch(wire, "api.openai.com", "api.openai.co.");
  expect(wire, HelloStatus::Malformed, "ends with a dot");
  expect(test::helloRecord({test::sniExtension("")}), HelloStatus::Malformed, "SNI '' is empty");
}

TEST_CASE("malformed server_name, ALPN and supported_versions contents are named") {
  using test::Extension;
  expect(test::helloRecord({{0, {}}}), HelloStatus::Malformed, "empty server_name extension");
  expect(test::helloRecord({{0, {0x00, 0x09, 0x00, 0x00, 0x01, 'a'}}}), HelloStatus::Malformed,
         "server_name list length 9 does not match the 4 bytes");
  expect(test::helloRecord({{0, {0x00, 0x04, 0x00, 0x00, 0x05, 'a'}}}), HelloStatus::Malformed,
         "server_name entry overruns its list");
  Extension two = test::sniExtension("a.com");
  Bytes entry(two.data.begin() + 2, two.data.end());
  Bytes data;
  test::put16(data, entry.size() * 2);
  data.insert(data.end(), entry.begin(), entry.end());
  data.insert(data.end(), entry.begin(), entry.end());
  expect(test::helloRecord({{0, data}}), HelloStatus::Malformed, "two host_name entries");

  expect(test::helloRecord({test::alpnExtension({"h2", ""})}), HelloStatus::Malformed,
         "empty ALPN protocol name");
  expect(test::helloRecord({{16, {0x00, 0x00}}}), HelloStatus::Malformed,
         "empty ALPN protocol list");
  expect(test::helloRecord({{16, {0x00, 0x03, 0x05, 'h', '2'}}}), HelloStatus::Malformed,
         "ALPN protocol name overruns its list");
  expect(test::helloRecord({{16, {0x00, 0x05, 0x02, 'h', '2'}}}), HelloStatus::Malformed,
         "ALPN list length 5 does not match the 3 bytes");

  expect(test::helloRecord({{43, {0x03, 0x03, 0x04, 0x03}}}), HelloStatus::Malformed,
         "supported_versions list of 3 bytes");
  expect(test::helloRecord({{43, {}}}), HelloStatus::Malformed, "supported_versions list of 0");
  expect(test::helloRecord({{43, {0x04, 0x03, 0x04}}}), HelloStatus::Malformed,
         "supported_versions list of 4 bytes in an extension of 3");
}

TEST_CASE("an extension sent twice is malformed") {
  expect(test::helloRecord({test::sniExtension("a.com"), test::alpnExtension({"h2"}),
                            test::sniExtension("b.com")}),
         HelloStatus::Malformed, "server_name appears twice");
  expect(test::helloRecord({{0x1234, {}}, {0x1234, {0x00}}}), HelloStatus::Malformed,
         "extension 0x1234 appears twice");
}

TEST_CASE("a truncated extension header is malformed") {
  Bytes message = test::helloMessage({test::alpnExtension({"h2"})});
  // Three stray bytes after the extension, counted in both lengths.
  message.insert(message.end(), {0x00, 0x10, 0x00});
  size_t body = message.size() - 4;
  message[3] = static_cast<uint8_t>(body);
  message[2] = static_cast<uint8_t>(body >> 8);
  size_t block_at = 4 + 2 + 32 + 1 + 4 + 2;
  test::set16(message, block_at, ((size_t{message[block_at]} << 8) | message[block_at + 1]) + 3);
  expect(test::frame(message, 16384), HelloStatus::Malformed, "a truncated extension header");
}

}  // namespace
}  // namespace aiw
