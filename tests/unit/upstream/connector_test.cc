// ConnectAttempt: resolve + non-blocking connect with a timeout, against TCP sockets on
// 127.0.0.1 (port 0) and a real event loop.
#include "upstream/connector.h"

#include <doctest/doctest.h>
#include <netinet/tcp.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "test_net.h"

namespace aiw {
namespace {

using namespace std::chrono_literals;
using test::bindLoopback;
using test::TcpPort;
using test::TestLoop;

struct Outcome {
  int calls = 0;
  bool starting = false;  // start() is on the stack
  bool inside_start = false;
  std::optional<Result<UniqueFd>> result;

  std::string errorCode() const { return result && !result->ok() ? result->error().code : ""; }
};

// Starts an attempt whose callback records into `out`, noting a call made inside start().
std::unique_ptr<ConnectAttempt> startInto(TestLoop& loop, Resolver& resolver,
                                          const std::string& host, uint16_t port,
                                          uint32_t timeout_ms, Outcome& out) {
  out.starting = true;
  auto a = ConnectAttempt::start(loop.base(), resolver, host, port, timeout_ms,
                                 [&out](Result<UniqueFd> r) {
                                   ++out.calls;
                                   if (out.starting) out.inside_start = true;
                                   out.result.emplace(std::move(r));
                                 });
  out.starting = false;
  return a;
}

uint16_t peerPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  REQUIRE(::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0);
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

// Checks that the socket really reaches the listener: the listener accepts it and bytes pass.
void checkConnectedTo(int listener, int fd) {
  UniqueFd accepted(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  REQUIRE(accepted.valid());
  REQUIRE(::send(fd, "ping", 4, MSG_NOSIGNAL) == 4);
  char buf[8] = {0};
  REQUIRE(::recv(accepted.get(), buf, sizeof buf, 0) == 4);
  CHECK(std::string(buf, 4) == "ping");
}

TEST_CASE("connects to a listening socket on 127.0.0.1") {
  TestLoop loop;
  Resolver resolver(loop.base(), 1000);
  TcpPort listener = bindLoopback(16);
  Outcome o;
  auto a = startInto(loop, resolver, "127.0.0.1", listener.port, 2000, o);
  CHECK(o.calls == 0);
  REQUIRE(loop.runUntil([&] { return o.calls > 0; }));
  REQUIRE(o.result->ok());
  int fd = o.result->value().get();
  REQUIRE(fd >= 0);
  CHECK(peerPort(fd) == listener.port);
  CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  checkConnectedTo(listener.fd.get(), fd);

  // Exactly once: the connect timer is gone, nothing else arrives later.
  loop.runFor(50ms);
  CHECK(o.calls == 1);
}

TEST_CASE("connects to an IPv6 literal") {
  TestLoop loop;
  Resolver resolver(loop.base(), 1000);
  UniqueFd listener(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(listener.valid());
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  REQUIRE_MESSAGE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0,
                  "this machine has no ::1");
  REQUIRE(::listen(listener.get(), 4) == 0);
  socklen_t len = sizeof sa;
  REQUIRE(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0);
  const uint16_t port = ntohs(sa.sin6_port);

  Outcome o;
  auto a = startInto(loop, resolver, "::1", port, 2000, o);
  REQUIRE(loop.runUntil([&] { return o.calls > 0; }));
  REQUIRE(o.result->ok());
  CHECK(peerPort(o.result->value().get()) == port);
  checkConnectedTo(listener.get(), o.result->value().get());
}

TEST_CASE("a port nobody listens on fails with connect_refused") {
  TestLoop loop;
  Resolver resolver(loop.base(), 1000);
  TcpPort bound = bindLoopback(-1);  // bound (so the port stays ours) but not listening
  Outcome o;
  auto a = startInto(loop, resolver, "127.0.0.1", bound.port, 2000, o);
  CHECK(o.calls == 0);
  REQUIRE(loop.runUntil([&] { return o.calls > 0; }));
  CHECK(o.errorCode() == "connect_refused");
  CHECK(o.result->error().message.find("127.0.0.1:" + std::to_string(bound.port)) !=
        std::string::npos);
  loop.runFor(20ms);
  CHECK(o.calls == 1);
}

TEST_CASE("a name in the fixed map connects to the mapped address") {
  TestLoop loop;
  Resolver resolver(loop.base(), 1000);
  TcpPort listener = bindLoopback(16);
  // A .invalid name: without the fixed entry it could only fail.
  resolver.setFixed({{"api.openai.invalid:443", HostPort{"127.0.0.1", listener.port}}});
  Outcome o;
  auto a = startInto(loop, resolver, "api.openai.invalid", 443, 2000, o);
  REQUIRE(loop.runUntil([&] { return o.calls > 0; }));
  REQUIRE_MESSAGE(o.result->ok(), o.errorCode());
  CHECK(peerPort(o.result->value().get()) == listener.port);
  checkConnectedTo(listener.fd.get(), o.result->value().get());
}

TEST_CASE("a .invalid name fails with dns_failure") {
  TestLoop loop;
  Resolver resolver(loop.base(), 1000);
  Outcome o;
  auto a = startInto(loop, resolver, "nowhere.invalid", 443, 2000, o);
  REQUIRE(loop.runUntil([&] { return o.calls > 0; }));
  CHECK(o.errorCode() == "dns_failure");
  CHECK(o.result->error().message.find("nowhere.invalid") != std::string::npos);
}

TEST_CASE("the callback never runs inside start(), even for answers known at once") {
  TestLoop loop;
  Resolver resolver(loop.base(), 1000);
  TcpPort listener = bindLoopback(16);
  TcpPort closed = bindLoopback(-1);
  resolver.setFixed({{"fixed.invalid:80", HostPort{"127.0.0.1", listener.port}}});
  struct Case {
    const char* host;
    uint16_t port;
    const char* code;  // "" for success
  };
  for (const Case& c : {Case{"127.0.0.1", listener.port, ""},
                        Case{"127.0.0.1", closed.port, "connect_refused"},
                        Case{"nowhere.invalid", 80, "dns_failure"},
                        Case{"fixed.invalid", 80, ""}}) {
    CAPTURE(c.host);
    Outcome o;
    auto a = startInto(loop, resolver, c.host, c.port, 2000, o);
    CHECK_FALSE(o.inside_start);
    CHECK(o.calls == 0);
    REQUIRE(loop.runUntil([&] { return o.calls > 0; }));
    CHECK(o.errorCode() == c.code);
  }
}

TEST_CASE("destroying the attempt cancels it: the callback never runs") {
  TestLoop loop;
  Resolver resolver(loop.base(), 1000);
  TcpPort listener = bindLoopback(16);
  SUBCASE("while the connect is in flight") {
    Outcome o;
    auto a = startInto(loop, resolver, "127.0.0.1", listener.port, 100, o);
    a.reset();
    loop.runFor(250ms);  // past the connect timeout too
    CHECK(o.calls == 0);
  }
  SUBCASE("while a result found at once waits for the next loop turn") {
    Outcome o;
    auto a = startInto(loop, resolver, "nowhere.invalid", 443, 100, o);
    a.reset();
    loop.runFor(250ms);
    CHECK(o.calls == 0);
  }
}

TEST_CASE("the callback may destroy its own attempt") {
  TestLoop loop;
  Resolver resolver(loop.base(), 1000);
  TcpPort listener = bindLoopback(16);
  std::unique_ptr<ConnectAttempt> attempt;
  int calls = 0;
  bool ok = false;
  attempt = ConnectAttempt::start(loop.base(), resolver, "127.0.0.1", listener.port, 2000,
                                  [&](Result<UniqueFd> r) {
                                    ++calls;
                                    ok = r.ok();
                                    attempt.reset();
                                  });
  REQUIRE(loop.runUntil([&] { return calls > 0; }));
  CHECK(ok);
  CHECK(attempt == nullptr);
  loop.runFor(20ms);
  CHECK(calls == 1);
}

// Linux drops a SYN while the listener's accept queue is full (tcp_conn_request), so a
// connection to a listener with backlog 0 and one unaccepted connection never completes:
// a deterministic unanswered connect on loopback.
std::vector<UniqueFd> fillAcceptQueue(uint16_t port) {
  std::vector<UniqueFd> fillers;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  for (int i = 0; i < 8; ++i) {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    REQUIRE(s.valid());
    int rc = ::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    REQUIRE((rc == 0 || errno == EINPROGRESS));
    pollfd p{s.get(), POLLOUT, 0};
    int n = ::poll(&p, 1, 300);
    fillers.push_back(std::move(s));
    if (n == 0) return fillers;  // this one got no answer: the queue is full
  }
  FAIL("the kernel kept answering SYNs on a full accept queue");
  return fillers;
}

TEST_CASE("a connect that gets no answer fails with connect_timeout") {
  TestLoop loop;
  Resolver resolver(loop.base(), 1000);
  TcpPort listener = bindLoopback(0);
  auto fillers = fillAcceptQueue(listener.port);

  Outcome o;
  const auto started = std::chrono::steady_clock::now();
  auto a = startInto(loop, resolver, "127.0.0.1", listener.port, 200, o);
  REQUIRE(loop.runUntil([&] { return o.calls > 0; }));
  const auto waited = std::chrono::steady_clock::now() - started;
  CHECK(o.errorCode() == "connect_timeout");
  CHECK(o.result->error().message.find("127.0.0.1:" + std::to_string(listener.port)) !=
        std::string::npos);
  CHECK(waited >= 150ms);  // it waited for the configured timeout, not failed early
  loop.runFor(50ms);
  CHECK(o.calls == 1);
}

TEST_CASE("makeTcpSocket makes a non-blocking, close-on-exec socket with TCP_NODELAY") {
  for (int family : {AF_INET, AF_INET6}) {
    CAPTURE(family);
    auto s = makeTcpSocket(family);
    REQUIRE(s.ok());
    int fd = s.value().get();
    CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    REQUIRE(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0);
    CHECK(nodelay != 0);
  }
  auto bad = makeTcpSocket(AF_UNIX);  // not a TCP family
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "connect_failed");
}

}  // namespace
}  // namespace aiw
