// A minimal blocking HTTP/1.1 client for the reporter's http sinks, run on a sink's own sender
// thread (never on a worker or the reporter thread): a non-blocking socket (TLS through
// BoringSSL for https://), every step bounded by one deadline (poll(2); the name lookup by
// resolve_within.h), the answer parsed by Http1Parser (llhttp), the connection kept between
// POSTs (HttpPoster).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "filters/reporter/resolve_within.h"

namespace aiw {

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

// POSTs to one collector over a kept-alive connection (HTTP/1.1 persistent connections): a busy
// sink sends a batch every few milliseconds, and a TCP (and TLS) handshake per batch would cost
// both ends more than the batch. Used by one sender thread: no locking.
//
// A connection is kept while the collector keeps it (no `Connection: close`, a framed answer,
// a body of at most 1 MiB, which is read and dropped); one idle for kIdleMax or that shows
// anything to read while idle (an EOF: the collector closed it) is closed before the next POST,
// and a POST on a kept connection that dies before any byte of an answer goes again on a new
// connection, once (delivery is at-least-once anyway; event ids tell duplicates apart).
class HttpPoster {
 public:
  // Below the shortest idle timeout common among servers (Node's 5 s).
  static constexpr std::chrono::seconds kIdleMax{4};

  // `tls` is required for an https:// url: the collector's certificate is verified against its
  // roots and the url's host, always; sessions are resumed across connections.
  HttpPoster(HttpUrl url, HeaderList headers, std::shared_ptr<const TlsClientContext> tls);
  ~HttpPoster();
  HttpPoster(const HttpPoster &) = delete;
  HttpPoster &operator=(const HttpPoster &) = delete;

  // POSTs `body` (application/json) with the configured headers and returns the final
  // response's status. Errors: "resolve", "connect", "tls" (handshake or verification, with the
  // reason), "timeout" (nothing complete within `timeout`), "io", "bad_response", "cancelled"
  // (`cancel` became true: checked at least every 100 ms), "misuse" (https without `tls`).
  Result<uint16_t> post(std::string_view body, std::chrono::milliseconds timeout,
                        const std::atomic<bool> &cancel);
  // A connection is kept for the next POST.
  bool connected() const;

 private:
  struct Kept;  // the kept connection (http_post.cc)
  std::string requestHead(size_t body_bytes) const;

  HttpUrl url_;
  HeaderList headers_;
  std::shared_ptr<const TlsClientContext> tls_;
  ResolvedAddresses addresses_;
  std::unique_ptr<Kept> kept_;
};

}  // namespace aiw
