#include "upstream/tunnel.h"

#include <event2/event.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "core/timeval.h"

namespace aiw {

namespace {
// 1 MiB pipes: fewer wake-ups per GB on bulk transfers (the kernel caps it to
// /proc/sys/fs/pipe-max-size; a smaller pipe still works).
constexpr int kPipeSize = 1 << 20;
constexpr size_t kSpliceChunk = 1 << 20;
constexpr size_t kCopyChunk = 16 * 1024;  // a read that fills it means bulk: splice from then on
constexpr size_t kBulkRun = 64 * 1024;     // ... and so do this many bytes one way in a row

void onIo(evutil_socket_t, short, void* arg) noexcept {
  auto* d = static_cast<Tunnel::Direction*>(arg);
  d->tunnel->pump(*d);
}
void onIdle(evutil_socket_t, short, void* arg) noexcept { static_cast<Tunnel*>(arg)->onIdleTimer(); }
void onClosed(evutil_socket_t, short, void* arg) noexcept { static_cast<Tunnel*>(arg)->reportClosed(); }

bool makePipe(UniqueFd& r, UniqueFd& w) {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
  r.reset(fds[0]);
  w.reset(fds[1]);
  ::fcntl(fds[1], F_SETPIPE_SZ, kPipeSize);
  return true;
}
}  // namespace

Tunnel::Tunnel(event_base* base, UniqueFd downstream, UniqueFd upstream,
               std::string to_upstream_first, std::string to_downstream_first,
               uint32_t idle_timeout_ms, std::function<void(Tunnel&)> on_closed)
    : base_(base),
      downstream_(std::move(downstream)),
      upstream_(std::move(upstream)),
      idle_timeout_ms_(idle_timeout_ms),
      on_closed_(std::move(on_closed)) {
  up_.tunnel = this;
  up_.src = downstream_.get();
  up_.dst = upstream_.get();
  up_.pending = std::move(to_upstream_first);
  down_.tunnel = this;
  down_.src = upstream_.get();
  down_.dst = downstream_.get();
  down_.pending = std::move(to_downstream_first);
  for (Direction* d : {&up_, &down_}) {
    // The pipes come with the first bulk read (see pump): most tunnels of short exchanges
    // never need them.
    d->read_ev.reset(event_new(base_, d->src, EV_READ | EV_PERSIST, onIo, d));
    d->write_ev.reset(event_new(base_, d->dst, EV_WRITE, onIo, d));
  }
  idle_ev_.reset(evtimer_new(base_, onIdle, this));
  closed_ev_.reset(event_new(base_, -1, 0, onClosed, this));
  armIdle();
  // Only the early bytes go now. The first reads wait for epoll rather than being tried: usually
  // neither socket has anything yet (two calls that would say EAGAIN), and whatever is already
  // waiting — a server-first banner, more client bytes — is reported at once (level-triggered).
  for (Direction* d : {&up_, &down_}) {
    if (closed_) return;
    if (flushCopied(*d)) event_add(d->read_ev.get(), nullptr);
  }
}

Tunnel::~Tunnel() = default;

void Tunnel::armIdle() {
  if (idle_timeout_ms_ == 0) return;
  timeval tv = millisToTimeval(idle_timeout_ms_);
  evtimer_add(idle_ev_.get(), &tv);
}

void Tunnel::onIdleTimer() {
  if (activity_) {  // re-arming per byte would cost a syscall per read; check lazily instead
    activity_ = false;
    armIdle();
    return;
  }
  close();
}

// Sends what a direction holds in user space (the early bytes, then a copied chunk). False when
// it must wait for dst (EV_WRITE armed) or failed.
bool Tunnel::flushCopied(Direction& d) {
  auto sendAll = [&](const char* data, size_t len, size_t& off) {
    while (off < len) {
      ssize_t n = ::send(d.dst, data + off, len - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        d.bytes += static_cast<uint64_t>(n);
        activity_ = true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        event_del(d.read_ev.get());
        event_add(d.write_ev.get(), nullptr);
        return false;
      }
      fail();
      return false;
    }
    return true;
  };
  if (!d.pending.empty()) {
    size_t off = 0;
    bool done = sendAll(d.pending.data(), d.pending.size(), off);
    d.pending.erase(0, off);
    if (!done) return false;
  }
  if (d.copy_off < d.copy_len) {
    if (!sendAll(d.copy_buf.get(), d.copy_len, d.copy_off)) return false;
  }
  d.copy_off = d.copy_len = 0;
  if (d.splicing) d.copy_buf.reset();  // bulk mode from here on: the buffer is not needed
  return true;
}

// Moves as much as possible src → dst without blocking, then waits for whichever side is not
// ready. Small transfers (requests and responses of a keep-alive exchange) are copied through a
// 16 KiB buffer: one recv and one send, and a short read means the socket is drained, so no
// third call to hear EAGAIN. Once a read fills the buffer the direction carries bulk data and
// switches for good to splice(2) through its pipe, which moves pages without copying them.
// Reading stops while bytes wait for dst (back-pressure).
void Tunnel::pump(Direction& d) {
  if (closed_) return;
  for (;;) {
    if (!flushCopied(d)) return;
    // Drain the pipe into dst.
    while (d.in_pipe > 0) {
      ssize_t n = ::splice(d.pipe_r.get(), nullptr, d.dst, nullptr, d.in_pipe,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.in_pipe -= static_cast<size_t>(n);
        d.bytes += static_cast<uint64_t>(n);
        activity_ = true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        event_del(d.read_ev.get());
        event_add(d.write_ev.get(), nullptr);
        return;
      }
      fail();  // dst reset or closed
      return;
    }
    if (d.src_eof) {
      if (!d.done) {
        d.done = true;
        ::shutdown(d.dst, SHUT_WR);
        event_del(d.read_ev.get());
        event_del(d.write_ev.get());
      }
      finishIfDone();
      return;
    }
    ssize_t n;
    if (d.splicing) {
      n = ::splice(d.src, nullptr, d.pipe_w.get(), nullptr, kSpliceChunk,
                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.in_pipe += static_cast<size_t>(n);
        activity_ = true;
        continue;
      }
    } else {
      if (!d.copy_buf) d.copy_buf = std::make_unique<char[]>(kCopyChunk);
      n = ::recv(d.src, d.copy_buf.get(), kCopyChunk, 0);
      if (n > 0) {
        d.copy_off = 0;
        d.copy_len = static_cast<size_t>(n);
        activity_ = true;
        const bool short_read = d.copy_len < kCopyChunk;
        // Bulk is a read that fills the buffer, or a stream of bytes in one direction while the
        // other stays silent (a download from an origin slower than we are reads short every
        // time). Request/response traffic alternates and resets the run.
        Direction& other = &d == &up_ ? down_ : up_;
        other.run_bytes = 0;
        d.run_bytes += d.copy_len;
        if (!short_read || d.run_bytes >= kBulkRun) {
          if (!makePipe(d.pipe_r, d.pipe_w)) {
            fail();  // out of file descriptors: refuse rather than stall
            return;
          }
          d.splicing = true;
        }
        if (!flushCopied(d)) return;
        if (short_read) {  // drained: epoll says when there is more (or EOF)
          event_del(d.write_ev.get());
          event_add(d.read_ev.get(), nullptr);
          return;
        }
        continue;
      }
    }
    if (n == 0) {
      d.src_eof = true;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      // src has nothing for now (the pipe cannot be full: it was drained above).
      event_del(d.write_ev.get());
      event_add(d.read_ev.get(), nullptr);
      return;
    }
    fail();
    return;
  }
}

void Tunnel::finishIfDone() {
  if (up_.done && down_.done) close();
}

void Tunnel::fail() { close(); }

void Tunnel::close() {
  if (closed_) return;
  closed_ = true;
  for (Direction* d : {&up_, &down_}) {
    if (d->read_ev) event_del(d->read_ev.get());
    if (d->write_ev) event_del(d->write_ev.get());
  }
  if (idle_ev_) evtimer_del(idle_ev_.get());
  // Both sockets close together: a reset on one side is a close on the other.
  downstream_.reset();
  upstream_.reset();
  // Reported on the next loop turn, never from inside the constructor or a caller's close().
  event_active(closed_ev_.get(), 0, 0);
}

void Tunnel::reportClosed() {
  if (on_closed_) on_closed_(*this);
}

}  // namespace aiw
