// Name resolution bounded by a deadline, for the http sinks' sender threads. getaddrinfo(3) has
// no timeout of its own: a resolver that does not answer holds it for resolv.conf's timeout
// times its attempts (10 s and more), past the sink's timeout_ms and its shutdown. So a name is
// looked up on a short-lived thread of its own while the caller waits at most until its
// deadline, looking at `cancel` every 100 ms; a lookup still running then finishes alone and
// frees what it holds. Literal addresses need no thread: they are answered at once.
#pragma once

#include <netdb.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"

namespace aiw {

struct AddrInfoFree {
  void operator()(addrinfo *list) const noexcept { freeaddrinfo(list); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoFree>;

// getaddrinfo(3)'s signature: the blocking lookup to run (tests hand a slow one).
using BlockingLookup = int (*)(const char *, const char *, const addrinfo *, addrinfo **);

// The TCP addresses of host:port (IPv4 and IPv6, the resolver's order). Errors: "resolve" (the
// resolver's answer, e.g. "Name or service not known"), "timeout" (no answer by `deadline`),
// "cancelled" (`cancel` became true), "resolve" when no lookup thread can be started.
Result<AddrInfoList> resolveWithin(const std::string &host, uint16_t port,
                                   std::chrono::steady_clock::time_point deadline,
                                   const std::atomic<bool> &cancel,
                                   BlockingLookup lookup = ::getaddrinfo);

// The addresses of one collector, kept for kRefresh: a sink POSTing several times a second to a
// named collector asks the resolver once per interval, not once per POST (as Envoy's
// dns_refresh_rate, nginx's resolver valid=). Forgotten when none of them could be connected to,
// so a collector that moved is looked up again at the next attempt. One sender thread uses it:
// no locking.
class ResolvedAddresses {
 public:
  static constexpr std::chrono::seconds kRefresh{5};

  // The answer for host:port while it is fresh at `now`, else a new lookup (resolveWithin's
  // errors). The list stays valid until the next get() or forget().
  Result<const addrinfo *> get(const std::string &host, uint16_t port,
                               std::chrono::steady_clock::time_point deadline,
                               const std::atomic<bool> &cancel,
                               std::chrono::steady_clock::time_point now =
                                   std::chrono::steady_clock::now(),
                               BlockingLookup lookup = ::getaddrinfo);
  void forget() { list_.reset(); }

 private:
  std::string host_;
  uint16_t port_ = 0;
  AddrInfoList list_;
  std::chrono::steady_clock::time_point resolved_at_{};
};

}  // namespace aiw
