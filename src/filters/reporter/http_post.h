// A minimal blocking HTTP/1.1 POST for the reporter's http sinks, run on a sink's own sender
// thread (never on a worker or the reporter thread): a non-blocking socket (TLS through
// BoringSSL for https://), every step bounded by one deadline (poll(2); the name lookup by
// resolve_within.h), the response head parsed by Http1Parser (llhttp).
//
// One connection per POST with "Connection: close": a batch is up to `batch` events every
// flush_ms at most, so a handshake per batch costs little, and there is no idle connection whose
// silent death would have to be detected before reuse.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace aiw {

class ResolvedAddresses;
class TlsClientContext;

struct HttpUrl {
  bool tls = false;  // https://
  std::string host;  // without brackets for IPv6
  uint16_t port = 80;  // 443 by default for https://
  std::string target;  // path and query, at least "/"
  bool operator==(const HttpUrl &) const = default;
};

// "http[s]://host[:port][/path[?query]]". Userinfo, fragments and empty hosts are refused.
Result<HttpUrl> parseHttpUrl(std::string_view url);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// POSTs `body` (application/json) with `headers` and returns the final response's status.
// `tls` is required for an https:// url: the collector's certificate is verified against its
// roots and the url's host, always; a session it resumes is reused. Errors: "resolve",
// "connect", "tls" (handshake or verification, with the reason), "timeout" (nothing complete
// within `timeout`), "io", "bad_response", "cancelled" (`cancel` became true: checked at least
// every 100 ms), "misuse" (https without `tls`). `addresses`: the collector's resolved addresses,
// kept between POSTs (null: resolved for this one).
Result<uint16_t> httpPost(const HttpUrl &url, const HeaderList &headers, std::string_view body,
                          std::chrono::milliseconds timeout, const std::atomic<bool> &cancel,
                          const TlsClientContext *tls = nullptr,
                          ResolvedAddresses *addresses = nullptr);

}  // namespace aiw
