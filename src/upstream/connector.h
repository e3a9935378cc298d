// Connector: opens a non-blocking TCP connection to host:port for one worker — resolve (fixed
// addresses, literals, DNS), then try each address in turn within the connect timeout. The
// result is a connected socket, or an Error whose code maps to the proxy's answer:
// dns_failure / connect_refused / connect_failed → 502, connect_timeout → 504.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/c_handles.h"
#include "core/result.h"
#include "upstream/resolver.h"

namespace aiw {

using ConnectCallback = std::function<void(Result<UniqueFd>)>;

class ConnectAttempt {
 public:
  // Starts at once; `cb` runs exactly once on the loop thread, never from inside start().
  // Destroying the attempt cancels it (the callback then never runs).
  static std::unique_ptr<ConnectAttempt> start(event_base* base, Resolver& resolver,
                                               const std::string& host, uint16_t port,
                                               uint32_t timeout_ms, ConnectCallback cb);
  ~ConnectAttempt();
  ConnectAttempt(const ConnectAttempt&) = delete;
  ConnectAttempt& operator=(const ConnectAttempt&) = delete;

  // Internal state, driven by the libevent callbacks in connector.cc.
  void onResolved(Result<std::vector<ResolvedAddress>> r);
  void onWritable();
  void onTimeout();
  void onDeferredResult();

 private:
  ConnectAttempt() = default;
  void tryNext();
  void finish(Result<UniqueFd> r);

  event_base* base_ = nullptr;
  std::string host_;
  uint16_t port_ = 0;
  ConnectCallback cb_;
  std::unique_ptr<Resolver::Request> dns_;
  std::vector<ResolvedAddress> addrs_;
  size_t next_ = 0;
  UniqueFd fd_;
  EventPtr write_ev_;
  EventPtr timer_;
  EventPtr deferred_;  // delivers a result found synchronously, on the next loop turn
  std::unique_ptr<Result<UniqueFd>> deferred_result_;
  std::string last_error_;
  bool refused_ = false;  // some address answered ECONNREFUSED
  bool done_ = false;
};

// Creates a non-blocking, close-on-exec TCP socket with TCP_NODELAY.
Result<UniqueFd> makeTcpSocket(int family);

}  // namespace aiw
