// ForwardSession: recognising an HTTP/2 client and handing its connection to an H2Downstream
// (h2_downstream.h) — ALPN "h2" on an intercepted TLS connection, h2c with prior knowledge
// (the connection preface) on a sidecar listener.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "listeners/forward_session_impl.h"
#include "tls/tls_transport.h"

namespace aiw {

// True when this session must not parse the downstream bytes now: the connection was handed
// over, or (h2c) the bytes so far could still be the start of the preface.
bool ForwardSession::takeHttp2() {
  if (intercepting_) {
    const TlsSession* tls = tlsSession(down_.get());
    if (tls == nullptr || !tls->handshakeDone()) return false;  // decided after the handshake
    protocol_checked_ = true;
    if (tls->alpn() != "h2") return false;
    handOverToHttp2();
    return true;
  }
  if (!conn_.sidecar) {
    protocol_checked_ = true;  // a forward proxy's clients speak HTTP/1.1 to it
    return false;
  }
  evbuffer* in = bufferevent_get_input(down_.get());
  const size_t n = std::min<size_t>(evbuffer_get_length(in), 24);
  const char* bytes = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(n)));
  switch (matchH2Preface(std::string_view(bytes, n))) {
    case PrefaceMatch::No:
      protocol_checked_ = true;
      return false;
    case PrefaceMatch::Partial:
      return true;  // wait for more (the header timer still runs)
    case PrefaceMatch::Yes:
      protocol_checked_ = true;
      handOverToHttp2();
      return true;
  }
  return false;
}

void ForwardSession::handOverToHttp2() {
  DownstreamContext context;
  context.conn = conn_;
  context.intercepting = intercepting_;
  context.intercept_name = intercept_name_;
  context.connect_target = connect_target_;
  if (header_timer_) evtimer_del(header_timer_.get());
  bufferevent_setcb(down_.get(), nullptr, nullptr, nullptr, nullptr);
  counts_as_connection = false;  // the HTTP/2 session carries on counting this connection
  startH2Downstream(worker_, *listener_, snapshot_, std::move(fd_), std::move(down_),
                    std::move(context), std::move(conn_filters_));
  closeSession();
}

}  // namespace aiw
