#include "upstream/resolver.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <netdb.h>

#include <cstring>

#include "core/log.h"

namespace aiw {

namespace {

bool endsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// RFC 6761 §6.4: ".invalid" names never resolve, and resolvers should answer at once rather
// than asking the network.
bool isInvalidTld(const std::string& host) { return host == "invalid" || endsWith(host, ".invalid"); }

void onDnsResult(int err, evutil_addrinfo* res, void* arg) noexcept {
  auto* lookup = static_cast<Resolver::Request::Lookup*>(arg);
  Resolver::Request* req = lookup->owner;
  delete lookup;  // evdns calls back exactly once per lookup, cancelled or not
  if (req == nullptr || err == EVUTIL_EAI_CANCEL) {  // the Request is gone
    if (res != nullptr) evutil_freeaddrinfo(res);
    return;
  }
  req->lookup = nullptr;
  req->pending = nullptr;
  std::vector<ResolvedAddress> out;
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    ResolvedAddress a;
    std::memcpy(&a.addr, ai->ai_addr, ai->ai_addrlen);
    a.len = static_cast<socklen_t>(ai->ai_addrlen);
    out.push_back(a);
  }
  if (res != nullptr) evutil_freeaddrinfo(res);
  auto cb = std::move(req->callback);
  if (err != 0 || out.empty()) {
    std::string why = err != 0 ? evutil_gai_strerror(err) : "no IPv4/IPv6 address";
    cb(makeError("dns_failure", "cannot resolve " + req->host + ": " + why));
    return;
  }
  cb(std::move(out));
}

}  // namespace

std::string ResolvedAddress::toString() const {
  char ip[INET6_ADDRSTRLEN] = {0};
  uint16_t port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    port = ntohs(a->sin_port);
    return std::string(ip) + ":" + std::to_string(port);
  }
  const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
  inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
  port = ntohs(a->sin6_port);
  return "[" + std::string(ip) + "]:" + std::to_string(port);
}

bool parseIpLiteral(const std::string& host, uint16_t port, ResolvedAddress& out) {
  out = ResolvedAddress{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

Resolver::Resolver(event_base* base, uint32_t timeout_ms) : base_(base) {
  // Nameservers from /etc/resolv.conf and names from /etc/hosts; a machine without a usable
  // resolv.conf still gets a resolver (lookups then fail cleanly with dns_failure).
  dns_.reset(evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                       EVDNS_BASE_DISABLE_WHEN_INACTIVE));
  if (!dns_) {
    dns_.reset(evdns_base_new(base_, 0));
    if (dns_) evdns_base_load_hosts(dns_.get(), nullptr);
  }
  if (dns_) {
    std::string t = std::to_string(std::max<uint32_t>(1, timeout_ms / 1000));
    evdns_base_set_option(dns_.get(), "timeout:", t.c_str());
    evdns_base_set_option(dns_.get(), "attempts:", "2");
  }
}

Resolver::~Resolver() = default;

Resolver::Request::~Request() {
  if (lookup == nullptr) return;
  lookup->owner = nullptr;  // the lookup's last callback frees it
  if (pending != nullptr) evdns_getaddrinfo_cancel(pending);
}

std::unique_ptr<Resolver::Request> Resolver::resolve(const std::string& host, uint16_t port,
                                                     ResolveCallback cb) {
  auto req = std::make_unique<Request>();
  req->host = host;
  req->port = port;

  // Keys are written as the configuration loader writes them (HostPort::toString: IPv6 in
  // brackets), so a fixed entry for an IPv6 literal is found too.
  std::string key = HostPort{host, port}.toString();
  std::string lookup_host = host;
  uint16_t lookup_port = port;
  if (auto it = fixed_.find(key); it != fixed_.end()) {
    lookup_host = it->second.host;
    lookup_port = it->second.port;
  }

  ResolvedAddress literal;
  if (parseIpLiteral(lookup_host, lookup_port, literal)) {
    cb(std::vector<ResolvedAddress>{literal});
    return req;
  }
  if (isInvalidTld(lookup_host)) {
    cb(makeError("dns_failure", "cannot resolve " + host + ": the .invalid domain never resolves"));
    return req;
  }
  if (!dns_) {
    cb(makeError("dns_failure", "cannot resolve " + host + ": no DNS resolver available"));
    return req;
  }
  req->callback = std::move(cb);
  evutil_addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  std::string service = std::to_string(lookup_port);
  // evdns may call back synchronously (hosts file) and then returns null; otherwise the
  // returned handle stays valid until the callback.
  auto* lookup = new Request::Lookup{req.get()};
  req->lookup = lookup;
  auto* pending = evdns_getaddrinfo(dns_.get(), lookup_host.c_str(), service.c_str(), &hints,
                                    onDnsResult, lookup);
  if (req->lookup != nullptr) req->pending = pending;  // still waiting
  return req;
}

}  // namespace aiw
