// ForwardSession, upstream side: getting a connection to the origin (pooled or new), writing
// the request, parsing the response and streaming it downstream with back-pressure.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/log.h"
#include "core/timeval.h"
#include "http/http1_feed.h"
#include "http/http1_writer.h"
#include "listeners/forward_session_impl.h"
#include "tls/tls_transport.h"
#include "upstream/write_now.h"

namespace aiw {

namespace {

constexpr size_t kHighWater = 1 << 20;

void onUpReadCb(bufferevent*, void* arg) noexcept {
  static_cast<ForwardSession*>(arg)->onUpstreamRead();
}
void onUpWriteCb(bufferevent*, void* arg) noexcept {
  static_cast<ForwardSession*>(arg)->onUpstreamWrite();
}
void onUpEventCb(bufferevent*, short what, void* arg) noexcept {
  static_cast<ForwardSession*>(arg)->onUpstreamEvent(what);
}

// Timeouts are 504; everything else the origin side can do wrong (DNS, refused, reset, TLS
// verification or handshake, a bad response) is 502.
uint16_t statusFor(const Error& e) {
  return (e.code == "connect_timeout" || e.code == "upstream_timeout") ? 504 : 502;
}

// Drops what follows the first `keep` bytes of `out`; false (and `out` unchanged) when it cannot.
// A socket bufferevent freezes the start of its output (only libevent drains it; evbuffer_drain
// then fails, which is how it is told): the freeze is lifted for the moment.
bool dropOutputAfter(evbuffer* out, size_t keep) {
  const bool frozen = evbuffer_get_length(out) > 0 && evbuffer_drain(out, 0) != 0;
  if (frozen) evbuffer_unfreeze(out, 1);
  Buffer kept;
  bool ok = evbuffer_remove_buffer(out, kept.raw(), keep) == static_cast<int>(keep);
  if (ok) {
    ok = evbuffer_drain(out, evbuffer_get_length(out)) == 0 &&
         evbuffer_add_buffer(out, kept.raw()) == 0;
  }
  if (frozen) evbuffer_freeze(out, 1);
  return ok;
}

}  // namespace

HeadAction UpstreamParserEvents::onResponseHead(ResponseHead& head) {
  return session_.onResponseHead(head);
}
FlowAction UpstreamParserEvents::onBody(const char* data, size_t len) {
  return session_.onResponseBody(data, len);
}
FlowAction UpstreamParserEvents::onMessageComplete(Headers&) { return session_.onResponseComplete(); }

// ---- getting a connection --------------------------------------------------------------------

void ForwardSession::acquireUpstream() {
  Exchange& ex = *ex_;
  if (ex.retries_left > 0) {  // a retry always opens a fresh connection
    if (auto pooled = worker_.pool().take(ex.pool_key)) {
      MetricsShard::bump(worker_.metrics().upstream_reused);
      attachUpstream(std::move(pooled), true);
      return;
    }
  }
  if (!ex.tls_name.empty()) {
    H2UpstreamPool& h2 = worker_.h2Upstreams();
    if (auto stream = h2.openStream(ex.pool_key, *this, alive_)) {  // on a shared h2 connection
      MetricsShard::bump(worker_.metrics().upstream_reused);
      attachH2Stream(std::move(stream), true);
      return;
    }
    if (h2.probing(ex.pool_key)) {
      // A handshake to this origin is about to tell whether it speaks h2: share that
      // connection if it does, rather than open one more.
      h2.waitForProbe(ex.pool_key, [this, alive = alive_, id = ex.info.id] {
        if (*alive && !closed_ && ex_ && ex_->info.id == id && !ex_->upstream && !ex_->h2 &&
            !ex_->connecting) {
          acquireUpstream();
          if (!closed_ && ex_ && ex_->upstream) flushNow(ex_->upstream->bev.get());
        }
      });
      return;
    }
    ex.probe = h2.probe(ex.pool_key);
  }
  const auto& up = snapshot_->config.upstream;
  ex.connecting = ConnectAttempt::start(
      worker_.base(), worker_.resolver(), ex.connect_host, ex.connect_port,
      up.connect_timeout_ms, [this](Result<UniqueFd> fd) { onUpstreamConnected(std::move(fd)); });
}

void ForwardSession::onUpstreamConnected(Result<UniqueFd> fd) {
  if (closed_ || !ex_) return;
  ex_->connecting.reset();  // safe: the attempt touches nothing after its callback
  if (!fd.ok()) {
    upstreamFailed(fd.error());
    return;
  }
  MetricsShard::bump(worker_.metrics().upstream_connects);
  auto conn = std::make_unique<PooledConnection>();
  conn->key = ex_->pool_key;
  conn->bev.reset(bufferevent_socket_new(worker_.base(), fd.value().release(), BEV_OPT_CLOSE_ON_FREE));
  if (!conn->bev) {
    upstreamFailed(makeError("connect_failed", "cannot set up the upstream connection"));
    return;
  }
  readInLargeChunks(conn->bev.get());
  if (!ex_->tls_name.empty()) {  // intercepted: TLS to the origin, its certificate verified
    auto tls = wrapUpstreamTls(std::move(conn->bev));
    if (!tls.ok()) {
      upstreamFailed(tls.error());
      return;
    }
    conn->bev = std::move(tls.value());
    conn->probe = std::move(ex_->probe);
  }
  attachUpstream(std::move(conn), false);
  if (!closed_ && ex_ && ex_->upstream) flushNow(ex_->upstream->bev.get());
}

void ForwardSession::attachUpstream(std::unique_ptr<PooledConnection> conn, bool reused) {
  Exchange& ex = *ex_;
  if (const TlsSession* tls = tlsSession(conn->bev.get())) {
    if (!tls->handshakeDone()) {
      // Not a byte until ALPN is known: HTTP/1.1 written now would reach an h2 origin.
      ex.upstream = std::move(conn);
      ex.reused_connection = reused;
      ex.awaiting_alpn = true;
      bufferevent_setcb(ex.upstream->bev.get(), onUpReadCb, onUpWriteCb, onUpEventCb, this);
      const uint32_t ms = snapshot_->config.upstream.request_timeout_ms;
      timeval tv = millisToTimeval(ms);
      bufferevent_set_timeouts(ex.upstream->bev.get(), ms ? &tv : nullptr, nullptr);
      bufferevent_enable(ex.upstream->bev.get(), EV_READ | EV_WRITE);
      return;
    }
    if (tls->alpn() == "h2") {
      std::shared_ptr<void> probe = std::move(conn->probe);
      auto stream = worker_.h2Upstreams().adopt(std::move(conn), *this, alive_);
      probe.reset();  // the waiters find the h2 connection now
      if (!stream) {
        upstreamFailed(makeError("upstream_h2", "the origin's HTTP/2 session failed to start"));
        return;
      }
      attachH2Stream(std::move(stream), reused);
      return;
    }
  }
  conn->probe.reset();  // HTTP/1.1 (or plain): the waiters connect on their own
  startUpstreamLeg(reused);
  ex.upstream = std::move(conn);
  ex.upstream->requests++;
  bufferevent* bev = ex.upstream->bev.get();
  bufferevent_setcb(bev, onUpReadCb, onUpWriteCb, onUpEventCb, this);
  // Write callbacks fire when the output drains below half the high-water mark: the moment to
  // read more of the client's body.
  bufferevent_setwatermark(bev, EV_WRITE, kHighWater / 2, 0);
  // request_timeout_ms starts once the request is out (updateUpstreamTimeout), not while a slow
  // client is still uploading it (that is body_timeout_ms's business).
  bufferevent_set_timeouts(bev, nullptr, nullptr);
  // EV_WRITE only while flushNow() needs help (a new bufferevent starts with it on).
  bufferevent_disable(bev, EV_WRITE);
  bufferevent_enable(bev, EV_READ);
  ex.response_parser = std::make_unique<Http1Parser>(Http1Parser::Type::Response, ex.events,
                                                     snapshot_->config.limits.max_header_bytes);
  sendUpstreamHead();
  updateUpstreamTimeout();
}

void ForwardSession::attachH2Stream(std::unique_ptr<H2Stream> stream, bool reused) {
  startUpstreamLeg(reused);
  ex_->h2 = std::move(stream);
  sendUpstreamHead();
  updateUpstreamTimeout();
}

// What a new way to the origin (a connection or an h2 stream) starts the exchange's request
// with, before its head goes out.
void ForwardSession::startUpstreamLeg(bool reused) {
  Exchange& ex = *ex_;
  ex.awaiting_alpn = false;
  // A retry after a stale reused connection needs the body again (see Exchange::replayable).
  if (reused && ex.replayable && !ex.upstream_head_sent && ex.replay_body.empty()) {
    ex.replay_body.assign(ex.pending_body.view());
  }
  ex.reused_connection = reused;
  ex.upstream_timeout_armed = false;
  ex.final_head_seen = false;
}

// nginx's proxy_read_timeout, extended to an origin that stops taking the body: the timer runs
// whenever the exchange waits on the origin (the request is all written, or the origin's answer
// has begun, or the body is backed up toward it), and is off while it waits on the client, whom
// body_timeout_ms bounds. Each arming starts a fresh timer; libevent restarts it at every read.
void ForwardSession::updateUpstreamTimeout() {
  if (closed_ || !ex_ || (!ex_->upstream && !ex_->h2) || ex_->awaiting_alpn) return;
  Exchange& ex = *ex_;
  const uint32_t ms = snapshot_->config.upstream.request_timeout_ms;
  const bool want = ms != 0 && (ex.request_sent || ex.final_head_seen || upstreamBackedUp());
  if (want == ex.upstream_timeout_armed) return;
  ex.upstream_timeout_armed = want;
  if (ex.h2) {
    ex.h2->setTimeout(want ? ms : 0);
    return;
  }
  timeval tv = millisToTimeval(ms);
  bufferevent_set_timeouts(ex.upstream->bev.get(), want ? &tv : nullptr, nullptr);
}

void ForwardSession::sendUpstreamHead() {
  Exchange& ex = *ex_;
  if (ex.h2) {
    if (auto r = ex.h2->sendHead(ex.request); !r.ok()) {
      if (r.error().code == "invalid_head") {  // as below
        releaseUpstream(false);
        sendErrorAndClose(400, r.error().code, r.error().message);
      } else {
        upstreamFailed(r.error());  // the connection went, or has no stream left
      }
      return;
    }
  } else {
    Buffer out;
    if (auto r = writeRequestHead(out, ex.request); !r.ok()) {
      // Only a filter can have put an invalid field there: the parser admits none.
      releaseUpstream(false);
      sendErrorAndClose(400, r.error().code, r.error().message);
      return;
    }
    bufferevent_write_buffer(ex.upstream->bev.get(), out.raw());
  }
  ex.upstream_head_sent = true;
  if (!ex.pending_body.empty()) {
    Buffer body;
    body.moveFrom(ex.pending_body);
    writeUpstreamBody(body);
  }
  writeUpstreamEnd();
}

// ---- request body ----------------------------------------------------------------------------

void ForwardSession::writeUpstreamBody(Buffer& chunk) {
  Exchange& ex = *ex_;
  if (chunk.empty()) return;
  if (!ex.upstream_head_sent) {
    ex.pending_body.moveFrom(chunk);
    return;
  }
  if (ex.h2) {
    ex.h2->sendBody(chunk);
    return;
  }
  evbuffer* out = bufferevent_get_output(ex.upstream->bev.get());
  if (ex.upstream_framing == BodyFraming::Chunked) {
    Buffer framed;
    appendChunk(framed, chunk);
    evbuffer_add_buffer(out, framed.raw());
  } else {
    evbuffer_add_buffer(out, chunk.raw());
  }
}

void ForwardSession::writeUpstreamEnd() {
  Exchange& ex = *ex_;
  if (!ex.request_complete || !ex.upstream_head_sent || ex.request_sent || ex.request_held) return;
  if (ex.h2) {
    ex.h2->sendEnd();
  } else if (ex.upstream_framing == BodyFraming::Chunked) {
    Buffer last;
    appendLastChunk(last);
    bufferevent_write_buffer(ex.upstream->bev.get(), last.raw());
  }
  ex.request_sent = true;
  updateUpstreamTimeout();
}

bool ForwardSession::upstreamBackedUp() const {
  if (!ex_) return false;
  if (ex_->h2 && ex_->upstream_head_sent) return ex_->h2->requestBackedUp();
  if (ex_->upstream && ex_->upstream_head_sent) {
    return evbuffer_get_length(bufferevent_get_output(ex_->upstream->bev.get())) >= kHighWater;
  }
  return ex_->pending_body.size() >= kHighWater;
}

void ForwardSession::onUpstreamWrite() {
  if (closed_ || !ex_) return;
  if (ex_->upstream) stopWritingIfDrained(ex_->upstream->bev.get());
  // The origin took our bytes: read more of the request body if we had paused for it.
  if (!ex_->request_complete && requestPaused() && !upstreamBackedUp()) resumeRequest();
  updateUpstreamTimeout();
}

// ---- response --------------------------------------------------------------------------------

void ForwardSession::onUpstreamRead() { parseUpstream(); }

void ForwardSession::parseUpstream() {
  if (closed_ || !ex_ || (!ex_->response_parser && !ex_->h2) || in_upstream_parse_) return;
  // Cork a TLS downstream while the origin's bytes are parsed. libevent runs a filtering
  // bufferevent's output filter as soon as bytes are added while EV_WRITE is on, so the
  // response head and its body would each become a TLS record and a writev of their own (3
  // writes per intercepted keep-alive request instead of 2). With EV_WRITE off, nothing is
  // encrypted until flushDownstream() (flushNow turns EV_WRITE back on and flushes): one
  // record, one write. Plain socket bufferevents need no cork (flushNow writes them).
  bufferevent* corked = nullptr;
  if (down_ && bufferevent_get_underlying(down_.get()) != nullptr &&
      (bufferevent_get_enabled(down_.get()) & EV_WRITE)) {
    corked = down_.get();
    bufferevent_disable(corked, EV_WRITE);
  }
  parseUpstreamCorked();
  // Whatever path the parse took, EV_WRITE is on again when we leave (stopWritingIfDrained
  // never turns it off on TLS: writes elsewhere rely on the filter running at once).
  if (corked != nullptr && !closed_ && down_.get() == corked &&
      !(bufferevent_get_enabled(corked) & EV_WRITE)) {
    bufferevent_enable(corked, EV_WRITE);
    if (evbuffer_get_length(bufferevent_get_output(corked)) > 0) {
      bufferevent_flush(corked, EV_WRITE, BEV_NORMAL);
    }
  }
}

void ForwardSession::parseUpstreamCorked() {
  Exchange& ex = *ex_;
  // The client's output is written once, after the batch (flushDownstream below, or the cork):
  // a response head followed in the same batch by a framing error (a bad chunk line) has not
  // left yet. It is taken back, and the client gets a clean 502 instead of a cut 200. Not on an
  // HTTP/2 stream, whose pair may already have passed the bytes on.
  evbuffer* down_out = down_ ? bufferevent_get_output(down_.get()) : nullptr;
  const size_t out_mark = down_out != nullptr ? evbuffer_get_length(down_out) : 0;
  const bool head_not_sent = !ex.response_started;
  const uint64_t bytes_out_mark = ex.info.bytes_out;
  in_upstream_parse_ = true;
  auto fed = ex.h2 ? ex.h2->deliver(ex.events)
                   : feedFromBuffer(*ex.response_parser,
                                    bufferevent_get_input(ex.upstream->bev.get()));
  if (!fed.ok()) {
    in_upstream_parse_ = false;
    if (head_not_sent && ex.response_started && !on_stream_ && down_out != nullptr &&
        evbuffer_get_length(down_out) >= out_mark && dropOutputAfter(down_out, out_mark)) {
      ex.response_started = false;
      ex.info.bytes_out = bytes_out_mark;
    }
    // An h2 stream says itself why it failed (reset, timeout, a malformed head).
    upstreamFailed(ex.h2 ? fed.error()
                         : makeError("bad_response", "the origin sent an invalid response: " +
                                                         fed.error().message));
    return;
  }
  in_upstream_parse_ = false;
  afterUpstreamParse();
  flushDownstream();  // the response bytes just parsed, in one write
}

void ForwardSession::afterUpstreamParse() {
  if (closed_ || !ex_) return;
  Exchange& ex = *ex_;
  if (ex.response_block.action == Action::Block) {
    Verdict v = ex.response_block;
    releaseUpstream(false);
    sendBlocked(v);
    return;
  }
  if (ex.response_aborted) {  // blocked midway: the client's response cannot be completed
    cutResponse(ex.response_abort);
    return;
  }
  if (ex.response_complete) {
    bool reusable = false;  // an h2 stream is never reused (its connection is shared)
    if (ex.upstream) {
      evbuffer* input = bufferevent_get_input(ex.upstream->bev.get());
      reusable = ex.response_parser->responseHead().keep_alive && ex.request_sent &&
                 evbuffer_get_length(input) == 0 && !draining_;
    }
    if (!ex.request_complete) close_after_response_ = true;  // can't resync the client stream
    releaseUpstream(reusable);
    finishExchange();
    return;
  }
  if (ex.upstream && ex.response_parser->state() == Http1ParserState::Paused) {
    bufferevent_disable(ex.upstream->bev.get(), EV_READ);  // downstream is backed up
  }
}

void ForwardSession::onUpstreamEvent(short what) {
  if (closed_ || !ex_) return;
  Exchange& ex = *ex_;
  if (what & BEV_EVENT_CONNECTED) {  // the origin's TLS handshake is done: ALPN is known
    if (ex.awaiting_alpn) {
      attachUpstream(std::move(ex.upstream), ex.reused_connection);
      if (!closed_ && ex_ && ex_->upstream) flushNow(ex_->upstream->bev.get());  // the request
    }
    return;
  }
  if (what & BEV_EVENT_ERROR) {
    // A TLS failure says why (verification, hostname, handshake): the client's 502 names it.
    if (const TlsSession* tls = tlsSession(ex.upstream->bev.get()); tls && tls->failure()) {
      upstreamFailed(*tls->failure());
      return;
    }
  }
  if ((what & BEV_EVENT_EOF) && ex.response_parser) {
    // Deliver what is still buffered first, then tell the parser the origin is done.
    parseUpstream();
    if (closed_ || !ex_ || ex_->response_complete) return;
    in_upstream_parse_ = true;
    auto r = ex.response_parser->finish();
    in_upstream_parse_ = false;
    if (r.ok() && ex.response_complete) {
      afterUpstreamParse();
      return;
    }
    upstreamFailed(makeError("upstream_closed", "the origin closed the connection before the "
                                                "response was complete"));
    return;
  }
  if (what & BEV_EVENT_TIMEOUT) {
    upstreamFailed(makeError("upstream_timeout", "the origin did not answer within "
                                                 "request_timeout_ms"));
    return;
  }
  upstreamFailed(makeError("upstream_reset", "the connection to the origin failed"));
}

void ForwardSession::upstreamFailed(const Error& error) {
  Exchange& ex = *ex_;
  releaseUpstream(false);
  // A pooled connection the origin had already closed: try once more on a new one, if nothing
  // of the exchange is lost by doing so (no response yet, no body streamed).
  if (ex.reused_connection && !ex.response_started && ex.retries_left > 0 &&
      (!ex.request.hasBody() || ex.replayable) && error.code != "upstream_timeout" &&
      error.code != "bad_response") {
    ex.retries_left--;
    if (ex.replayable) {
      ex.pending_body.clear();
      ex.pending_body.append(ex.replay_body);
    }
    ex.reused_connection = false;
    ex.upstream_head_sent = false;
    ex.request_sent = false;
    ex.informational = false;
    acquireUpstream();
    return;
  }
  if (ex.response_started) {
    // Part of the response went out: the only honest signal left is to cut the connection.
    log::info("origin failed mid-response", {{"client", conn_.client}, {"error", error.message}});
    MetricsShard::bump(worker_.metrics().errors);
    closeSession();
    return;
  }
  log::info("upstream error", {{"client", conn_.client},
                               {"target", ex.info.authority},
                               {"error", error.code},
                               {"message", error.message}});
  sendErrorAndClose(statusFor(error), error.code, error.message);
}

void ForwardSession::releaseUpstream(bool reusable) {
  Exchange& ex = *ex_;
  ex.response_parser.reset();
  ex.h2.reset();  // cancels its stream unless the response had ended
  if (!ex.upstream) return;
  if (reusable) {
    worker_.pool().put(std::move(ex.upstream));
  } else {
    ex.upstream.reset();
  }
}

HeadAction ForwardSession::onResponseHead(ResponseHead& head) {
  Exchange& ex = *ex_;
  ex.informational = head.isInformational();
  if (ex.informational) {
    // 100 Continue and 103 Early Hints go on to an HTTP/1.1 client; the final response follows.
    if (ex.request.version_minor >= 1 && head.status != 101) {
      removeHopByHopHeaders(head.headers);
      head.framing = BodyFraming::None;
      if (on_stream_) {
        if (port_ != nullptr) port_->answerInformational(head);
      } else if (Buffer out; writeResponseHead(out, head).ok()) {
        bufferevent_write_buffer(down_.get(), out.raw());
      }
    }
    return HeadAction::Continue;
  }
  if (!ex.final_head_seen) {  // the origin is answering: its silence counts from now on
    ex.final_head_seen = true;
    updateUpstreamTimeout();
  }
  if (ex.sidecar.kind != SidecarKind::None) {
    ex.sidecar.upstream_status = head.status;
    // An MCP server names the session in its answer to initialize.
    if (ex.sidecar.kind == SidecarKind::Mcp && ex.info.session_id.empty()) {
      if (const std::string* id = head.headers.find("mcp-session-id")) ex.info.session_id = *id;
    }
    // A tool's answer is read whole and goes back wrapped (writeToolResult).
    ex.sidecar.collecting_response = ex.sidecar.kind == SidecarKind::Tool;
  }
  if (ex.filters) {
    const bool no_body = ex.head_request || head.framing == BodyFraming::None;
    Verdict v = ex.filters->responseHeaders(ex.info, head.headers, no_body);
    if (v.action == Action::Block) {
      ex.response_block = v;
      return HeadAction::Stop;
    }
    if (v.action == Action::NeedMoreData) {
      ex.response_held = true;
      ex.held_response = head;
      return ex.head_request ? HeadAction::SkipBody : HeadAction::Continue;
    }
  }
  if (ex.sidecar.collecting_response) return HeadAction::Continue;
  writeResponseHeadDownstream(head);
  return ex.head_request ? HeadAction::SkipBody : HeadAction::Continue;
}

// Drops the Alt-Svc alternatives that would move the client to HTTP/3 (QUIC over UDP, which
// this proxy does not see) and keeps the rest; the field goes when nothing is left.
void stripHttp3AltSvc(Headers& headers) {
  std::string kept;
  bool changed = false;
  for (const auto& f : headers.fields()) {
    if (!equalsIgnoreCase(f.name, "alt-svc")) continue;
    forEachListElement(f.value, [&](std::string_view alt) {
      std::string_view proto = alt.substr(0, alt.find('='));
      if (proto.substr(0, 2) == "h3" || proto.substr(0, 4) == "quic") {
        changed = true;
        return;
      }
      if (!kept.empty()) kept += ", ";
      kept += alt;
    });
  }
  if (!changed) return;
  if (kept.empty()) {
    headers.remove("alt-svc");
  } else {
    headers.set("Alt-Svc", kept);
  }
}

void ForwardSession::writeResponseHeadDownstream(ResponseHead& head) {
  Exchange& ex = *ex_;
  const bool client_http10 = ex.request.version_minor == 0;
  removeHopByHopHeaders(head.headers);
  if (intercepting_ && snapshot_->config.interception.strip_alt_svc_h3) {
    stripHttp3AltSvc(head.headers);
  }
  addVia(head.headers, head.version_minor == 0 ? "1.0" : "1.1", "aiwarden");
  if (ex.head_request || head.framing == BodyFraming::None) {
    ex.downstream_framing = BodyFraming::None;
  } else if (head.framing == BodyFraming::ContentLength) {
    ex.downstream_framing = BodyFraming::ContentLength;
  } else if (!client_http10) {
    ex.downstream_framing = BodyFraming::Chunked;  // chunked or until-close upstream
    head.framing = BodyFraming::Chunked;
  } else {
    ex.downstream_framing = BodyFraming::UntilClose;  // HTTP/1.0 has no chunked coding
    head.framing = BodyFraming::UntilClose;
    close_after_response_ = true;
  }
  if (on_stream_) {
    // HTTP/2 frames the body itself; the codec checks the fields (none is connection-specific
    // after removeHopByHopHeaders). The port may take the fields: read what is needed first.
    noteResponseStarted(head);
    if (port_ != nullptr) port_->answerHead(head, ex.downstream_framing == BodyFraming::None);
    return;
  }
  if (close_after_response_ || draining_) {
    close_after_response_ = true;
    head.headers.set("Connection", "close");
  } else if (client_http10) {
    head.headers.set("Connection", "keep-alive");
  }
  head.version_major = 1;
  head.version_minor = 1;
  Buffer out;
  if (auto r = writeResponseHead(out, head); !r.ok()) {
    ex.response_block = Verdict::block(502, "the response head cannot be forwarded: " +
                                                r.error().message);
    return;
  }
  bufferevent_write_buffer(down_.get(), out.raw());
  noteResponseStarted(head);
}

void ForwardSession::noteResponseStarted(const ResponseHead& head) {
  Exchange& ex = *ex_;
  ex.response_started = true;
  ex.info.status = head.status;
  if (const std::string* type = head.headers.find("content-type")) {
    std::string_view media = std::string_view(*type).substr(0, type->find(';'));
    ex.info.response_is_sse = equalsIgnoreCase(media, "text/event-stream");
  }
}

FlowAction ForwardSession::onResponseBody(const char* data, size_t len) {
  Exchange& ex = *ex_;
  Buffer& chunk = scratch_;  // reused: its bytes are moved on, never kept
  chunk.clear();
  chunk.append(data, len);
  if (ex.filters) {
    Verdict v = ex.filters->responseBody(ex.info, chunk, false);
    if (v.action == Action::Block) {
      if (ex.response_started) {
        ex.response_aborted = true;
        ex.response_abort = v;
      } else {
        ex.response_block = v;
      }
      return FlowAction::Pause;
    }
    if (v.action == Action::NeedMoreData) return FlowAction::Continue;
  }
  if (ex.sidecar.collecting_response) {
    collectToolResponse(chunk);
    return FlowAction::Continue;
  }
  if (ex.response_held) return FlowAction::Continue;  // cannot happen: held implies NeedMoreData
  writeDownstreamBody(chunk);
  return downstreamBackedUp() ? FlowAction::Pause : FlowAction::Continue;
}

FlowAction ForwardSession::onResponseComplete() {
  Exchange& ex = *ex_;
  if (ex.informational) {
    ex.informational = false;
    return FlowAction::Continue;  // the final response comes next
  }
  if (ex.filters && !ex.head_request) {
    Buffer last;
    Verdict v = ex.filters->responseBody(ex.info, last, true);
    if (v.action == Action::Block) {
      if (ex.response_started) {
        ex.response_aborted = true;
        ex.response_abort = v;
      } else {
        ex.response_block = v;
      }
      return FlowAction::Pause;
    }
    if (ex.sidecar.collecting_response) {
      collectToolResponse(last);
      writeToolResult();
      ex.response_complete = true;
      return FlowAction::Pause;
    }
    if (ex.response_held) {
      // The filter saw the whole body: the client gets it with an exact length.
      ex.response_held = false;
      ex.held_response.framing = BodyFraming::ContentLength;
      ex.held_response.content_length = last.size();
      writeResponseHeadDownstream(ex.held_response);
    }
    writeDownstreamBody(last);
  } else if (ex.sidecar.collecting_response) {
    writeToolResult();
    ex.response_complete = true;
    return FlowAction::Pause;
  } else if (ex.response_held) {
    ex.response_held = false;
    writeResponseHeadDownstream(ex.held_response);
  }
  if (on_stream_) {
    if (port_ != nullptr) port_->answerEnd(nullptr);  // after a bodiless head: nothing
  } else if (ex.downstream_framing == BodyFraming::Chunked) {
    Buffer end;
    appendLastChunk(end);
    bufferevent_write_buffer(down_.get(), end.raw());
  }
  ex.response_complete = true;
  return FlowAction::Pause;  // nothing after this response belongs to it
}

}  // namespace aiw
