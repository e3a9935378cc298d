// ClientHelloParser: reads the TLS ClientHello at the start of a connection from the bytes peeked
// so far, without consuming them (tls_inspector, SPEC §5): SNI, ALPN list, offered versions.
// Pure code on bytes (RFC 8446 §4.1.2 / RFC 5246 §7.4.1.2 ClientHello, RFC 6066 §3 server_name,
// RFC 7301 ALPN, RFC 8446 §4.2.1 supported_versions); BoringSSL does the real handshake later,
// on the same bytes.
//
// Input is hostile: every length is checked against the bytes at hand and against the bound
// before it is used; the parser never reads past the span, never asserts, never throws.
//
// Bound: `max_bytes` caps the wire bytes of the records that carry the ClientHello, record
// headers included, i.e. what the listener must hold in its peek buffer. Counting wire bytes
// (not just the handshake message) keeps a hello fragmented into many tiny records bounded too.
// The default, 16 KiB (one maximal TLS record), is ~8x a current browser hello with a
// post-quantum key share (~1.8 KiB) and room for a few PSK tickets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aiw {

enum class HelloStatus : uint8_t {
  NeedMore,   // a valid prefix of a ClientHello: feed again with more bytes
  Done,       // a whole, valid ClientHello: clientHello() holds its facts
  NotTls,     // the first byte is not a TLS record at all (plain HTTP, SSH, ...)
  Malformed,  // TLS-shaped but unusable (bad lengths, wrong record, too large, bad SNI ...)
};

const char* helloStatusName(HelloStatus status);

inline constexpr uint16_t kTls10 = 0x0301;
inline constexpr uint16_t kTls11 = 0x0302;
inline constexpr uint16_t kTls12 = 0x0303;
inline constexpr uint16_t kTls13 = 0x0304;

// What a ClientHello says about the client. Filled only when the status is Done.
struct ClientHelloInfo {
  uint16_t record_version = 0;  // of the first record (0x0301 or 0x0303 in practice)
  uint16_t legacy_version = 0;  // ClientHello.legacy_version (0x0303 also for TLS 1.3)
  // server_name host_name, lower-case, a DNS name (never an IP literal); empty when absent.
  std::string sni;
  // ALPN protocol names in the client's order; empty when the extension is absent.
  // GREASE values (RFC 8701) are left out: they only exist to be ignored.
  std::vector<std::string> alpn;
  // supported_versions in the client's order without GREASE; empty when the extension is absent
  // (the client then offers legacy_version and below).
  std::vector<uint16_t> supported_versions;
  bool offers_tls13 = false;  // supported_versions holds 0x0304
  // Wire bytes from the connection's first byte to the ClientHello's last byte, record headers
  // included (never more than max_bytes).
  size_t wire_bytes = 0;
};

class ClientHelloParser {
 public:
  static constexpr size_t kDefaultMaxBytes = 16384;
  // A maximal TLS plaintext record (RFC 8446 §5.1); a longer record is a record_overflow.
  static constexpr size_t kMaxRecordLength = 16384;

  explicit ClientHelloParser(size_t max_bytes = kDefaultMaxBytes);

  // `peeked`: every byte received on the connection so far, from its first. Each call hands
  // the same bytes plus any new ones (the listener's growing peek); the parser resumes where it
  // stopped, so a hello trickling in byte by byte costs O(total), not O(total²). A span shorter
  // than the previous one restarts the parse from scratch. Once the status is not NeedMore, it
  // is final and later calls return it unchanged.
  HelloStatus feed(std::span<const uint8_t> peeked);

  HelloStatus status() const { return status_; }
  // Valid when status() is Done.
  const ClientHelloInfo& clientHello() const { return info_; }
  // Why the status is NotTls or Malformed, for logs and the classifier's refusal; else empty.
  const std::string& error() const { return error_; }
  size_t maxBytes() const { return max_bytes_; }

 private:
  HelloStatus fail(HelloStatus status, std::string message);
  // Checks the record header at consumed_ (5 bytes present); NeedMore when it is acceptable.
  HelloStatus checkRecordHeader(std::span<const uint8_t> peeked);
  // Checks the handshake header once 4 bytes are reassembled (type; learns the length).
  HelloStatus checkHandshakeHeader();
  // Malformed once the hello cannot be completed within max_bytes; else NeedMore.
  HelloStatus checkBound();
  HelloStatus parseBody();
  void reset();

  size_t max_bytes_;
  HelloStatus status_ = HelloStatus::NeedMore;
  std::string error_;
  ClientHelloInfo info_;
  size_t seen_ = 0;          // bytes of the span handed last time
  size_t consumed_ = 0;      // wire bytes already taken (headers + fragment bytes)
  size_t record_left_ = 0;   // fragment bytes of the current record still to take
  size_t records_ = 0;       // handshake records started
  size_t hello_length_ = 0;  // handshake body length, known once 4 bytes are reassembled
  bool hello_length_known_ = false;
  std::vector<uint8_t> handshake_;  // the handshake message reassembled from the fragments
};

// One-shot convenience: the status, facts and error of `bytes` parsed at once.
struct ClientHelloResult {
  HelloStatus status = HelloStatus::NeedMore;
  ClientHelloInfo hello;
  std::string error;
};
ClientHelloResult parseClientHello(std::span<const uint8_t> bytes,
                                   size_t max_bytes = ClientHelloParser::kDefaultMaxBytes);

// RFC 6066 host_name checks, shared with whoever validates names the same way: 1-253 bytes of
// LDH labels (underscores tolerated, as real hosts use them) of 1-63 bytes, no trailing dot,
// not an IPv4 literal (a name whose last label is all digits). Returns "" when valid, else why.
std::string sniNameProblem(std::string_view name);

}  // namespace aiw
