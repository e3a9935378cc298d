// TlsSession, socket side: the callbacks that wrap libevent's filter callbacks on the socket
// bufferevent, reads topped up past libevent's 4 KiB, writes straight to the socket, and the
// graceful close.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/timeval.h"
#include "tls/tls_transport.h"

namespace aiw {

namespace {

constexpr size_t kLibeventReadCap = 4096;  // EVBUFFER_MAX_READ in libevent 2.1

void onCloseTimeoutCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<TlsSession*>(arg)->onCloseTimeout();
}

}  // namespace

// Ciphertext goes to the socket at once, as the sessions' own writes do (upstream/write_now.h):
// EPOLLOUT is armed only for what the kernel did not take, so a request or a response costs no
// epoll_ctl. A hard error also hands over to libevent, whose write reports it as an event.
void TlsSession::flushSocket() {
  evbuffer* out = bufferevent_get_output(socket_);
  if (evbuffer_get_length(out) == 0 || (bufferevent_get_enabled(socket_) & EV_WRITE)) return;
  evutil_socket_t fd = bufferevent_getfd(socket_);
  int n = -1;
  errno = 0;
  if (fd >= 0) {
    evbuffer_unfreeze(out, 1);  // the front stays frozen outside libevent's own write callback
    n = evbuffer_write(out, fd);
    evbuffer_freeze(out, 1);
  }
  bool hard_error = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  if (hard_error || evbuffer_get_length(out) > 0) bufferevent_enable(socket_, EV_WRITE);
}

// ---- socket bufferevent callbacks ------------------------------------------------------------

void TlsSession::onSocketRead() {
  if (closing_) {
    evbuffer_drain(bufferevent_get_input(socket_),
                   evbuffer_get_length(bufferevent_get_input(socket_)));
    return;
  }
  topUpSocketInput();
  filter_read_(socket_, filter_arg_);
}

// libevent 2.1 reads at most 4 KiB per readiness event (EVBUFFER_MAX_READ), a quarter of a TLS
// record: bulk transfers would cost one loop turn and one filter pass per 4 KiB. One more read
// here brings up to kSocketSingleIo at once. Stays within the read high watermark's contract
// (the overshoot is one such read); EOF is left for libevent's next read to find (it is sticky),
// and an error is kept for the EOF that follows it (the kernel reports a reset only once).
void TlsSession::topUpSocketInput() {
  evbuffer* in = bufferevent_get_input(socket_);
  size_t have = evbuffer_get_length(in);
  size_t low = 0, high = 0;
  bufferevent_getwatermark(bev_, EV_READ, &low, &high);
  evutil_socket_t fd = bufferevent_getfd(socket_);
  // The filter leaves the socket input empty, so `have` is what libevent just read: less than
  // its cap means the socket had no more (a read that would only find EAGAIN).
  if (fd < 0 || have < kLibeventReadCap || have >= kSocketSingleIo ||
      (high != 0 && evbuffer_get_length(bufferevent_get_input(bev_)) >= high)) {
    return;
  }
  evbuffer_unfreeze(in, 0);  // a socket bufferevent keeps its input's end frozen between reads
  evbuffer_iovec vec[2];
  int n = evbuffer_reserve_space(in, static_cast<ev_ssize_t>(kSocketSingleIo - have), vec, 2);
  if (n > 0) {
    iovec iov[2];
    for (int i = 0; i < n; ++i) iov[i] = iovec{vec[i].iov_base, vec[i].iov_len};
    ssize_t r = ::readv(fd, iov, n);
    if (r > 0) {
      size_t left = static_cast<size_t>(r);
      int used = 0;
      for (; used < n && left > 0; ++used) {
        vec[used].iov_len = std::min(left, vec[used].iov_len);
        left -= vec[used].iov_len;
      }
      evbuffer_commit_space(in, vec, used);
    } else if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      read_errno_ = errno;
    }
  }
  evbuffer_freeze(in, 0);
}

// libevent wrote (EV_WRITE was on: the kernel had pushed back) and the output is at or below its
// low watermark: refill from the waiting plaintext; once all is out, direct writes resume.
void TlsSession::onSocketWrite() {
  filter_write_(socket_, filter_arg_);
  if (evbuffer_get_length(bufferevent_get_output(socket_)) > 0) return;
  if (closing_) {
    finishClose();
    return;
  }
  bufferevent_disable(socket_, EV_WRITE);
}

void TlsSession::onSocketEvent(short what) {
  if (closing_) {  // EOF, reset or error while closing: nothing left to do
    finishClose();
    return;
  }
  if (what & BEV_EVENT_CONNECTED) return;  // TCP connect of a connecting socket: not the handshake
  if (eof_signalled_ || failure_) return;  // already told; the socket's news adds nothing
  if ((what & BEV_EVENT_EOF) && read_errno_ != 0) {  // the EOF after an error topUp saw
    what = static_cast<short>(BEV_EVENT_ERROR | BEV_EVENT_READING);
    EVUTIL_SET_SOCKET_ERROR(read_errno_);
  }
  if (what & BEV_EVENT_EOF) {
    if (!handshake_done_) {
      fail("tls_handshake_failed", "connection closed during the TLS handshake", BEV_EVENT_READING);
      return;
    }
    eof_signalled_ = true;
    signal(BEV_EVENT_EOF | BEV_EVENT_READING);
    return;
  }
  if (what & BEV_EVENT_ERROR) {
    int e = EVUTIL_SOCKET_ERROR();
    std::string msg = e != 0 ? std::strerror(e) : "socket error";
    fail("tls_io_error", handshake_done_ ? msg : "during the TLS handshake: " + msg,
         static_cast<short>(what & (BEV_EVENT_READING | BEV_EVENT_WRITING)));
    return;
  }
  filter_event_(socket_, what, filter_arg_);  // timeouts the owner set on the socket
}

// ---- graceful close --------------------------------------------------------------------------

void TlsSession::beginGracefulClose(uint32_t timeout_ms) {
  closing_ = true;
  output_waiting_ = false;
  bufferevent_setcb(bev_, nullptr, nullptr, nullptr, nullptr);
  bufferevent_set_timeouts(bev_, nullptr, nullptr);
  evbuffer_drain(bufferevent_get_input(bev_), evbuffer_get_length(bufferevent_get_input(bev_)));
  // Keep reading (and discarding) so that unread bytes do not turn the close into a reset.
  bufferevent_setwatermark(bev_, EV_READ, 0, 0);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  // Everything still in plaintext, then close_notify (see filterOutput), regardless of marks.
  bufferevent_flush(bev_, EV_WRITE, BEV_FINISHED);
  bufferevent_setwatermark(socket_, EV_WRITE, 0, 0);  // a write callback once all is out
  bool socket_dead = (failure_ && failure_->code == "tls_io_error") ||
                     !(bufferevent_get_enabled(socket_) & EV_WRITE);  // libevent gave up on it
  if (timeout_ms == 0 || socket_dead || evbuffer_get_length(bufferevent_get_output(socket_)) == 0) {
    finishClose();
    return;
  }
  close_ev_.reset(evtimer_new(bufferevent_get_base(bev_), onCloseTimeoutCb, this));
  timeval tv = millisToTimeval(timeout_ms);
  if (!close_ev_ || evtimer_add(close_ev_.get(), &tv) != 0) finishClose();
}

void TlsSession::onCloseTimeout() { finishClose(); }

void TlsSession::finishClose() {
  if (close_done_) return;
  close_done_ = true;
  close_ev_.reset();
  // Frees the socket bufferevent too; this object goes later, when libevent finalizes bev_.
  bufferevent_free(bev_);
}

}  // namespace aiw
