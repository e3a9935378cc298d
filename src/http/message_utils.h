// Helpers shared by the HTTP codecs and the proxy: field syntax, hop-by-hop fields, Via, and the
// request-target forms a proxy receives (absolute-form URLs, CONNECT authorities, Host values).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/headers.h"
#include "core/result.h"

namespace aiw {

// RFC 9110 §5.1 field-name: a non-empty token (tchar only).
bool isValidFieldName(std::string_view name);
// RFC 9110 §5.5 field-value: VCHAR, obs-text, SP and HTAB; no CR, LF, NUL or other controls.
// (Leading/trailing whitespace is allowed here; the parser strips it.)
bool isValidFieldValue(std::string_view value);

// Calls fn(token) for each element of a comma-separated list field value (RFC 9110 §5.6.1),
// trimmed of whitespace; empty elements are skipped.
template <typename Fn>
void forEachListElement(std::string_view value, Fn&& fn) {
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t comma = value.find(',', pos);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view elem = value.substr(pos, comma - pos);
    while (!elem.empty() && (elem.front() == ' ' || elem.front() == '\t')) elem.remove_prefix(1);
    while (!elem.empty() && (elem.back() == ' ' || elem.back() == '\t')) elem.remove_suffix(1);
    if (!elem.empty()) fn(elem);
    pos = comma + 1;
  }
}

// True when any field named `name` lists `token` (ASCII case-insensitive), e.g.
// headerHasToken(h, "Connection", "close").
bool headerHasToken(const Headers& headers, std::string_view name, std::string_view token);

// Removes the hop-by-hop fields (RFC 9110 §7.6.1) before a message is forwarded: Connection and
// every field it names, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade,
// Proxy-Authorization, Proxy-Authenticate. Host and Content-Length are never removed because a
// Connection option names them: a client must not be able to strip the routing or the length
// the next hop relies on. (The writer re-adds Transfer-Encoding when it chunks; Upgrade must be
// re-added by the caller when it forwards an upgrade.) Returns how many fields were removed.
size_t removeHopByHopHeaders(Headers& headers);

// Appends "<protocol_version> <pseudonym>" (e.g. "1.1 aiwarden") to the Via field: to the last
// Via field line when there is one (so the hops stay in order), else as a new field.
void addVia(Headers& headers, std::string_view protocol_version, std::string_view pseudonym);
// True when a Via entry already carries `pseudonym` as its received-by: the message has been
// through this proxy before (a forwarding loop).
bool viaContains(const Headers& headers, std::string_view pseudonym);

enum class HostKind : uint8_t { Name, IPv4, IPv6 };

// A host and port as the proxy uses them to route and classify.
struct Authority {
  // Lower-cased; IPv6 without brackets (canonical text form); one trailing dot of a DNS name
  // removed so "api.openai.com." and "api.openai.com" classify alike.
  std::string host;
  uint16_t port = 0;
  HostKind kind = HostKind::Name;

  bool isIpLiteral() const { return kind != HostKind::Name; }
  // "host:port" with brackets around IPv6 (for CONNECT lines, logs, Host values).
  std::string hostPort() const;
};

struct AbsoluteUrl {
  std::string scheme;   // "http" or "https", lower-cased
  Authority authority;  // port defaulted to 80 / 443 when absent
  bool port_explicit = false;
  std::string path;  // origin-form: path + "?" + query, "/" when the URL has no path
  // The Host field value for this URL: host, with ":port" only when it is not the default.
  std::string hostHeader() const;
};

// Parses an absolute-form request target "http://host[:port][/path][?query]". Refused (Error
// code "bad_url"): other schemes, userinfo ("user@"), fragments, empty hosts, bad ports (0, above
// 65535, non-digits, empty after ':'), control characters, spaces and non-ASCII bytes, and host
// names that are neither a DNS-style name nor a canonical IP literal (see parseHost).
Result<AbsoluteUrl> parseAbsoluteUrl(std::string_view url);

// Parses a CONNECT authority-form target "host:port" (port required; IPv6 as "[::1]:443").
// Error code "bad_authority".
Result<Authority> parseAuthorityForm(std::string_view target);

// Parses a Host field value "host[:port]"; port is 0 when absent. Error code "bad_host".
Result<Authority> parseHostHeader(std::string_view value);

// Parses a bare host (no port, IPv6 with brackets). Names: letters, digits, '-', '_' and '.',
// labels 1..63 bytes, 253 bytes in all. A host whose last label starts with a digit must be a
// canonical dotted-quad IPv4 address: "127.1", "0x7f.0.0.1" or "010.0.0.1" are refused, because
// resolvers read them as addresses that the domain patterns never see.
Result<Authority> parseHost(std::string_view host);

}  // namespace aiw
