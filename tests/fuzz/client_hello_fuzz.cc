// libFuzzer target for ClientHelloParser (src/tls/client_hello.cc), built with clang by
// tests/fuzz/CMakeLists.txt and run by `make fuzz` (docs/fuzzing.md).
//
// The seed corpus holds real hellos from tests/testdata/client_hello/ (openssl, curl, headless
// Chromium), each behind the two header bytes below (0xff 0x07: max_bytes 16384, split seed 7).
//
// Input: two header bytes, then the connection's bytes. The header picks the bound (max_bytes)
// and a seed for where reads split. Checks, beyond "no crash, no leak, no UB":
//  * feeding the bytes in random reads gives exactly the status, facts and error of one read
//    (the incremental state machine agrees with a fresh parse);
//  * a decided status never changes with more bytes;
//  * Done facts hold their promises (SNI a valid lower-case DNS name, no empty ALPN name,
//    wire_bytes within the bound and the input).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "tls/client_hello.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool sameFacts(const aiw::ClientHelloInfo& a, const aiw::ClientHelloInfo& b) {
  return a.sni == b.sni && a.alpn == b.alpn && a.supported_versions == b.supported_versions &&
         a.offers_tls13 == b.offers_tls13 && a.legacy_version == b.legacy_version &&
         a.record_version == b.record_version && a.wire_bytes == b.wire_bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t max_bytes = 64 + size_t{data[0]} * 64;  // 64 .. 16384
  uint32_t seed = data[1];
  std::span<const uint8_t> wire(data + 2, size - 2);

  aiw::ClientHelloResult whole = aiw::parseClientHello(wire, max_bytes);

  aiw::ClientHelloParser parser(max_bytes);
  size_t at = 0;
  aiw::HelloStatus status = aiw::HelloStatus::NeedMore;
  while (true) {
    status = parser.feed(wire.first(at));
    if (status != aiw::HelloStatus::NeedMore || at == wire.size()) break;
    seed = seed * 1103515245u + 12345u;
    at = std::min(wire.size(), at + 1 + (seed >> 16) % 97);
  }
  // A status decided on a prefix is the status of the whole.
  status = parser.feed(wire);
  check(status == whole.status);
  check(parser.error() == whole.error);
  if (status == aiw::HelloStatus::Done) {
    const aiw::ClientHelloInfo& hello = parser.clientHello();
    check(sameFacts(hello, whole.hello));
    check(hello.sni.empty() || aiw::sniNameProblem(hello.sni).empty());
    for (char c : hello.sni) check(!(c >= 'A' && c <= 'Z'));
    for (const auto& p : hello.alpn) check(!p.empty());
    check(hello.wire_bytes <= wire.size() && hello.wire_bytes <= max_bytes);
  } else {
    check((status == aiw::HelloStatus::NeedMore) == parser.error().empty());
  }
  return 0;
}
