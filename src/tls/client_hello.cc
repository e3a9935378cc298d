#include "tls/client_hello.h"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <utility>

namespace aiw {
namespace {

constexpr uint8_t kContentChangeCipherSpec = 20;
constexpr uint8_t kContentAlert = 21;
constexpr uint8_t kContentHandshake = 22;
constexpr uint8_t kContentApplicationData = 23;
constexpr uint8_t kContentHeartbeat = 24;
constexpr uint8_t kHandshakeClientHello = 1;
constexpr size_t kRecordHeader = 5;
constexpr size_t kHandshakeHeader = 4;
constexpr size_t kRandomLength = 32;
constexpr size_t kMaxSessionId = 32;
constexpr size_t kMaxHostName = 253;
constexpr size_t kMaxLabel = 63;

constexpr uint16_t kExtServerName = 0;
constexpr uint16_t kExtAlpn = 16;
constexpr uint16_t kExtSupportedVersions = 43;
constexpr uint8_t kHostNameType = 0;

const char* contentTypeName(uint8_t type) {
  switch (type) {
    case kContentChangeCipherSpec:
      return "change_cipher_spec";
    case kContentAlert:
      return "alert";
    case kContentHandshake:
      return "handshake";
    case kContentApplicationData:
      return "application_data";
    case kContentHeartbeat:
      return "heartbeat";
    default:
      return "unknown";
  }
}

std::string hex(unsigned value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", digits, value);
  return buf;
}

std::string extensionName(uint16_t type) {
  switch (type) {
    case kExtServerName:
      return "server_name";
    case kExtAlpn:
      return "application_layer_protocol_negotiation";
    case kExtSupportedVersions:
      return "supported_versions";
    default:
      return "extension " + hex(type, 4);
  }
}

// Hostile bytes end up in log lines and JSON: keep messages printable and short.
std::string printable(std::string_view s) {
  constexpr size_t kMaxShown = 64;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > kMaxShown) out += "...";
  return out;
}

// RFC 8701: GREASE values exist so that peers learn to ignore unknown ones.
bool isGreaseVersion(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }
bool isGreaseAlpn(std::string_view p) {
  return p.size() == 2 && p[0] == p[1] && (static_cast<uint8_t>(p[0]) & 0x0f) == 0x0a;
}

// Bounds-checked big-endian reads over one span; a failed read leaves the reader unchanged.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}
  size_t left() const { return data_.size() - at_; }
  bool empty() const { return left() == 0; }
  bool u8(uint8_t& out) {
    if (left() < 1) return false;
    out = data_[at_++];
    return true;
  }
  bool u16(uint16_t& out) {
    if (left() < 2) return false;
    out = static_cast<uint16_t>((data_[at_] << 8) | data_[at_ + 1]);
    at_ += 2;
    return true;
  }
  bool bytes(size_t n, std::span<const uint8_t>& out) {
    if (left() < n) return false;
    out = data_.subspan(at_, n);
    at_ += n;
    return true;
  }

 private:
  std::span<const uint8_t> data_;
  size_t at_ = 0;
};

std::string_view asText(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

bool allDigits(std::string_view s, bool hex_digits) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [hex_digits](char c) {
    return (c >= '0' && c <= '9') ||
           (hex_digits && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
  });
}

// The parsers of the three extensions read; each returns "" or why the extension is malformed.
std::string parseServerName(std::span<const uint8_t> data, std::string& sni) {
  Reader r(data);
  uint16_t list_length = 0;
  if (!r.u16(list_length) || list_length == 0) return "empty server_name extension";
  if (list_length != r.left()) {
    return "server_name list length " + std::to_string(list_length) + " does not match the " +
           std::to_string(r.left()) + " bytes of the extension";
  }
  bool have_host = false;
  while (!r.empty()) {
    uint8_t type = 0;
    uint16_t length = 0;
    std::span<const uint8_t> name;
    if (!r.u8(type) || !r.u16(length) || !r.bytes(length, name)) {
      return "server_name entry overruns its list";
    }
    // RFC 6066 defines host_name only; other types are skipped as a server would ignore them.
    if (type != kHostNameType) continue;
    if (have_host) return "server_name holds two host_name entries (RFC 6066 allows one)";
    have_host = true;
    std::string problem = sniNameProblem(asText(name));
    if (!problem.empty()) return "SNI '" + printable(asText(name)) + "' " + problem;
    sni.assign(asText(name));
    std::transform(sni.begin(), sni.end(), sni.begin(), [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
  }
  return {};
}

std::string parseAlpn(std::span<const uint8_t> data, std::vector<std::string>& alpn) {
  Reader r(data);
  uint16_t list_length = 0;
  if (!r.u16(list_length) || list_length == 0) return "empty ALPN protocol list";
  if (list_length != r.left()) {
    return "ALPN list length " + std::to_string(list_length) + " does not match the " +
           std::to_string(r.left()) + " bytes of the extension";
  }
  while (!r.empty()) {
    uint8_t length = 0;
    std::span<const uint8_t> name;
    if (!r.u8(length) || !r.bytes(length, name)) return "ALPN protocol name overruns its list";
    if (length == 0) return "empty ALPN protocol name (RFC 7301 forbids)";
    if (!isGreaseAlpn(asText(name))) alpn.emplace_back(asText(name));
  }
  return {};
}

std::string parseSupportedVersions(std::span<const uint8_t> data, std::vector<uint16_t>& out,
                                   bool& tls13) {
  Reader r(data);
  uint8_t length = 0;
  if (!r.u8(length) || length < 2 || length % 2 != 0 || length != r.left()) {
    return "supported_versions list of " + std::to_string(length) + " bytes in an extension of " +
           std::to_string(data.size()) + " (needs an even length of at least 2 that fills it)";
  }
  while (!r.empty()) {
    uint16_t v = 0;
    (void)r.u16(v);  // cannot fail: the length is even and fills the extension
    if (isGreaseVersion(v)) continue;
    out.push_back(v);
    if (v == kTls13) tls13 = true;
  }
  return {};
}

}  // namespace

const char* helloStatusName(HelloStatus status) {
  switch (status) {
    case HelloStatus::NeedMore:
      return "need_more";
    case HelloStatus::Done:
      return "done";
    case HelloStatus::NotTls:
      return "not_tls";
    case HelloStatus::Malformed:
      return "malformed";
  }
  return "unknown";
}

std::string sniNameProblem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name.size() > kMaxHostName) return "is longer than 253 bytes";
  if (name.back() == '.') return "ends with a dot (RFC 6066 forbids)";
  if (name.find(':') != std::string_view::npos || name.front() == '[') {
    return "is an IP address literal (RFC 6066 forbids addresses in SNI)";
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return "has an invalid character '" + printable(std::string_view(&c, 1)) + "'";
  }
  size_t start = 0;
  std::string_view last;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view label = name.substr(start, dot - start);
    if (label.empty()) return "has an empty label";
    if (label.size() > kMaxLabel) return "has a label longer than 63 bytes";
    last = label;
    start = dot + 1;
  }
  // As the WHATWG URL parser does: a numeric last label makes the whole name an IPv4 address
  // (no top-level domain is numeric), which also catches 127.1 and 0x7f.0.0.1.
  if (allDigits(last, false) ||
      (last.size() > 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') &&
       allDigits(last.substr(2), true))) {
    return "is an IP address literal (RFC 6066 forbids addresses in SNI)";
  }
  return {};
}

ClientHelloParser::ClientHelloParser(size_t max_bytes) : max_bytes_(max_bytes) {}

void ClientHelloParser::reset() {
  status_ = HelloStatus::NeedMore;
  error_.clear();
  info_ = ClientHelloInfo{};
  seen_ = consumed_ = record_left_ = records_ = hello_length_ = 0;
  hello_length_known_ = false;
  handshake_.clear();
}

HelloStatus ClientHelloParser::fail(HelloStatus status, std::string message) {
  status_ = status;
  error_ = std::move(message);
  handshake_ = {};  // nothing more will be parsed: give the memory back early
  return status_;
}

HelloStatus ClientHelloParser::feed(std::span<const uint8_t> peeked) {
  if (peeked.size() < seen_) reset();
  seen_ = peeked.size();
  if (status_ != HelloStatus::NeedMore) return status_;

  while (true) {
    if (consumed_ == 0 && !peeked.empty()) {
      uint8_t first = peeked[0];
      if (first & 0x80) {
        // An SSLv2 record header: 2-byte length with the top bit set, then msg_type 1.
        if (peeked.size() < 3) return status_;
        if (peeked[2] == kHandshakeClientHello) {
          return fail(HelloStatus::Malformed,
                      "SSLv2-compatible ClientHello: not supported (it carries no extensions, "
                      "so no SNI)");
        }
      }
      if (first != kContentHandshake) {
        if (first >= kContentChangeCipherSpec && first <= kContentHeartbeat) {
          return fail(HelloStatus::Malformed, std::string("connection starts with a TLS ") +
                                                  contentTypeName(first) +
                                                  " record, not the ClientHello");
        }
        return fail(HelloStatus::NotTls, "not TLS: the first byte is " + hex(first, 2) + " ('" +
                                             printable(asText(peeked.first(1))) +
                                             "'), not a handshake record (0x16)");
      }
    }
    if (record_left_ == 0) {
      if (peeked.size() - consumed_ < kRecordHeader) break;
      if (HelloStatus s = checkRecordHeader(peeked); s != HelloStatus::NeedMore) return s;
      if (HelloStatus s = checkBound(); s != HelloStatus::NeedMore) return s;
    }
    size_t want = hello_length_known_ ? kHandshakeHeader + hello_length_ - handshake_.size()
                                      : kHandshakeHeader - handshake_.size();
    size_t take = std::min({peeked.size() - consumed_, record_left_, want});
    if (take == 0) break;
    handshake_.insert(handshake_.end(), peeked.begin() + static_cast<std::ptrdiff_t>(consumed_),
                      peeked.begin() + static_cast<std::ptrdiff_t>(consumed_ + take));
    consumed_ += take;
    record_left_ -= take;
    if (!hello_length_known_ && handshake_.size() == kHandshakeHeader) {
      if (HelloStatus s = checkHandshakeHeader(); s != HelloStatus::NeedMore) return s;
      if (HelloStatus s = checkBound(); s != HelloStatus::NeedMore) return s;
      handshake_.reserve(kHandshakeHeader + hello_length_);  // within the bound: checked above
    }
    if (hello_length_known_ && handshake_.size() == kHandshakeHeader + hello_length_) {
      info_.wire_bytes = consumed_;
      return parseBody();
    }
  }

  return checkBound();
}

HelloStatus ClientHelloParser::checkBound() {
  // The fewest wire bytes that can finish the hello: what is consumed, the handshake bytes still
  // missing, and one more record header if the current record cannot hold them. Checked after
  // every header, so a hello that cannot fit is refused before its bytes are waited for, and
  // one that completes never took more than max_bytes.
  size_t want = hello_length_known_ ? kHandshakeHeader + hello_length_ - handshake_.size()
                                    : kHandshakeHeader - handshake_.size();
  size_t at_least = consumed_ + want + (record_left_ >= want ? 0 : kRecordHeader);
  if (at_least <= max_bytes_) return HelloStatus::NeedMore;
  return fail(HelloStatus::Malformed,
              hello_length_known_
                  ? "ClientHello of " + std::to_string(kHandshakeHeader + hello_length_) +
                        " bytes does not fit in max_bytes " + std::to_string(max_bytes_) +
                        " (with its record headers)"
                  : "ClientHello does not fit in max_bytes " + std::to_string(max_bytes_) + " (" +
                        std::to_string(records_) + " records so far)");
}

HelloStatus ClientHelloParser::checkRecordHeader(std::span<const uint8_t> peeked) {
  const uint8_t* h = peeked.data() + consumed_;
  if (h[0] != kContentHandshake) {
    return fail(HelloStatus::Malformed, std::string("ClientHello fragment followed by a ") +
                                            contentTypeName(h[0]) + " record (" + hex(h[0], 2) +
                                            "): handshake records must not be interleaved");
  }
  auto version = static_cast<uint16_t>((h[1] << 8) | h[2]);
  if (h[1] != 3) {
    return fail(HelloStatus::Malformed, "record version " + hex(version, 4) + " is not TLS");
  }
  size_t length = (size_t{h[3]} << 8) | h[4];
  if (length == 0) {
    return fail(HelloStatus::Malformed,
                "empty handshake record (RFC 8446 §5.1 forbids zero-length fragments)");
  }
  if (length > kMaxRecordLength) {
    return fail(HelloStatus::Malformed,
                "record of " + std::to_string(length) + " bytes exceeds the TLS maximum of 16384");
  }
  if (records_ == 0) info_.record_version = version;
  ++records_;
  consumed_ += kRecordHeader;
  record_left_ = length;
  return HelloStatus::NeedMore;
}

HelloStatus ClientHelloParser::checkHandshakeHeader() {
  if (handshake_[0] != kHandshakeClientHello) {
    return fail(HelloStatus::Malformed, "first handshake message is of type " +
                                            std::to_string(handshake_[0]) +
                                            ", not a ClientHello (1)");
  }
  hello_length_ = (size_t{handshake_[1]} << 16) | (size_t{handshake_[2]} << 8) | handshake_[3];
  hello_length_known_ = true;
  return HelloStatus::NeedMore;
}

HelloStatus ClientHelloParser::parseBody() {
  Reader r(std::span<const uint8_t>(handshake_).subspan(kHandshakeHeader));
  auto malformed = [this](std::string m) { return fail(HelloStatus::Malformed, std::move(m)); };
  auto ends = [&](const char* field) {
    return malformed(std::string("ClientHello ends inside its ") + field);
  };

  std::span<const uint8_t> skipped;
  uint16_t version = 0;
  if (!r.u16(version)) return ends("legacy_version");
  if ((version >> 8) != 3)
    return malformed("ClientHello version " + hex(version, 4) + " is not TLS");
  info_.legacy_version = version;
  if (!r.bytes(kRandomLength, skipped)) return ends("random");
  uint8_t session_id = 0;
  if (!r.u8(session_id) || !r.bytes(session_id, skipped)) return ends("legacy_session_id");
  if (session_id > kMaxSessionId) {
    return malformed("legacy_session_id of " + std::to_string(session_id) + " bytes (max 32)");
  }
  uint16_t suites = 0;
  if (!r.u16(suites) || !r.bytes(suites, skipped)) return ends("cipher_suites");
  if (suites == 0 || suites % 2 != 0) {
    return malformed("cipher_suites of " + std::to_string(suites) +
                     " bytes (needs an even length of at least 2)");
  }
  uint8_t compressions = 0;
  if (!r.u8(compressions) || !r.bytes(compressions, skipped)) {
    return ends("legacy_compression_methods");
  }
  if (compressions == 0) return malformed("empty legacy_compression_methods");

  // A TLS 1.2 hello may end here (no extensions at all: no SNI, no ALPN).
  if (!r.empty()) {
    uint16_t total = 0;
    if (!r.u16(total)) return ends("extensions length");
    if (total != r.left()) {
      return malformed("extensions block of " + std::to_string(total) + " bytes, but " +
                       std::to_string(r.left()) + " bytes are left in the ClientHello");
    }
    std::vector<uint16_t> seen;
    while (!r.empty()) {
      uint16_t type = 0;
      uint16_t length = 0;
      std::span<const uint8_t> data;
      if (!r.u16(type) || !r.u16(length)) return ends("extensions (a truncated extension header)");
      if (!r.bytes(length, data)) {
        return malformed(extensionName(type) + " of " + std::to_string(length) +
                         " bytes overruns the extensions block (" + std::to_string(r.left()) +
                         " bytes left)");
      }
      seen.push_back(type);
      std::string problem;
      if (type == kExtServerName) {
        problem = parseServerName(data, info_.sni);
      } else if (type == kExtAlpn) {
        problem = parseAlpn(data, info_.alpn);
      } else if (type == kExtSupportedVersions) {
        problem = parseSupportedVersions(data, info_.supported_versions, info_.offers_tls13);
      }
      if (!problem.empty()) return malformed(std::move(problem));
    }
    // Sorted once rather than searched per extension: a hostile hello can hold thousands.
    std::sort(seen.begin(), seen.end());
    if (auto dup = std::adjacent_find(seen.begin(), seen.end()); dup != seen.end()) {
      return malformed(extensionName(*dup) + " appears twice (RFC 8446 §4.2 forbids)");
    }
  }
  status_ = HelloStatus::Done;
  handshake_ = {};
  return status_;
}

ClientHelloResult parseClientHello(std::span<const uint8_t> bytes, size_t max_bytes) {
  ClientHelloParser parser(max_bytes);
  ClientHelloResult result;
  result.status = parser.feed(bytes);
  result.error = parser.error();
  if (result.status == HelloStatus::Done) result.hello = parser.clientHello();
  return result;
}

}  // namespace aiw
