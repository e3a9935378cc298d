// ForwardSession, CONNECT: classify the target (the connection filters), connect upstream,
// answer 200, peek at the ClientHello when a filter needs it, then tunnel — or refuse.
//
// The upstream connection is made before the 200 so that an unreachable target still gets a
// clear 502/504. Filters that need the ClientHello (tls_inspector, and the classifier's SNI
// checks behind it) can only run after the 200, because clients send nothing before it; a
// refusal then can only close the connection.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <algorithm>

#include "core/log.h"
#include "listeners/forward_session_impl.h"
#include "upstream/write_now.h"

namespace aiw {

namespace {
constexpr size_t kDefaultPeekBytes = 16384;
}  // namespace

void ForwardSession::beginConnect(RequestHead& head) {
  auto target = parseAuthorityForm(head.target);
  if (!target.ok()) {
    sendErrorAndClose(400, "bad_authority", target.error().message);
    return;
  }
  connect_target_ = target.value();
  conn_.is_connect = true;
  conn_.target_host = connect_target_.host;
  conn_.target_port = connect_target_.port;
  if (snapshot_->chain && !snapshot_->chain->empty()) {
    PeekLimits limits = snapshot_->chain->peekLimits();
    peek_max_bytes_ = limits.max_bytes ? limits.max_bytes : kDefaultPeekBytes;
    peek_timeout_ms_ = limits.timeout_ms;
    conn_filters_ = std::make_unique<ConnectionFilterChain>(snapshot_->chain, peek_max_bytes_);
    if (conn_filters_->empty()) {
      conn_filters_.reset();
    } else if (limits.max_bytes == 0) {
      // Nothing needs the client's first bytes: decide now, while an HTTP answer is possible.
      if (!applyConnectVerdict(conn_filters_->run(conn_, {}, /*no_more_data=*/true))) return;
      connect_decided_ = true;
    }
  }
  setDownstreamReading(false);  // early bytes wait in the input buffer
  const auto& up = snapshot_->config.upstream;
  tunnel_connect_ = ConnectAttempt::start(
      worker_.base(), worker_.resolver(), connect_target_.host, connect_target_.port,
      up.connect_timeout_ms, [this](Result<UniqueFd> fd) { onTunnelUpstream(std::move(fd)); });
}

void ForwardSession::onTunnelUpstream(Result<UniqueFd> fd) {
  tunnel_connect_.reset();
  if (closed_) return;
  if (!fd.ok()) {
    uint16_t status = fd.error().code == "connect_timeout" ? 504 : 502;
    MetricsShard::bump(worker_.metrics().errors);
    log::info("CONNECT failed", {{"client", conn_.client},
                                 {"target", connect_target_.hostPort()},
                                 {"error", fd.error().code}});
    sendErrorAndClose(status, fd.error().code, fd.error().message);
    return;
  }
  if (!conn_filters_ || connect_decided_) {
    if (conn_.intercept && !connect_bypass_) {
      tunnel_upstream_ = std::move(fd.value());
      startInterception(/*established_sent=*/false);
      return;
    }
    startTunnel(std::move(fd.value()), /*established_sent=*/false);
    return;
  }
  // Answer, then read what the client sends first (its ClientHello) without consuming it.
  tunnel_upstream_ = std::move(fd.value());
  bufferevent_write(down_.get(), kEstablished, sizeof kEstablished - 1);
  flushNow(down_.get());
  peeking_ = true;
  armHeaderTimer(peek_timeout_ms_);  // the peek deadline (onHeaderTimeout knows)
  setDownstreamReading(true);
  runPeek(/*no_more_data=*/false);
}

void ForwardSession::runPeek(bool no_more_data) {
  evbuffer* input = bufferevent_get_input(down_.get());
  size_t n = std::min(evbuffer_get_length(input), peek_max_bytes_);
  const auto* bytes = n ? evbuffer_pullup(input, static_cast<ev_ssize_t>(n)) : nullptr;
  Verdict v = conn_filters_->run(conn_, std::span<const uint8_t>(bytes, n), no_more_data);
  if (v.action == Action::NeedMoreData) return;  // more bytes, the deadline or EOF will come
  peeking_ = false;
  evtimer_del(header_timer_.get());
  setDownstreamReading(false);
  if (!applyConnectVerdict(v)) return;
  if (conn_.intercept && !connect_bypass_) {
    startInterception(/*established_sent=*/true);
    return;
  }
  startTunnel(std::move(tunnel_upstream_), /*established_sent=*/true);
}

// Acts on the connection filters' refusals; false when the connection was refused (answered
// with an HTTP error before the 200, closed after it). What is left is a tunnel or an
// interception (conn_.intercept, unless a filter said Bypass).
bool ForwardSession::applyConnectVerdict(const Verdict& v) {
  const bool answered = tunnel_upstream_.valid();
  if (v.action == Action::Block) {
    MetricsShard::bump(worker_.metrics().blocked);
    log::info("CONNECT refused", {{"client", conn_.client},
                                  {"target", connect_target_.hostPort()},
                                  {"reason", v.reason}});
    if (!answered) {
      sendErrorAndClose(v.status ? v.status : 403, "blocked", v.reason);
    } else {
      closeSession();
    }
    return false;
  }
  connect_bypass_ = v.action == Action::Bypass;
  if (conn_.intercept && !connect_bypass_ && answered && !conn_.tls) {
    // Inspected domain, but what the client sent is not TLS: nothing to decrypt, and passing
    // it blind would let anything through unseen (SPEC §4).
    MetricsShard::bump(worker_.metrics().blocked);
    log::info("CONNECT refused", {{"client", conn_.client},
                                  {"target", connect_target_.hostPort()},
                                  {"reason", "not TLS on a domain that is inspected"}});
    closeSession();
    return false;
  }
  return true;
}

void ForwardSession::startTunnel(UniqueFd upstream, bool established_sent) {
  // The tunnel takes the raw sockets; the bufferevent's unread input (bytes the client sent
  // after CONNECT: its ClientHello) and unsent output (an earlier response, the 200) move
  // with it.
  Buffer early_up, early_down;
  early_up.moveFrom(bufferevent_get_input(down_.get()));
  early_down.moveFrom(bufferevent_get_output(down_.get()));
  if (!established_sent) early_down.append(kEstablished);
  down_.reset();
  evtimer_del(header_timer_.get());
  auto& m = worker_.metrics();
  MetricsShard::bump(m.bypassed);
  MetricsShard::bump(m.tunnels_active);
  conn_.bypassed = true;
  conn_.tunnel_started = std::chrono::steady_clock::now();
  const uint32_t idle = snapshot_->config.upstream.idle_timeout_ms;
  tunnel_ = std::make_unique<Tunnel>(
      worker_.base(), std::move(fd_), std::move(upstream), early_up.toString(),
      early_down.toString(), idle, [this](Tunnel& t) {
        auto& mm = worker_.metrics();
        MetricsShard::bump(mm.tunnel_bytes, t.bytesUp() + t.bytesDown());
        mm.tunnels_active.store(mm.tunnels_active.load(std::memory_order_relaxed) - 1,
                                std::memory_order_relaxed);
        closeSession();
      });
}

}  // namespace aiw
