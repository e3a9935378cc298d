// Helpers for the upstream unit tests: a bounded libevent loop, loopback sockets (unix socket
// pairs and TCP on 127.0.0.1 port 0) and non-blocking reads and writes from the test's side.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/c_handles.h"
#include "unit/common/test_loop.h"

namespace aiw::test {


struct FdPair {
  UniqueFd a, b;
};

// A connected pair of non-blocking unix stream sockets (splice(2) works on them).
inline FdPair makeSocketPair() {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  return FdPair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// A TCP socket bound to 127.0.0.1 on a free port; listening unless `listen_backlog` < 0.
struct TcpPort {
  UniqueFd fd;
  uint16_t port = 0;
};
inline TcpPort bindLoopback(int listen_backlog) {
  TcpPort out;
  out.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(out.fd.valid());
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = 0;
  REQUIRE(::bind(out.fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  if (listen_backlog >= 0) REQUIRE(::listen(out.fd.get(), listen_backlog) == 0);
  socklen_t len = sizeof sa;
  REQUIRE(::getsockname(out.fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0);
  out.port = ntohs(sa.sin_port);
  return out;
}

// A connected pair of non-blocking TCP sockets over 127.0.0.1.
inline FdPair makeTcpPair() {
  TcpPort listener = bindLoopback(1);
  UniqueFd a(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(a.valid());
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(listener.port);
  REQUIRE(::connect(a.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  UniqueFd b(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  REQUIRE(b.valid());
  REQUIRE(::fcntl(a.get(), F_SETFL, ::fcntl(a.get(), F_GETFL) | O_NONBLOCK) == 0);
  return FdPair{std::move(a), std::move(b)};
}

// Sends as much of `data` as the socket takes now; returns how much that was (-1 on error,
// errno kept).
inline ssize_t sendSome(int fd, std::string_view data) {
  if (data.empty()) return 0;
  ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
  if (n < 0 && errno == EAGAIN) return 0;
  return n;
}

// Sends all of a small message at once (it must fit the socket buffer).
inline void sendAll(int fd, std::string_view data) {
  REQUIRE(sendSome(fd, data) == static_cast<ssize_t>(data.size()));
}

// What the test's end of a socket has seen so far.
struct Inbox {
  std::string data;
  bool eof = false;
  int error = 0;  // errno of a failed read (ECONNRESET, ...)

  // Reads everything available now without blocking.
  void pull(int fd) {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        data.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {
        eof = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        error = errno;
      }
      return;
    }
  }
  bool closed() const { return eof || error != 0; }
};

}  // namespace aiw::test
