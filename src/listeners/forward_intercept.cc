// ForwardSession, TLS interception: the client's TLS is terminated with a leaf minted for the
// host it asked for, its requests become exchanges like any other (filters, pool, metrics), and
// each goes to the real origin over a new, verified TLS connection.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/log.h"
#include "listeners/forward_session_impl.h"
#include "tls/interception_context.h"
#include "tls/leaf_cache.h"
#include "tls/tls_context.h"
#include "tls/tls_transport.h"
#include "upstream/write_now.h"

namespace aiw {

void ForwardSession::startInterception(bool established_sent) {
  const InterceptionContext* ic = worker_.runtime().interception.get();
  intercept_name_ = !conn_.sni.empty() ? conn_.sni : conn_.target_host;
  auto leaf = ic ? ic->leaves->get(intercept_name_)
                 : Result<LeafCache::LeafPtr>(makeError("no_ca", "no interception CA"));
  if (!leaf.ok()) {
    MetricsShard::bump(worker_.metrics().errors);
    log::warn("interception failed", {{"client", conn_.client},
                                      {"host", intercept_name_},
                                      {"error", leaf.error().message}});
    closeSession();
    return;
  }
  // The upstream connection made to check reachability serves the first exchange: its TLS
  // handshake runs while the client's does. Unless the pool already holds an idle TLS
  // connection to the same origin: the first exchange takes that one (acquireUpstream), and a
  // second handshake would only cost both ends a key exchange and leave one more idle
  // connection behind — with one short-lived client connection after another (no client
  // keep-alive), that was a full upstream TLS handshake per client connection.
  std::string pool_key = interceptPoolKey();
  H2UpstreamPool& h2 = worker_.h2Upstreams();
  if (tunnel_upstream_.valid() && (worker_.pool().idleCount(pool_key) > 0 ||
                                   h2.hasConnection(pool_key) || h2.probing(pool_key))) {
    tunnel_upstream_.reset();  // reachability checked; closed unused
  }
  if (tunnel_upstream_.valid()) {
    auto conn = std::make_unique<PooledConnection>();
    conn->key = std::move(pool_key);
    BufferEventPtr sock(bufferevent_socket_new(worker_.base(), tunnel_upstream_.release(),
                                               BEV_OPT_CLOSE_ON_FREE));
    if (sock) {
      auto tls = wrapUpstreamTls(std::move(sock));
      if (tls.ok()) {
        conn->bev = std::move(tls.value());
        // Held until ALPN tells whether the origin speaks h2 (then shared by the streams of
        // every exchange to it) or HTTP/1.1 (then pooled for the first exchange).
        h2.parkUntilHandshake(std::move(conn), worker_.pool(),
                              snapshot_->config.upstream.connect_timeout_ms);
      }
    }
  }
  // The TLS layer needs a socket bufferevent that owns its fd; the peeked ClientHello moves
  // into it so the handshake starts from there.
  if (!established_sent) bufferevent_write(down_.get(), kEstablished, sizeof kEstablished - 1);
  flushNow(down_.get());
  BufferEventPtr sock(
      bufferevent_socket_new(worker_.base(), fd_.get(), BEV_OPT_CLOSE_ON_FREE));
  if (!sock) {
    closeSession();
    return;
  }
  fd_.release();  // owned by `sock` now
  // Anything of ours not yet sent (the 200, if the socket pushed back) goes first. The old
  // bufferevent keeps its output's front frozen; unfreeze it to move the bytes out.
  evbuffer* old_out = bufferevent_get_output(down_.get());
  evbuffer_unfreeze(old_out, 1);
  evbuffer_add_buffer(bufferevent_get_output(sock.get()), old_out);
  // The peeked ClientHello is handed to the TLS layer, which starts the handshake from it.
  Buffer hello;
  evbuffer* old_in = bufferevent_get_input(down_.get());
  evbuffer_unfreeze(old_in, 0);
  hello.moveFrom(old_in);
  down_.reset();
  auto tls = wrapTlsServer(
      std::move(sock), *ic->server, [&](SSL* ssl) { return leaf.value()->applyTo(ssl); },
      hello.raw());
  if (!tls.ok()) {
    log::info("client TLS refused", {{"client", conn_.client},
                                     {"host", intercept_name_},
                                     {"error", tls.error().message}});
    closeSession();
    return;
  }
  down_ = std::move(tls.value());
  bufferevent_setcb(down_.get(), onDownReadTrampoline, onDownWriteTrampoline,
                    onDownEventTrampoline, this);
  bufferevent_setwatermark(down_.get(), EV_READ, 0,
                           snapshot_->config.limits.max_header_bytes + (1 << 20));
  downstream_reading_ = true;
  intercepting_ = true;
  protocol_checked_ = false;  // ALPN may say h2: known once the handshake is done
  MetricsShard::bump(worker_.metrics().intercepted);
  // From here on the connection carries HTTP/1.1 requests again, inside TLS; the header
  // deadline covers the handshake too.
  if (parser_) parser_->reset();
  waiting_for_head_ = true;
  armHeaderTimer(snapshot_->config.limits.header_timeout_ms);
}

// Upstream TLS connections are pooled per name verified and address connected to: a CONNECT to
// an IP literal with an SNI must not share connections verified for another name.
std::string ForwardSession::interceptPoolKey() const {
  return "https://" + intercept_name_ + ":" + std::to_string(connect_target_.port) + "@" +
         connect_target_.hostPort();
}

Result<BufferEventPtr> ForwardSession::wrapUpstreamTls(BufferEventPtr socket_bev) {
  // The current one: a reload may have changed upstream.ca_file since this connection began.
  auto client = worker_.runtime().upstream_tls.load(std::memory_order_acquire);
  // The name to verify: the exchange's (a sidecar route's upstream), else the intercepted host
  // (also when an exchange-less connection is pre-opened for the pool).
  const std::string& name = ex_ && !ex_->tls_name.empty() ? ex_->tls_name : intercept_name_;
  return wrapTlsClient(std::move(socket_bev), *client, name);
}

// An intercepted request names a path (origin-form); the authority is the host the client
// connected to. A Host field naming another host is refused: the policy decided on this one.
bool ForwardSession::interceptedTarget(RequestHead& head, AbsoluteUrl& url) {
  if (!head.target.empty() && head.target[0] == '/') {
    url.scheme = "https";
    url.authority.host = intercept_name_;
    url.authority.port = connect_target_.port;
    url.port_explicit = connect_target_.port != 443;
    url.path = head.target;
  } else {
    auto parsed = parseAbsoluteUrl(head.target);
    if (!parsed.ok()) {
      sendErrorAndClose(400, "bad_url", parsed.error().message);
      return false;
    }
    url = std::move(parsed.value());
  }
  const std::string* host = head.headers.find("host");
  auto host_authority = host ? parseHostHeader(*host) : Result<Authority>(Authority{});
  const bool host_matches =
      host_authority.ok() && equalsIgnoreCase(host_authority->host, intercept_name_);
  if (!host_matches || !equalsIgnoreCase(url.authority.host, intercept_name_)) {
    sendErrorAndClose(421, "misdirected_request",
                      "this connection is for " + intercept_name_ +
                          "; the request names another host");
    return false;
  }
  return true;
}

}  // namespace aiw
