// Resolver: asynchronous name resolution for one worker (libevent evdns), with the fixed
// addresses of `upstream.resolve` consulted first (like curl --resolve) and IP literals
// answered without a lookup. Callbacks run on the worker's loop thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/c_handles.h"
#include "core/config.h"
#include "core/result.h"

struct event_base;
struct evdns_getaddrinfo_request;

namespace aiw {

struct ResolvedAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string toString() const;  // "ip:port"
};

using ResolveCallback = std::function<void(Result<std::vector<ResolvedAddress>>)>;

class Resolver {
 public:
  // `timeout_ms` bounds each DNS query (the connect timeout is the natural budget).
  Resolver(event_base* base, uint32_t timeout_ms);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Replaces the fixed addresses (on reload). Keys are "host:port" with a lower-case host.
  void setFixed(const std::map<std::string, HostPort>& fixed) { fixed_ = fixed; }

  // Resolves host:port. The callback runs exactly once, possibly before resolve() returns
  // (literals, fixed entries, special-use names). Returns a handle that cancels the callback
  // when destroyed (the owner of the request may go away first).
  class Request;
  std::unique_ptr<Request> resolve(const std::string& host, uint16_t port, ResolveCallback cb);

 private:
  event_base* base_;
  EvdnsBasePtr dns_;
  std::map<std::string, HostPort> fixed_;
};

class Resolver::Request {
 public:
  ~Request();
  // Internal. evdns calls back through `lookup`, a small heap object of its own: cancelling a
  // lookup does not stop its callback, which libevent still runs (with EVUTIL_EAI_CANCEL) on a
  // later loop turn, after this Request may be gone. The lookup outlives the Request then and
  // frees itself in that last callback.
  struct Lookup {
    Request* owner = nullptr;  // null once the Request is gone
  };
  Lookup* lookup = nullptr;
  evdns_getaddrinfo_request* pending = nullptr;
  ResolveCallback callback;
  uint16_t port = 0;
  std::string host;
};

// Parses an IPv4/IPv6 literal (no brackets) into an address; false when it is not a literal.
bool parseIpLiteral(const std::string& host, uint16_t port, ResolvedAddress& out);

}  // namespace aiw
