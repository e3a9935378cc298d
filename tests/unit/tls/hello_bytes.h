// Test support for the ClientHello parser: the real samples as vectors, re-framing a hello's
// handshake message into other records, locating an extension inside a real hello so that a test
// can corrupt it, and a builder for synthetic hellos (shapes no real client sends).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "client_hello_samples.h"

namespace aiw::test {

using Bytes = std::vector<uint8_t>;

template <size_t N>
Bytes sample(const uint8_t (&array)[N]) {
  return Bytes(array, array + N);
}

inline Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

inline void put16(Bytes& out, size_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

inline void set16(Bytes& out, size_t at, size_t v) {
  out[at] = static_cast<uint8_t>(v >> 8);
  out[at + 1] = static_cast<uint8_t>(v);
}

// The handshake message carried by the records of `wire` (a trusted, well-formed sample).
inline Bytes handshakeOf(const Bytes& wire) {
  Bytes out;
  for (size_t at = 0; at + 5 <= wire.size();) {
    size_t length = (size_t{wire[at + 3]} << 8) | wire[at + 4];
    out.insert(out.end(), wire.begin() + static_cast<std::ptrdiff_t>(at + 5),
               wire.begin() + static_cast<std::ptrdiff_t>(at + 5 + length));
    at += 5 + length;
  }
  return out;
}

// `message` framed as handshake records of at most `fragment` bytes each (version 0x0301, as
// clients write their first records).
inline Bytes frame(const Bytes& message, size_t fragment) {
  Bytes out;
  for (size_t at = 0; at < message.size(); at += fragment) {
    size_t n = std::min(fragment, message.size() - at);
    out.insert(out.end(), {0x16, 0x03, 0x01});
    put16(out, n);
    out.insert(out.end(), message.begin() + static_cast<std::ptrdiff_t>(at),
               message.begin() + static_cast<std::ptrdiff_t>(at + n));
  }
  return out;
}

// `message` split into two records: its first `split` bytes, then the rest.
inline Bytes frameSplit(const Bytes& message, size_t split) {
  Bytes out =
      frame(Bytes(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(split)), 16384);
  Bytes rest =
      frame(Bytes(message.begin() + static_cast<std::ptrdiff_t>(split), message.end()), 16384);
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

// Offset (in a single-record hello) of the 4-byte header of extension `type`; fails the test
// when absent. Walks the trusted sample's structure.
inline size_t extensionAt(const Bytes& wire, uint16_t type) {
  size_t at = 5 + 4 + 2 + 32;
  at += 1 + wire[at];
  at += 2 + ((size_t{wire[at]} << 8) | wire[at + 1]);
  at += 1 + wire[at];
  at += 2;  // extensions block length
  while (at + 4 <= wire.size()) {
    uint16_t t = static_cast<uint16_t>((wire[at] << 8) | wire[at + 1]);
    if (t == type) return at;
    at += 4 + ((size_t{wire[at + 2]} << 8) | wire[at + 3]);
  }
  FAIL("extension " << type << " not in the sample");
  return 0;
}

// Replaces `from` by `to` (same length) in `wire`: edits a real hello without touching lengths.
inline void patch(Bytes& wire, std::string_view from, std::string_view to) {
  REQUIRE(from.size() == to.size());
  auto hit = std::search(wire.begin(), wire.end(), from.begin(), from.end());
  REQUIRE(hit != wire.end());
  std::copy(to.begin(), to.end(), hit);
}

// ---- synthetic hellos ----

struct Extension {
  uint16_t type;
  Bytes data;
};

inline Extension sniExtension(std::string_view name, uint8_t name_type = 0) {
  Bytes entry{name_type};
  put16(entry, name.size());
  entry.insert(entry.end(), name.begin(), name.end());
  Bytes data;
  put16(data, entry.size());
  data.insert(data.end(), entry.begin(), entry.end());
  return {0, data};
}

inline Extension alpnExtension(std::initializer_list<std::string_view> protocols) {
  Bytes list;
  for (auto p : protocols) {
    list.push_back(static_cast<uint8_t>(p.size()));
    list.insert(list.end(), p.begin(), p.end());
  }
  Bytes data;
  put16(data, list.size());
  data.insert(data.end(), list.begin(), list.end());
  return {16, data};
}

inline Extension versionsExtension(std::initializer_list<uint16_t> versions) {
  Bytes data{static_cast<uint8_t>(versions.size() * 2)};
  for (uint16_t v : versions) put16(data, v);
  return {43, data};
}

// A ClientHello handshake message (not framed) with these extensions; none at all (not even
// the block's length) when `extensions_block` is false, as an old TLS 1.2 client may send.
inline Bytes helloMessage(const std::vector<Extension>& extensions, bool extensions_block = true) {
  Bytes body{0x03, 0x03};
  body.insert(body.end(), 32, 0xab);                  // random
  body.push_back(0);                                  // legacy_session_id
  body.insert(body.end(), {0x00, 0x02, 0x13, 0x01});  // cipher_suites: TLS_AES_128_GCM_SHA256
  body.insert(body.end(), {0x01, 0x00});              // legacy_compression_methods: null
  if (extensions_block) {
    Bytes block;
    for (const auto& e : extensions) {
      put16(block, e.type);
      put16(block, e.data.size());
      block.insert(block.end(), e.data.begin(), e.data.end());
    }
    put16(body, block.size());
    body.insert(body.end(), block.begin(), block.end());
  }
  Bytes message{0x01, static_cast<uint8_t>(body.size() >> 16),
                static_cast<uint8_t>(body.size() >> 8), static_cast<uint8_t>(body.size())};
  message.insert(message.end(), body.begin(), body.end());
  return message;
}

inline Bytes helloRecord(const std::vector<Extension>& extensions) {
  return frame(helloMessage(extensions), 16384);
}

}  // namespace aiw::test
