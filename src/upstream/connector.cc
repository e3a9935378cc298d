#include "upstream/connector.h"

#include <event2/event.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/timeval.h"

namespace aiw {

namespace {
void onWritableCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<ConnectAttempt*>(arg)->onWritable();
}
void onTimeoutCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<ConnectAttempt*>(arg)->onTimeout();
}
void onDeferredCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<ConnectAttempt*>(arg)->onDeferredResult();
}
}  // namespace

Result<UniqueFd> makeTcpSocket(int family) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return makeError("connect_failed", std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return UniqueFd(fd);
}

std::unique_ptr<ConnectAttempt> ConnectAttempt::start(event_base* base, Resolver& resolver,
                                                      const std::string& host, uint16_t port,
                                                      uint32_t timeout_ms, ConnectCallback cb) {
  std::unique_ptr<ConnectAttempt> a(new ConnectAttempt());
  a->base_ = base;
  a->host_ = host;
  a->port_ = port;
  a->cb_ = std::move(cb);
  a->timer_.reset(evtimer_new(base, onTimeoutCb, a.get()));
  a->deferred_.reset(event_new(base, -1, 0, onDeferredCb, a.get()));
  timeval tv = millisToTimeval(timeout_ms);
  evtimer_add(a->timer_.get(), &tv);
  auto* raw = a.get();
  a->dns_ = resolver.resolve(host, port, [raw](Result<std::vector<ResolvedAddress>> r) {
    raw->onResolved(std::move(r));
  });
  return a;
}

ConnectAttempt::~ConnectAttempt() = default;

void ConnectAttempt::onResolved(Result<std::vector<ResolvedAddress>> r) {
  if (done_) return;
  if (!r.ok()) {
    finish(r.error());
    return;
  }
  addrs_ = std::move(r.value());
  tryNext();
}

void ConnectAttempt::tryNext() {
  while (next_ < addrs_.size()) {
    const auto& a = addrs_[next_++];
    auto sock = makeTcpSocket(a.addr.ss_family);
    if (!sock.ok()) {
      last_error_ = sock.error().message;
      continue;
    }
    fd_ = std::move(sock.value());
    int rc = ::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&a.addr), a.len);
    if (rc == 0 || errno == EINPROGRESS) {
      write_ev_.reset(event_new(base_, fd_.get(), EV_WRITE, onWritableCb, this));
      event_add(write_ev_.get(), nullptr);
      return;
    }
    if (errno == ECONNREFUSED) refused_ = true;
    last_error_ = a.toString() + ": " + std::strerror(errno);
    fd_.reset();
  }
  std::string msg = "cannot connect to " + host_ + ":" + std::to_string(port_);
  if (!last_error_.empty()) msg += " (" + last_error_ + ")";
  finish(makeError(refused_ ? "connect_refused" : "connect_failed", msg));
}

void ConnectAttempt::onWritable() {
  if (done_) return;
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  write_ev_.reset();
  if (err == 0) {
    finish(std::move(fd_));
    return;
  }
  if (err == ECONNREFUSED) refused_ = true;
  last_error_ = addrs_[next_ - 1].toString() + ": " + std::strerror(err);
  fd_.reset();
  tryNext();
}

void ConnectAttempt::onTimeout() {
  if (done_) return;
  write_ev_.reset();
  fd_.reset();
  dns_.reset();
  finish(makeError("connect_timeout",
                   "connecting to " + host_ + ":" + std::to_string(port_) + " timed out"));
}

void ConnectAttempt::finish(Result<UniqueFd> r) {
  if (done_) return;
  done_ = true;
  evtimer_del(timer_.get());
  // Results found while start() is still on the stack (literals, fixed addresses, .invalid)
  // are delivered on the next loop turn, so callers never see their callback re-entrantly.
  deferred_result_ = std::make_unique<Result<UniqueFd>>(std::move(r));
  event_active(deferred_.get(), 0, 0);
}

void ConnectAttempt::onDeferredResult() {
  auto r = std::move(*deferred_result_);
  deferred_result_.reset();
  auto cb = std::move(cb_);
  cb(std::move(r));  // may destroy this attempt: nothing touches `this` afterwards
}

}  // namespace aiw
