// resolveWithin: literal addresses at once, names on a lookup thread bounded by the deadline
// and by cancel — a resolver that never answers cannot hold a sink's sender.
#include "filters/reporter/resolve_within.h"

#include <doctest/doctest.h>
#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace aiw {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A resolver that answers names only once `release` is set (literal addresses at once): a
// lookup still waiting when resolveWithin returns proves it did not wait for the resolver.
std::atomic<bool> release{false};
std::atomic<int> name_lookups_done{0};
int stuckLookup(const char *node, const char *service, const addrinfo *hints, addrinfo **res) {
  if ((hints->ai_flags & AI_NUMERICHOST) != 0) return ::getaddrinfo(node, service, hints, res);
  while (!release.load()) std::this_thread::sleep_for(5ms);
  int rc = ::getaddrinfo("127.0.0.1", service, hints, res);
  name_lookups_done.fetch_add(1);
  return rc;
}

uint16_t portOf(const addrinfo *a) {
  return ntohs(reinterpret_cast<const sockaddr_in *>(a->ai_addr)->sin_port);
}

TEST_CASE("a literal address is answered without a lookup") {
  std::atomic<bool> cancel{false};
  auto v4 = resolveWithin("127.0.0.1", 8080, Clock::now() + 1s, cancel, stuckLookup);
  REQUIRE(v4.ok());
  CHECK(v4.value()->ai_family == AF_INET);
  CHECK(portOf(v4.value().get()) == 8080);
  auto v6 = resolveWithin("::1", 443, Clock::now() + 1s, cancel, stuckLookup);
  REQUIRE(v6.ok());
  CHECK(v6.value()->ai_family == AF_INET6);
}

TEST_CASE("a resolver that does not answer ends at the deadline, and at cancel") {
  release = false;
  std::atomic<bool> cancel{false};
  auto late = resolveWithin("collector.example", 80, Clock::now() + 200ms, cancel, stuckLookup);
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().code == "timeout");
  CHECK(late.error().message.find("collector.example") != std::string::npos);
  CHECK(name_lookups_done.load() == 0);  // returned while the lookup was still stuck

  cancel = true;
  auto cancelled = resolveWithin("collector.example", 80, Clock::now() + 60s, cancel, stuckLookup);
  REQUIRE_FALSE(cancelled.ok());
  CHECK(cancelled.error().code == "cancelled");

  // The abandoned lookups finish on their own threads and free what they hold (ASan checks).
  release = true;
  while (name_lookups_done.load() < 2) std::this_thread::sleep_for(5ms);
}

TEST_CASE("a name the resolver answers in time comes back, with the port") {
  release = true;
  std::atomic<bool> cancel{false};
  auto r = resolveWithin("collector.example", 9000, Clock::now() + 10s, cancel, stuckLookup);
  REQUIRE(r.ok());
  CHECK(portOf(r.value().get()) == 9000);
}

TEST_CASE("the resolver's refusal is a resolve error naming the host") {
  std::atomic<bool> cancel{false};
  auto r = resolveWithin("no-such-host.invalid", 80, Clock::now() + 30s, cancel,
                         [](const char *, const char *, const addrinfo *, addrinfo **) {
                           return EAI_NONAME;
                         });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "resolve");
  CHECK(r.error().message.find("no-such-host.invalid") != std::string::npos);
}

// Counts the name lookups it answers (always 127.0.0.1).
std::atomic<int> counted_lookups{0};
int countingLookup(const char *node, const char *service, const addrinfo *hints, addrinfo **res) {
  if ((hints->ai_flags & AI_NUMERICHOST) != 0) return ::getaddrinfo(node, service, hints, res);
  counted_lookups.fetch_add(1);
  return ::getaddrinfo("127.0.0.1", service, hints, res);
}

TEST_CASE("a collector's addresses are looked up once per refresh interval, and after forget") {
  counted_lookups = 0;
  std::atomic<bool> cancel{false};
  ResolvedAddresses addresses;
  const Clock::time_point t0 = Clock::now();
  auto get = [&](const std::string &host, uint16_t port, Clock::time_point now) {
    auto r = addresses.get(host, port, now + 10s, cancel, now, countingLookup);
    REQUIRE(r.ok());
    return portOf(r.value());
  };
  CHECK(get("collector.example", 9000, t0) == 9000);
  CHECK(get("collector.example", 9000, t0 + 1s) == 9000);
  CHECK(get("collector.example", 9000, t0 + ResolvedAddresses::kRefresh - 1ms) == 9000);
  CHECK(counted_lookups == 1);
  get("collector.example", 9000, t0 + ResolvedAddresses::kRefresh);  // stale: asked again
  CHECK(counted_lookups == 2);
  addresses.forget();  // none of them answered: asked again at once
  get("collector.example", 9000, t0 + ResolvedAddresses::kRefresh + 1s);
  CHECK(counted_lookups == 3);
  CHECK(get("collector.example", 9001, t0 + ResolvedAddresses::kRefresh + 1s) == 9001);
  CHECK(counted_lookups == 4);  // another port is another answer
}

}  // namespace
}  // namespace aiw
