#include "core/config.h"

#include <arpa/inet.h>

#include <cctype>

namespace aiw {

namespace {

bool isHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

std::string lowerCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<uint16_t> parsePort(std::string_view text, std::string_view whole) {
  uint32_t port = 0;
  bool digits = !text.empty() && text.size() <= 5;
  for (char c : text) {
    if (c < '0' || c > '9') {
      digits = false;
      break;
    }
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (!digits || port < 1 || port > 65535) {
    return makeError("config", "bad port '" + std::string(text) + "' in '" + std::string(whole) +
                                   "' (expected 1-65535)");
  }
  return static_cast<uint16_t>(port);
}

}  // namespace

std::string HostPort::toString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> parseHostPort(std::string_view text) {
  const std::string quoted = "'" + std::string(text) + "'";
  if (text.empty()) return makeError("config", "empty address (expected host:port)");
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return makeError("config", "unterminated '[' in address " + quoted);
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return makeError("config", "missing port in address " + quoted + " (expected [ipv6]:port)");
    }
    port = rest.substr(1);
    in6_addr addr{};
    std::string host_z(host);
    if (inet_pton(AF_INET6, host_z.c_str(), &addr) != 1) {
      return makeError("config", "bad IPv6 literal in address " + quoted);
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return makeError("config", "missing port in address " + quoted + " (expected host:port)");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return makeError("config", "IPv6 address " + quoted + " needs brackets, as in [::1]:8080");
    }
    if (host.empty()) {
      return makeError("config", "missing host in address " + quoted + " (expected host:port)");
    }
    for (char c : host) {
      if (!isHostNameChar(c)) {
        return makeError("config", "bad host name in address " + quoted);
      }
    }
    if (host.size() > 253) return makeError("config", "host name too long in address " + quoted);
  }
  auto p = parsePort(port, text);
  if (!p) return p.error();
  return HostPort{lowerCase(host), *p};
}

}  // namespace aiw
