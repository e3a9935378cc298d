#include "http/message_utils.h"

#include <arpa/inet.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <vector>

namespace aiw {

namespace {

constexpr std::array<bool, 256> makeTcharTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kTchar = makeTcharTable();

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// `lower` is already lower-case.
bool equalsLower(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (lowerAscii(name[i]) != lower[i]) return false;
  }
  return true;
}

// Runs for every field of every forwarded message: dispatch on the length first.
bool isHopByHopName(std::string_view name) {
  // clang-format off
  switch (name.size()) {
    case 2: return equalsLower(name, "te");
    case 7: return equalsLower(name, "upgrade");
    case 10: return equalsLower(name, "connection") || equalsLower(name, "keep-alive");
    case 16: return equalsLower(name, "proxy-connection");
    case 17: return equalsLower(name, "transfer-encoding");
    case 18: return equalsLower(name, "proxy-authenticate");
    case 19: return equalsLower(name, "proxy-authorization");
    default: return false;
  }
  // clang-format on
}

// Port: 1..5 digits, 1..65535.
bool parsePort(std::string_view s, uint16_t& port) {
  if (s.empty() || s.size() > 5) return false;
  uint32_t v = 0;
  for (char c : s) {
    if (!isDigit(c)) return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  port = static_cast<uint16_t>(v);
  return true;
}

// Canonical dotted quad only: four decimal parts 0..255 without leading zeros.
bool isCanonicalIpv4(std::string_view s) {
  int parts = 0;
  size_t pos = 0;
  while (true) {
    size_t dot = s.find('.', pos);
    std::string_view part = s.substr(pos, dot == std::string_view::npos ? s.npos : dot - pos);
    if (part.empty() || part.size() > 3) return false;
    if (part.size() > 1 && part[0] == '0') return false;
    int v = 0;
    for (char c : part) {
      if (!isDigit(c)) return false;
      v = v * 10 + (c - '0');
    }
    if (v > 255) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  return parts == 4;
}

Error hostError(std::string code, std::string_view what, std::string_view input) {
  std::string msg(what);
  msg += ": \"";
  // Inputs come from the network: keep the echo short and printable.
  for (char c : input.substr(0, 200)) {
    msg += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  msg += '"';
  return makeError(std::move(code), std::move(msg));
}

// Splits "host[:port]" (IPv6 in brackets) and parses both parts.
Result<Authority> parseHostAndPort(std::string_view s, bool port_required, const char* code) {
  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return hostError(code, "unterminated IPv6 literal", s);
    host = s.substr(0, close + 1);
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return hostError(code, "unexpected characters after IPv6 literal", s);
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = s.find(':');
    if (colon != std::string_view::npos) {
      if (s.find(':', colon + 1) != std::string_view::npos) {
        return hostError(code, "IPv6 literal must be in brackets", s);
      }
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
      has_port = true;
    } else {
      host = s;
    }
  }
  if (port_required && !has_port) return hostError(code, "port required", s);
  auto parsed = parseHost(host);
  if (!parsed) return makeError(code, parsed.error().message);
  if (has_port && !parsePort(port, parsed->port)) return hostError(code, "invalid port", s);
  return parsed;
}

}  // namespace

bool isValidFieldName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!kTchar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

bool isValidFieldValue(std::string_view value) {
  const auto *bytes = reinterpret_cast<const unsigned char *>(value.data());
  const size_t n = value.size();
  auto invalid = [](unsigned char u) { return (u < 0x20 && u != '\t') || u == 0x7f; };
#if defined(__SSE2__)
  // Every field of every message is checked, some more than once on the way between the two
  // HTTP versions: 16 bytes a step (a byte loop was 3 % of an HTTP/2 request's instructions).
  if (n >= 16) {
    auto block_invalid = [](const unsigned char *at) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(at));
      const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);  // <= 0x1f
      const __m128i tab = _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'));
      const __m128i del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
      return _mm_movemask_epi8(_mm_or_si128(_mm_andnot_si128(tab, control), del)) != 0;
    };
    for (size_t i = 0; i + 16 <= n; i += 16) {
      if (block_invalid(bytes + i)) return false;
    }
    return !block_invalid(bytes + n - 16);  // the last bytes, overlapping the block before
  }
#endif
  for (size_t i = 0; i < n; ++i) {
    if (invalid(bytes[i])) return false;
  }
  return true;
}

bool headerHasToken(const Headers& headers, std::string_view name, std::string_view token) {
  for (const auto& f : headers.fields()) {
    if (!equalsIgnoreCase(f.name, name)) continue;
    bool found = false;
    forEachListElement(f.value, [&](std::string_view e) {
      if (equalsIgnoreCase(e, token)) found = true;
    });
    if (found) return true;
  }
  return false;
}

size_t removeHopByHopHeaders(Headers& headers) {
  // Copies, not views: the erase below moves the strings the views would point into.
  std::vector<std::string> named;
  for (const auto& f : headers.fields()) {
    if (!equalsLower(f.name, "connection")) continue;
    forEachListElement(f.value, [&](std::string_view e) {
      if (equalsIgnoreCase(e, "host") || equalsIgnoreCase(e, "content-length")) return;
      named.emplace_back(e);
    });
  }
  auto& fields = headers.fields();
  auto before = fields.size();
  fields.erase(std::remove_if(fields.begin(), fields.end(),
                              [&](const HeaderField& f) {
                                if (isHopByHopName(f.name)) return true;
                                for (const auto& n : named) {
                                  if (equalsIgnoreCase(f.name, n)) return true;
                                }
                                return false;
                              }),
               fields.end());
  return before - fields.size();
}

void addVia(Headers& headers, std::string_view protocol_version, std::string_view pseudonym) {
  auto& fields = headers.fields();
  for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
    if (!equalsIgnoreCase(it->name, "via")) continue;
    std::string& v = it->value;
    v.reserve(v.size() + 2 + protocol_version.size() + 1 + pseudonym.size());
    if (!trimOws(v).empty()) v += ", ";
    v.append(protocol_version).append(" ").append(pseudonym);
    return;
  }
  std::string v;
  v.reserve(protocol_version.size() + 1 + pseudonym.size());
  v.append(protocol_version).append(" ").append(pseudonym);
  headers.add("Via", std::move(v));
}

bool viaContains(const Headers& headers, std::string_view pseudonym) {
  for (const auto& f : headers.fields()) {
    if (!equalsIgnoreCase(f.name, "via")) continue;
    bool found = false;
    forEachListElement(f.value, [&](std::string_view e) {
      // Via element: received-protocol RWS received-by [ RWS comment ]
      size_t sp = e.find_first_of(" \t");
      if (sp == std::string_view::npos) return;
      std::string_view by = trimOws(e.substr(sp));
      size_t end = by.find_first_of(" \t");
      if (end != std::string_view::npos) by = by.substr(0, end);
      if (equalsIgnoreCase(by, pseudonym)) found = true;
    });
    if (found) return true;
  }
  return false;
}

std::string Authority::hostPort() const {
  std::string out;
  out.reserve(host.size() + 8);
  if (kind == HostKind::IPv6) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  out.append(":").append(std::to_string(port));
  return out;
}

std::string AbsoluteUrl::hostHeader() const {
  uint16_t default_port = scheme == "https" ? 443 : 80;
  std::string out;
  if (authority.kind == HostKind::IPv6) {
    out.append("[").append(authority.host).append("]");
  } else {
    out.append(authority.host);
  }
  if (authority.port != default_port) out.append(":").append(std::to_string(authority.port));
  return out;
}

Result<Authority> parseHost(std::string_view host) {
  Authority a;
  if (host.empty()) return hostError("bad_host", "empty host", host);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']')
      return hostError("bad_host", "bad IPv6 literal", host);
    std::string inner(host.substr(1, host.size() - 2));
    // inet_pton refuses zone ids ("%eth0") and IPvFuture, which is what we want.
    unsigned char bin[16];
    if (inet_pton(AF_INET6, inner.c_str(), bin) != 1) {
      return hostError("bad_host", "bad IPv6 literal", host);
    }
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, bin, text, sizeof(text)) == nullptr) {
      return hostError("bad_host", "bad IPv6 literal", host);
    }
    a.host = text;
    a.kind = HostKind::IPv6;
    return a;
  }
  std::string_view h = host;
  if (h.back() == '.') h.remove_suffix(1);
  if (h.empty() || h.size() > 253) return hostError("bad_host", "bad host name length", host);
  a.host.resize(h.size());
  size_t label_len = 0;
  size_t last_label_start = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    char c = h[i];
    if (c == '.') {
      if (label_len == 0) return hostError("bad_host", "empty label in host name", host);
      label_len = 0;
      last_label_start = i + 1;
    } else if (isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
               c == '_') {
      if (++label_len > 63) return hostError("bad_host", "label longer than 63 bytes", host);
    } else {
      return hostError("bad_host", "invalid character in host name", host);
    }
    a.host[i] = lowerAscii(c);
  }
  if (label_len == 0) return hostError("bad_host", "empty label in host name", host);
  if (isDigit(h[last_label_start])) {
    if (!isCanonicalIpv4(a.host)) {
      return hostError("bad_host", "not a canonical IPv4 address", host);
    }
    a.kind = HostKind::IPv4;
  }
  return a;
}

Result<Authority> parseAuthorityForm(std::string_view target) {
  if (target.empty()) return makeError("bad_authority", "empty CONNECT target");
  if (target.find('@') != std::string_view::npos) {
    return hostError("bad_authority", "userinfo is not allowed in a CONNECT target", target);
  }
  if (target.find_first_of("/?#") != std::string_view::npos) {
    return hostError("bad_authority", "CONNECT target must be host:port", target);
  }
  return parseHostAndPort(target, /*port_required=*/true, "bad_authority");
}

Result<Authority> parseHostHeader(std::string_view value) {
  if (value.empty()) return makeError("bad_host", "empty Host");
  if (value.find_first_of("@/?#\\ \t") != std::string_view::npos) {
    return hostError("bad_host", "Host must be host[:port]", value);
  }
  return parseHostAndPort(value, /*port_required=*/false, "bad_host");
}

Result<AbsoluteUrl> parseAbsoluteUrl(std::string_view url) {
  for (char c : url) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return hostError("bad_url", "control character, space or non-ASCII byte in URL", url);
    }
  }
  size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    return hostError("bad_url", "not an absolute URL", url);
  }
  AbsoluteUrl out;
  out.scheme.resize(sep);
  for (size_t i = 0; i < sep; ++i) out.scheme[i] = lowerAscii(url[i]);
  uint16_t default_port;
  if (out.scheme == "http") {
    default_port = 80;
  } else if (out.scheme == "https") {
    default_port = 443;
  } else {
    return hostError("bad_url", "unsupported URL scheme", url.substr(0, sep));
  }
  if (url.find('#') != std::string_view::npos) {
    return hostError("bad_url", "fragment in request URL", url);
  }
  std::string_view rest = url.substr(sep + 3);
  size_t auth_end = rest.find_first_of("/?");
  std::string_view auth = rest.substr(0, auth_end);
  std::string_view path =
      auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);
  if (auth.find('@') != std::string_view::npos) {
    return hostError("bad_url", "userinfo is not allowed in a request URL", url);
  }
  if (auth.empty()) return hostError("bad_url", "empty host in URL", url);
  auto a = parseHostAndPort(auth, /*port_required=*/false, "bad_url");
  if (!a) return a.error();
  out.authority = std::move(a.value());
  out.port_explicit = out.authority.port != 0;
  if (!out.port_explicit) out.authority.port = default_port;
  if (path.empty() || path.front() == '?') {
    out.path.reserve(1 + path.size());
    out.path.append("/").append(path);
  } else {
    out.path.assign(path);
  }
  return out;
}

}  // namespace aiw
