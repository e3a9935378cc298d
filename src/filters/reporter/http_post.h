// A minimal blocking HTTP/1.1 POST for the reporter's http sinks, run on a sink's own sender
// thread (never on a worker or the reporter thread): plain sockets, every step (resolve aside)
// bounded by one deadline through poll(2), the response head parsed by Http1Parser (llhttp).
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

struct HttpUrl {
  std::string host;  // without brackets for IPv6
  uint16_t port = 80;
  std::string target;  // path and query, at least "/"
  bool operator==(const HttpUrl &) const = default;
};

// "http://host[:port][/path[?query]]". https:// is refused ("not yet": the sink has no TLS
// client in this build); so are userinfo, fragments and empty hosts.
Result<HttpUrl> parseHttpUrl(std::string_view url);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// POSTs `body` (application/json) with `headers` and returns the final response's status. Errors:
// "resolve", "connect", "timeout" (nothing complete within `timeout`), "io", "bad_response",
// "cancelled" (`cancel` became true: checked at least every 100 ms).
Result<uint16_t> httpPost(const HttpUrl &url, const HeaderList &headers, std::string_view body,
                          std::chrono::milliseconds timeout, const std::atomic<bool> &cancel);

}  // namespace aiw
