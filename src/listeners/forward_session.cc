// ForwardSession, downstream side: reading requests, exchanges and their filters, writing
// responses, CONNECT tunnels. The upstream side is in forward_upstream.cc.
#include "listeners/forward_session.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "admin/admin_routes.h"
#include "ai/provider_errors.h"
#include "core/log.h"
#include "core/timeval.h"
#include "http/http1_feed.h"
#include "http/http1_writer.h"
#include "listeners/forward_session_impl.h"
#include "tls/tls_transport.h"
#include "upstream/write_now.h"

namespace aiw {

namespace {

// Bytes queued toward one side before reading from the other side pauses (back-pressure).
constexpr size_t kHighWater = 1 << 20;
// The admin API mounted on a sidecar takes what the admin listener takes.
constexpr size_t kMaxAdminBody = 1 << 20;

void onHeaderTimeoutCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<ForwardSession*>(arg)->onHeaderTimeout();
}

void onBodyTimeoutCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<ForwardSession*>(arg)->onBodyTimeout();
}

}  // namespace

void onDownReadTrampoline(bufferevent*, void* arg) noexcept {
  static_cast<ForwardSession*>(arg)->onDownstreamRead();
}
void onDownWriteTrampoline(bufferevent*, void* arg) noexcept {
  static_cast<ForwardSession*>(arg)->onDownstreamWrite();
}
void onDownEventTrampoline(bufferevent*, short what, void* arg) noexcept {
  static_cast<ForwardSession*>(arg)->onDownstreamEvent(what);
}

void startForwardSession(Worker& worker, const ListenerConfig& listener, UniqueFd fd,
                         std::string peer) {
  auto session = std::make_unique<ForwardSession>(worker, listener, std::move(fd), std::move(peer));
  auto* raw = session.get();
  worker.adopt(std::move(session));
  raw->start();
}

ForwardSession::ForwardSession(Worker& worker, const ListenerConfig& listener, UniqueFd fd,
                               std::string peer)
    : worker_(worker),
      snapshot_(worker.snapshot()),
      listener_(&listener),
      fd_(std::move(fd)) {
  for (const ListenerConfig& l : snapshot_->config.listeners) {
    if (l.name == listener.name && l.type == listener.type) listener_ = &l;
  }
  conn_.listener = listener.name;
  conn_.client = std::move(peer);
  conn_.sidecar = listener.type == ListenerType::Sidecar;
}

ForwardSession::ForwardSession(Worker& worker, const ListenerConfig& listener, StreamPort& port,
                               const DownstreamContext& context, std::string protocol)
    : ForwardSession(worker, listener, UniqueFd(), context.conn.client) {
  conn_ = context.conn;
  intercepting_ = context.intercepting;
  intercept_name_ = context.intercept_name;
  connect_target_ = context.connect_target;
  protocol_ = std::move(protocol);
  protocol_checked_ = true;
  on_stream_ = true;
  port_ = &port;
  counts_as_connection = false;  // the HTTP/2 connection is the one counted
}

Http1Parser& ForwardSession::parser() {
  if (!parser_) {
    parser_ = std::make_unique<Http1Parser>(Http1Parser::Type::Request, *this,
                                            snapshot_->config.limits.max_header_bytes);
  }
  return *parser_;
}

void ForwardSession::startOnStream(RequestHead head, bool whole) {
  stream_in_.ended = whole;
  if (onRequestHead(head) == HeadAction::Stop) {
    stream_in_.stopped = true;  // refused (answered, or closed): the body goes nowhere
    return;
  }
  pumpStream();  // a request without a body is complete now
}

void ForwardSession::streamRequestBody(std::string_view data, bool end) {
  if (end) stream_in_.ended = true;
  if (closed_ || stream_in_.stopped || stream_in_.complete) {
    if (port_ != nullptr) port_->requestTaken(data.size());  // dropped
    return;
  }
  if (!data.empty()) {
    // The usual case hands the codec's bytes straight on; a paused exchange has them queued
    // (bounded by the stream's flow-control window: they are not taken yet).
    if (!stream_in_.paused && stream_in_.body.empty() && !in_parse_) {
      in_parse_ = true;
      deliverStreamBody(data.data(), data.size());
      in_parse_ = false;
    } else {
      stream_in_.body.append(data);
    }
  }
  pumpStream();
}

void ForwardSession::deliverStreamBody(const char* data, size_t len) {
  const FlowAction action = onBody(data, len);
  if (port_ != nullptr) port_->requestTaken(len);
  if (action == FlowAction::Pause) stream_in_.paused = true;
}

void ForwardSession::pumpStream() {
  if (closed_ || in_parse_) return;
  in_parse_ = true;
  while (!closed_ && !stream_in_.stopped && !stream_in_.paused && !stream_in_.complete) {
    if (!stream_in_.body.empty()) {
      Buffer chunk;
      chunk.moveFrom(stream_in_.body);
      const std::string_view bytes = chunk.view();
      deliverStreamBody(bytes.data(), bytes.size());
      continue;
    }
    if (!stream_in_.ended) break;
    stream_in_.complete = true;
    Headers trailers;  // a request's trailers are not forwarded (as for HTTP/1.1 clients)
    (void)onMessageComplete(trailers);
  }
  in_parse_ = false;
  if (closed_) return;
  if (ex_ && ex_->upstream) flushNow(ex_->upstream->bev.get());  // the request bytes just taken
  downstream_reading_ = !stream_in_.paused;
  updateBodyTimer();
  updateUpstreamTimeout();
}

bool ForwardSession::requestPaused() const {
  if (on_stream_) return stream_in_.paused;
  return parser_ != nullptr && parser_->state() == Http1ParserState::Paused;
}

void ForwardSession::resumeRequest() {
  if (on_stream_) {
    stream_in_.paused = false;
    pumpStream();
    return;
  }
  parser().resume();
  parseDownstream();  // turns reading back on
}

bool ForwardSession::requestBodyPending() const {
  if (on_stream_) return !stream_in_.complete && !stream_in_.stopped;
  return parser_ != nullptr && parser_->inBody() &&
         parser_->state() != Http1ParserState::Stopped;
}

bool ForwardSession::requestInProgress() const {
  return on_stream_ ? !stream_in_.complete && !stream_in_.stopped
                    : parsingMessage();
}

void ForwardSession::cancelHeaderTimer() {
  if (header_timer_) evtimer_del(header_timer_.get());
}

ForwardSession::~ForwardSession() {
  *alive_ = false;
  if (port_ != nullptr) port_->exchangeEnded();  // torn down without closing (worker exit)
  if (ex_ && ex_->filters) ex_->filters->complete(ex_->info);
  if (tunnel_) {  // the reporter's tunnel event reads these in onConnectionClose
    conn_.tunnel_ended = std::chrono::steady_clock::now();
    conn_.tunnel_bytes_up = tunnel_->bytesUp();
    conn_.tunnel_bytes_down = tunnel_->bytesDown();
  }
  if (conn_filters_) conn_filters_->close(conn_);
  // An intercepted client gets what is still queued and a close_notify, not a bare TCP close.
  if (down_ && tlsSession(down_.get()) != nullptr) closeTlsGracefully(std::move(down_), 2000);
}

void ForwardSession::start() {
  down_.reset(bufferevent_socket_new(worker_.base(), fd_.get(), 0));
  if (!down_) {
    closeSession();
    return;
  }
  readInLargeChunks(down_.get());
  startReadingDownstream();
}

// The client side of a socket or of an HTTP/2 stream's pair end alike: callbacks, the read
// bound, and the first request head's deadline.
void ForwardSession::startReadingDownstream() {
  bufferevent_setcb(down_.get(), onDownReadTrampoline, onDownWriteTrampoline,
                    onDownEventTrampoline, this);
  // Bounds what a client can queue ahead of the request being served (pipelining): libevent
  // stops reading above it until the parser drains the input.
  bufferevent_setwatermark(down_.get(), EV_READ, 0,
                           snapshot_->config.limits.max_header_bytes + kHighWater);
  // EV_WRITE only while flushNow() needs help (a new bufferevent starts with it on).
  bufferevent_disable(down_.get(), EV_WRITE);
  bufferevent_enable(down_.get(), EV_READ);
  downstream_reading_ = true;
  header_timer_.reset(evtimer_new(worker_.base(), onHeaderTimeoutCb, this));
  armHeaderTimer(snapshot_->config.limits.header_timeout_ms);
}

void ForwardSession::armHeaderTimer(uint32_t ms) {
  if (ms == 0 || !header_timer_) return;
  timeval tv = millisToTimeval(ms);
  evtimer_add(header_timer_.get(), &tv);
}

void ForwardSession::drain() {
  draining_ = true;
  if (tunnel_) return;  // tunnels run until they end or the drain deadline
  if (!ex_ && !tunnel_connect_ && !admin_request_ && !requestInProgress()) {
    closeSession();  // idle keep-alive connection
    return;
  }
  close_after_response_ = true;
}

void ForwardSession::closeSession() {
  if (closed_) return;
  closed_ = true;
  // An HTTP/2 stream's exchange: the stream learns it is over (and is reset unless the answer
  // was whole).
  if (port_ != nullptr) {
    StreamPort* port = port_;
    port_ = nullptr;
    port->exchangeEnded();
  }
  cancelHeaderTimer();
  if (body_timer_) evtimer_del(body_timer_.get());
  if (ex_) {
    if (ex_->filters) ex_->filters->complete(ex_->info);
    ex_->filters.reset();
    ex_->connecting.reset();
    if (ex_->upstream) ex_->upstream.reset();  // an unfinished exchange: never pooled
    ex_->h2.reset();  // its stream is cancelled
  }
  tunnel_connect_.reset();
  if (down_) bufferevent_disable(down_.get(), EV_READ | EV_WRITE);
  worker_.release(this);  // destroyed on the next loop turn
}

// ---- downstream reading ----------------------------------------------------------------------

void ForwardSession::onDownstreamRead() {
  if (closed_) return;
  if (peeking_) {
    runPeek(/*no_more_data=*/false);
    return;
  }
  if (!protocol_checked_ && takeHttp2()) return;
  if (waiting_for_head_ && !head_deadline_armed_ && !parsingMessage() &&
      ex_ == nullptr) {
    // First byte of a new request on a kept-alive connection: the header deadline starts now
    // (once: a client sending empty lines does not restart it).
    head_deadline_armed_ = true;
    armHeaderTimer(snapshot_->config.limits.header_timeout_ms);
  }
  parseDownstream();
}

void ForwardSession::parseDownstream() {
  if (on_stream_) {
    pumpStream();
    return;
  }
  if (closed_ || in_parse_) return;
  Http1Parser& parser = this->parser();
  for (;;) {
    in_parse_ = true;
    auto fed = feedFromBuffer(parser, bufferevent_get_input(down_.get()));
    if (!fed.ok()) {
      MetricsShard::bump(worker_.metrics().bad_requests);
      in_parse_ = false;
      sendErrorAndClose(parser.errorStatus(), fed.error().code, fed.error().message);
      return;
    }
    in_parse_ = false;
    if (closed_) return;
    if (ex_ && ex_->upstream) flushNow(ex_->upstream->bev.get());  // the request bytes just parsed
    // After a CONNECT head (or a refusal) the parser stopped: reading is the CONNECT path's
    // business from here (off while connecting, on while peeking).
    if (parser.state() == Http1ParserState::Stopped) return;
    // An exchange answered from inside the parse (a sidecar block, kept alive) is already over:
    // the next pipelined request is read now, not on the next readable event.
    if (ex_ || admin_request_ || close_after_response_ ||
        parser.state() != Http1ParserState::Paused) {
      break;
    }
    parser.resume();
  }
  // Reading stays on between requests (a pipelined request just waits in the input buffer,
  // bounded by the read high-water mark) — toggling it per request costs two epoll_ctl calls.
  // It goes off only while a request body is backed up toward the origin; onUpstreamWrite
  // turns it on again.
  setDownstreamReading(!(ex_ && upstreamBackedUp()));
  updateBodyTimer();
  updateUpstreamTimeout();  // the body backed up toward the origin: its silence counts
}

// A request body that stops arriving would hold the connection (and, once a filter holds the
// request, nothing upstream would ever time it out): body_timeout_ms bounds the silence between
// two reads of it, as nginx's client_body_timeout. It pauses while reading is off because the
// origin is not taking the body (not the client's fault). Requests whose body arrives with the
// head cost nothing here: the timer is made the first time a body is still incomplete.
void ForwardSession::updateBodyTimer() {
  const bool want = !closed_ && downstream_reading_ && requestBodyPending() &&
                    ((ex_ && !ex_->request_complete && !ex_->failed) || admin_request_);
  if (!want) {
    if (body_timer_armed_) evtimer_del(body_timer_.get());
    body_timer_armed_ = false;
    return;
  }
  const uint32_t ms = snapshot_->config.limits.body_timeout_ms;
  if (ms == 0) return;
  if (!body_timer_) body_timer_.reset(evtimer_new(worker_.base(), onBodyTimeoutCb, this));
  timeval tv = millisToTimeval(ms);
  evtimer_add(body_timer_.get(), &tv);
  body_timer_armed_ = true;
}

void ForwardSession::onBodyTimeout() {
  body_timer_armed_ = false;
  if (closed_ || !downstream_reading_ || !requestBodyPending()) return;
  if (ex_ && (ex_->request_complete || ex_->failed)) return;
  if (!ex_ && !admin_request_) return;
  log::info("request body timeout", {{"client", conn_.client}});
  admin_request_.reset();
  if (ex_ && ex_->response_started) {  // part of the answer went out: only a close is left
    MetricsShard::bump(worker_.metrics().errors);
    closeSession();
    return;
  }
  sendErrorAndClose(408, "body_timeout", "the request body stopped arriving (body_timeout_ms)");
}

// A client that takes none of the bytes waiting for it for send_timeout_ms is cut off, as
// nginx's send_timeout: libevent's write timeout on the socket runs only while EV_WRITE is on,
// which flushNow() asks for only when the socket could not take everything, and restarts at each
// write the client makes room for. An intercepted (TLS) client's bytes wait as ciphertext on the
// socket under the TLS layer, which turns EV_WRITE on there the same way (only when the kernel
// pushes back) and passes the socket's timeout on as an event of the TLS bufferevent. An HTTP/2
// stream's pair is flow-controlled by its connection (h2_downstream.h resets stalled streams).
void ForwardSession::setSendTimeout(bool on) {
  if (on == send_timeout_set_ || !down_ || on_stream_) return;
  bufferevent* socket = down_.get();
  if (bufferevent_get_underlying(down_.get()) != nullptr) {
    if (tlsSession(down_.get()) == nullptr) return;  // no other layering exists
    socket = bufferevent_get_underlying(down_.get());
  }
  const uint32_t ms = snapshot_->config.limits.send_timeout_ms;
  if (on && ms == 0) return;
  timeval tv = millisToTimeval(ms);
  bufferevent_set_timeouts(socket, nullptr, on ? &tv : nullptr);
  send_timeout_set_ = on;
}

void ForwardSession::setDownstreamReading(bool on) {
  if (on == downstream_reading_) return;
  downstream_reading_ = on;
  if (on_stream_) return;  // a stream's request is paused by the exchange (stream_in_)
  if (on) {
    bufferevent_enable(down_.get(), EV_READ);
  } else {
    bufferevent_disable(down_.get(), EV_READ);
  }
}

void ForwardSession::onDownstreamEvent(short what) {
  if (closed_) return;
  if (what & BEV_EVENT_CONNECTED) {  // the intercepted client's TLS handshake is done
    if (!protocol_checked_) takeHttp2();
    return;
  }
  if ((what & BEV_EVENT_ERROR) && intercepting_) {
    if (const TlsSession* tls = tlsSession(down_.get()); tls && tls->failure()) {
      log::info("client TLS failed", {{"client", conn_.client},
                                      {"host", intercept_name_},
                                      {"error", tls->failure()->message}});
    }
  }
  if ((what & BEV_EVENT_EOF) && peeking_) {  // the client sent all it will: decide on that
    runPeek(/*no_more_data=*/true);
    return;
  }
  if (what & BEV_EVENT_EOF) {
    // The client is done sending. An exchange whose request is whole can still be answered
    // (HTTP/1.0-style half-close); anything else ends here.
    if (ex_ && ex_->request_complete && !ex_->response_complete) {
      close_after_response_ = true;
      setDownstreamReading(false);
      return;
    }
    if (parsingMessage() && !ex_) {
      MetricsShard::bump(worker_.metrics().bad_requests);
    }
  }
  if (what & BEV_EVENT_TIMEOUT) {  // send_timeout_ms: the client stopped reading
    MetricsShard::bump(worker_.metrics().errors);
    log::info("client send timeout", {{"client", conn_.client}});
    // A TLS client would get the usual graceful close (up to 2 s to flush what it does not
    // read): closed now instead. Safe here: the TLS bufferevent's callbacks are deferred.
    if (down_ && tlsSession(down_.get()) != nullptr) closeTlsGracefully(std::move(down_), 0);
  }
  closeSession();  // EOF, error, reset or timeout
}

void ForwardSession::onHeaderTimeout() {
  if (closed_) return;
  if (peeking_) {  // the peek deadline: the filters decide with what arrived
    runPeek(/*no_more_data=*/true);
    return;
  }
  if (ex_ || tunnel_ || tunnel_connect_) return;
  if (!parsingMessage() && !waiting_for_head_) return;
  MetricsShard::bump(worker_.metrics().header_timeouts);
  if (parsingMessage()) {
    log::info("request header timeout", {{"client", conn_.client}});
    sendErrorAndClose(408, "header_timeout", "the request head did not arrive in time");
  } else {
    closeSession();  // idle keep-alive connection: close quietly
  }
}

// ---- downstream writing ----------------------------------------------------------------------

void ForwardSession::flushDownstream() {
  if (closed_) return;
  if (on_stream_) {
    // The stream's connection writes once per loop pass; an answer handed to it whole is done
    // with here (the codec holds what the client has not taken yet).
    if (close_after_response_ && !ex_ && !admin_in_flight_) {
      closeSession();
    } else if (port_ != nullptr && !port_->answerBackedUp()) {
      onStreamDrained();
    }
    return;
  }
  if (!down_) return;
  flushNow(down_.get());
  if (evbuffer_get_length(bufferevent_get_output(down_.get())) == 0) onDownstreamWrite();
}

void ForwardSession::onDownstreamWrite() {
  if (closed_) return;
  stopWritingIfDrained(down_.get());
  if (close_after_response_ && !ex_ && !tunnel_connect_ &&
      evbuffer_get_length(bufferevent_get_output(down_.get())) == 0) {
    closeSession();
    return;
  }
  onStreamDrained();
}

// The client caught up (its socket, or its HTTP/2 stream): let the origin's bytes flow again.
void ForwardSession::onStreamDrained() {
  if (closed_) return;
  if (ex_ && ex_->h2 && ex_->h2->paused() && !downstreamBackedUp()) {
    ex_->h2->resume();
    parseUpstream();
    return;
  }
  if (ex_ && ex_->upstream && ex_->response_parser &&
      ex_->response_parser->state() == Http1ParserState::Paused && !downstreamBackedUp()) {
    ex_->response_parser->resume();
    bufferevent_enable(ex_->upstream->bev.get(), EV_READ);
    parseUpstream();
  }
}

bool ForwardSession::downstreamBackedUp() const {
  if (on_stream_) return port_ != nullptr && port_->answerBackedUp();
  return evbuffer_get_length(bufferevent_get_output(down_.get())) >= kHighWater;
}

void ForwardSession::writeLocalResponse(uint16_t status, std::string_view body,
                                        const Headers& extra, bool close) {
  if (!on_stream_) {
    Buffer out;
    writeJsonResponse(out, status, body, extra, close);
    bufferevent_write_buffer(down_.get(), out.raw());
    return;
  }
  if (port_ == nullptr) return;
  // What writeJsonResponse writes, as a head the stream's codec frames.
  ResponseHead head;
  head.status = status >= 100 && status <= 599 ? status : 500;
  bool has_type = false;
  for (const auto& f : extra.fields()) {
    if (equalsIgnoreCase(f.name, "content-length") ||
        equalsIgnoreCase(f.name, "transfer-encoding") || equalsIgnoreCase(f.name, "connection")) {
      continue;
    }
    if (!isValidFieldName(f.name) || !isValidFieldValue(f.value)) continue;
    has_type = has_type || equalsIgnoreCase(f.name, "content-type");
    head.headers.add(f.name, f.value);
  }
  if (!has_type) head.headers.add("content-type", "application/json");
  head.framing = BodyFraming::ContentLength;
  head.content_length = body.size();
  port_->answerHead(head, body.empty());
  if (body.empty()) return;
  Buffer bytes;
  bytes.append(body);
  port_->answerBody(bytes);
  port_->answerEnd(nullptr);
}

void ForwardSession::sendErrorAndClose(uint16_t status, std::string_view code,
                                       std::string_view message) {
  if (closed_) return;
  std::string body;
  if (ex_ && ex_->sidecar.kind == SidecarKind::Tool) {
    body = "{\"error\":\"";
    appendJsonEscaped(body, code);
    body += "\",\"message\":\"";
    appendJsonEscaped(body, message);
    body += "\",\"status\":\"error\"," + toolReplyFields() + "}";
  } else {
    body = jsonError(code, message);
  }
  writeLocalResponse(status, body, Headers(), /*close=*/true);
  close_after_response_ = true;
  if (ex_) {
    ex_->info.status = status;
    ex_->info.error = std::string(code);
    MetricsShard::bump(worker_.metrics().errors);
    ex_->failed = true;
    finishExchange();
  }
  // No more requests are read: the parser stopped (or paused) in the callback that got us here,
  // and reading is off for good.
  setDownstreamReading(false);
  waiting_for_head_ = false;
  cancelHeaderTimer();
  flushDownstream();  // closes at once when everything went out
}

void ForwardSession::sendBlocked(const Verdict& v) {
  uint16_t status = v.status != 0 ? v.status : 403;
  const bool rate_limited = status == 429;
  MetricsShard::bump(rate_limited ? worker_.metrics().rate_limited : worker_.metrics().blocked);
  if (ex_) ex_->info.verdict = v;
  std::string body;
  // A rule's block of an AI API call answers in that provider's error shape, so the app's SDK
  // raises its usual error and shows the reason (SPEC §6); MCP gets a JSON-RPC error, which is
  // an HTTP 200, for a rate limit as well; a sidecar tool call gets the sidecar's own reply.
  const ai::Provider provider = ex_ ? ex_->info.endpoint.provider : ai::Provider::None;
  const auto* facts = ex_ ? ex_->info.request_facts.get() : nullptr;
  const bool json_rpc = provider == ai::Provider::Mcp && facts != nullptr;
  if (ex_ && ex_->sidecar.kind == SidecarKind::Tool) {
    body = rate_limited ? "{\"error\":\"rate_limited\",\"reason\":\""
                        : "{\"error\":\"blocked\",\"reason\":\"";
    appendJsonEscaped(body, v.reason);
    body += "\",\"rule\":";
    if (ex_->info.rule.empty() || rate_limited) {
      body += "null";
    } else {
      body += '"';
      appendJsonEscaped(body, ex_->info.rule);
      body += '"';
    }
    if (rate_limited) body += ",\"retry_after\":" + std::to_string(v.retry_after_s);
    body += "," + toolReplyFields() + "}";
  } else if (ex_ && (json_rpc || (!ex_->info.rule.empty() && provider != ai::Provider::None))) {
    body = ai::blockedBody(provider, v.reason, rate_limited ? "" : ex_->info.rule,
                           facts != nullptr ? std::string_view(facts->jsonrpc_id) : "");
    if (provider == ai::Provider::Mcp) status = 200;
  } else {
    body = jsonError(status == 413 ? "body_too_large" : rate_limited ? "rate_limited" : "blocked",
                     v.reason);
  }
  Headers extra;
  extra.add("x-aiwarden-decision", rate_limited ? "rate_limited" : "blocked");
  if (rate_limited && v.retry_after_s != 0) {
    extra.add("Retry-After", std::to_string(v.retry_after_s));
  }
  // An agent's refused call was read whole and nothing of it went upstream: its connection
  // stays usable (agents make many calls). Elsewhere the refusal ends the connection.
  const bool keep_alive = ex_ && ex_->sidecar.kind != SidecarKind::None &&
                          ex_->request_complete && !ex_->upstream_head_sent &&
                          !close_after_response_ && !draining_;
  writeLocalResponse(status, body, extra, /*close=*/!keep_alive);
  if (!keep_alive) close_after_response_ = true;
  if (ex_) {
    ex_->info.status = status;
    ex_->info.bytes_out += body.size();
    finishExchange();
  }
  if (keep_alive) return;
  setDownstreamReading(false);
  flushDownstream();
}

// A filter blocked the response after its head went out. A stream of events ends with the
// provider's error event (the SDK reports it); then the body is closed as its framing allows and
// the connection goes: the client must not take a cut answer for a whole one.
void ForwardSession::cutResponse(const Verdict& v) {
  Exchange& ex = *ex_;
  MetricsShard::bump(worker_.metrics().blocked);
  ex.info.verdict = v;
  releaseUpstream(false);
  if (ex.info.response_is_sse) {
    const auto* facts = ex.info.request_facts.get();
    Buffer event;
    event.append(ai::blockedStreamEvent(ex.info.endpoint.provider, v.reason, ex.info.rule,
                                        facts != nullptr ? std::string_view(facts->jsonrpc_id)
                                                         : ""));
    writeDownstreamBody(event);
  }
  if (ex.downstream_framing == BodyFraming::Chunked && ex.info.response_is_sse) {
    if (on_stream_) {
      if (port_ != nullptr) port_->answerEnd(nullptr);
    } else {
      Buffer end;
      appendLastChunk(end);
      bufferevent_write_buffer(down_.get(), end.raw());
    }
  }
  close_after_response_ = true;
  finishExchange();
  setDownstreamReading(false);
  flushDownstream();
}

void ForwardSession::writeDownstreamBody(Buffer& chunk) {
  if (chunk.empty()) return;
  ex_->info.bytes_out += chunk.size();
  if (on_stream_) {
    if (port_ != nullptr) port_->answerBody(chunk);
    return;
  }
  evbuffer* out = bufferevent_get_output(down_.get());
  if (ex_->downstream_framing == BodyFraming::Chunked) {
    Buffer framed;
    appendChunk(framed, chunk);
    evbuffer_add_buffer(out, framed.raw());
  } else {
    evbuffer_add_buffer(out, chunk.raw());
  }
}

// ---- request parser events -------------------------------------------------------------------

HeadAction ForwardSession::onRequestHead(RequestHead& head) {
  cancelHeaderTimer();
  waiting_for_head_ = false;
  head_deadline_armed_ = false;
  if (head.isConnect()) {
    setSendTimeout(false);  // the socket may become a tunnel's or the TLS layer's
    beginConnect(head);
    return HeadAction::Stop;
  }
  if (!send_timeout_set_) setSendTimeout(true);
  beginExchange(head);
  return ex_ || admin_request_ ? HeadAction::Continue : HeadAction::Stop;
}

void ForwardSession::beginExchange(RequestHead& head) {
  if (conn_.sidecar) {
    beginSidecarExchange(head);
    return;
  }
  if (intercepting_) {
    AbsoluteUrl target;
    if (!interceptedTarget(head, target)) return;
    startExchange(head, std::move(target));
    ex_->tls_name = intercept_name_;
    ex_->connect_host = connect_target_.host;
    ex_->connect_port = connect_target_.port;
    ex_->pool_key = interceptPoolKey();
    prepareExchange();
    return;
  }
  auto url = parseAbsoluteUrl(head.target);
  if (!url.ok()) {
    if (!head.target.empty() && head.target[0] == '/') {
      sendErrorAndClose(400, "not_a_proxy_request",
                        "this is a forward proxy: send an absolute URL (GET http://host/path) "
                        "or CONNECT host:port");
    } else {
      sendErrorAndClose(400, "bad_url", url.error().message);
    }
    return;
  }
  if (url->scheme != "http") {
    sendErrorAndClose(501, "unsupported_scheme",
                      "absolute-form " + url->scheme + ":// requests are not proxied; use "
                      "CONNECT for https");
    return;
  }
  startExchange(head, std::move(url.value()));
  ex_->connect_host = ex_->url.authority.host;
  ex_->connect_port = ex_->url.authority.port;
  ex_->pool_key = ex_->url.scheme + "://" + ex_->url.authority.hostPort();
  prepareExchange();
}

namespace {
// Freed exchanges a thread keeps for its next ones. Worker threads end their connections (and so
// their exchanges) before they return; an exchange freed on a thread whose cache is already torn
// down goes straight back to the heap.
struct ExchangeCache {
  static constexpr size_t kKept = 8;
  static constexpr size_t kTornDown = kKept + 1;  // after the thread's exit: plain new/delete
  void* blocks[kKept];
  size_t count = 0;
  bool usable() const { return count <= kKept; }
  ~ExchangeCache() {
    while (count > 0) ::operator delete(blocks[--count]);
    count = kTornDown;
  }
};
thread_local ExchangeCache exchange_cache;
}  // namespace

void* Exchange::operator new(std::size_t size) {
  ExchangeCache& cache = exchange_cache;
  if (size == sizeof(Exchange) && cache.usable() && cache.count > 0) {
    return cache.blocks[--cache.count];
  }
  return ::operator new(size);
}

void Exchange::operator delete(void* block, std::size_t size) noexcept {
  ExchangeCache& cache = exchange_cache;
  if (size == sizeof(Exchange) && cache.count < ExchangeCache::kKept) {
    cache.blocks[cache.count++] = block;
    return;
  }
  ::operator delete(block);
}

// The exchange's facts, from the request head and its target.
void ForwardSession::startExchange(RequestHead& head, AbsoluteUrl url) {
  ex_ = std::make_unique<Exchange>(*this);
  Exchange& ex = *ex_;
  ex.info.connection = &conn_;
  ex.info.id = worker_.runtime().next_stream_id.fetch_add(1, std::memory_order_relaxed);
  ex.info.started = std::chrono::steady_clock::now();
  ex.info.method = head.method;
  ex.info.scheme = url.scheme;
  ex.info.authority = url.authority.hostPort();
  ex.info.host = url.authority.host;
  ex.info.path = url.path;
  // Intercepted traffic is inspected; plain HTTP is, when domain_classifier's request phase
  // says the host would be intercepted.
  ex.info.inspect = intercepting_;
  ex.info.traffic_class = conn_.traffic_class;
  ex.info.protocol = !protocol_.empty()          ? protocol_
                     : head.version_minor == 0 ? "HTTP/1.0"
                                               : "HTTP/1.1";
  ex.url = std::move(url);
  ex.head_request = head.method == "HEAD";
  ex.request = std::move(head);
  if (!intercepting_) {
    conn_.target_host = ex.url.authority.host;
    conn_.target_port = ex.url.authority.port;
  }
}

// Rewrites the request for the origin, runs the request-header filters, and gets an upstream
// connection unless a filter holds the request.
void ForwardSession::prepareExchange() {
  Exchange& ex = *ex_;

  // What goes upstream: origin-form target, Host from the URL (RFC 9112 §3.2.2), no hop-by-hop
  // fields, our Via. The body keeps its framing (chunks are re-encoded as they pass).
  RequestHead& rq = ex.request;
  if (!ex.request.keep_alive || draining_) close_after_response_ = true;
  removeHopByHopHeaders(rq.headers);
  rq.headers.remove("x-proxy-token");  // the admin secret never leaves the machine
  rq.headers.set("Host", ex.url.hostHeader());
  addVia(rq.headers, rq.version_minor == 0 ? "1.0" : "1.1", "aiwarden");
  rq.target = ex.url.path;
  ex.upstream_framing = rq.framing;

  if (snapshot_->chain && !snapshot_->chain->empty()) {
    const auto& c = snapshot_->config;
    ex.filters = std::make_unique<StreamFilterChain>(snapshot_->chain, c.limits.max_inspect_body_bytes,
                                                     c.fail_mode);
    if (ex.filters->empty()) ex.filters.reset();
  }
  if (ex.sidecar.collecting_request) {  // the filters run once the envelope is whole
    ex.request_held = true;
    if (!rq.hasBody()) ex.request_complete = true;
    return;
  }
  if (ex.filters) {
    Verdict v = ex.filters->requestHeaders(ex.info, rq.headers, !rq.hasBody());
    if (v.action == Action::Block) {
      sendBlocked(v);
      return;
    }
    ex.request_held = v.action == Action::NeedMoreData;
  }
  if (!rq.hasBody()) ex.request_complete = true;
  if (!ex.request_held) acquireUpstream();
}

FlowAction ForwardSession::onBody(const char* data, size_t len) {
  if (admin_request_) {
    if (admin_request_->body.size() + len > kMaxAdminBody) {
      admin_request_.reset();
      sendErrorAndClose(413, "body_too_large", "admin request bodies are limited to 1 MiB");
      return FlowAction::Pause;
    }
    admin_request_->body.append(data, len);
    return FlowAction::Continue;
  }
  if (!ex_ || ex_->failed) return FlowAction::Continue;
  if (ex_->sidecar.collecting_request) {
    collectToolRequest(data, len);
    return closed_ || !ex_ ? FlowAction::Pause : FlowAction::Continue;
  }
  ex_->info.bytes_in += len;
  scratch_.clear();
  scratch_.append(data, len);
  forwardRequestBody(scratch_);
  if (closed_ || !ex_) return FlowAction::Pause;
  return upstreamBackedUp() ? FlowAction::Pause : FlowAction::Continue;
}

void ForwardSession::forwardRequestBody(Buffer& chunk) {
  Exchange& ex = *ex_;
  if (ex.filters) {
    Verdict v = ex.filters->requestBody(ex.info, chunk, false);
    if (v.action == Action::Block) {
      sendBlocked(v);
      return;
    }
    if (v.action == Action::NeedMoreData) return;  // the chain keeps the bytes
    if (ex.request_held) {
      // Released before the body ended (a Bypass, or fail_mode open past the inspection limit):
      // only part of the body is here, so the request keeps the framing the client gave it.
      releaseHeldRequest(chunk, /*whole_body=*/false);
      return;
    }
  }
  writeUpstreamBody(chunk);
}

// A filter held the request head until it had seen the body. When the (possibly rewritten)
// body is whole, it goes upstream with an exact Content-Length; released earlier, the head
// keeps the client's framing and the rest of the body streams after it.
void ForwardSession::releaseHeldRequest(Buffer& body, bool whole_body) {
  Exchange& ex = *ex_;
  ex.request_held = false;
  if (whole_body) {
    ex.request.framing = BodyFraming::ContentLength;
    ex.request.content_length = body.size();
    ex.upstream_framing = BodyFraming::ContentLength;
    ex.replayable = body.size() <= Exchange::kReplayLimit;
  }
  ex.pending_body.moveFrom(body);
  acquireUpstream();
}

FlowAction ForwardSession::onMessageComplete(Headers& /*trailers*/) {
  if (admin_request_) {
    submitAdminRequest();
    return FlowAction::Pause;
  }
  if (ex_ && !ex_->failed) {
    ex_->request_complete = true;
    requestBodyDone();
  }
  // Hold any pipelined request until this exchange is over.
  return FlowAction::Pause;
}

void ForwardSession::requestBodyDone() {
  Exchange& ex = *ex_;
  if (ex.sidecar.collecting_request) {
    finishToolRequest();
    return;
  }
  if (ex.filters && ex.request.hasBody()) {
    Buffer last;
    Verdict v = ex.filters->requestBody(ex.info, last, true);
    if (v.action == Action::Block) {
      sendBlocked(v);
      return;
    }
    if (ex.request_held) {
      releaseHeldRequest(last, /*whole_body=*/true);
    } else {
      writeUpstreamBody(last);
    }
  }
  if (ex_ && !closed_) writeUpstreamEnd();
}

// ---- the end of an exchange ------------------------------------------------------------------

void ForwardSession::finishExchange() {
  if (!ex_) return;
  Exchange& ex = *ex_;
  ex.info.finished = std::chrono::steady_clock::now();
  // Counted, and in the session timeline, before the client has the answer: a client that reads
  // the metrics or its session right after a call finds the call there.
  if (ex.sidecar.kind != SidecarKind::None) recordSidecarCall();
  auto& m = worker_.metrics();
  MetricsShard::bump(m.calls);
  if (ex.info.rule_outcome == RuleOutcome::Modify) MetricsShard::bump(m.modified);
  m.recordLatency(std::chrono::duration_cast<std::chrono::microseconds>(ex.info.finished -
                                                                       ex.info.started));
  flushDownstream();  // the response's last bytes go out before anything else happens
  if (closed_ || !ex_) return;
  if (ex.filters) ex.filters->complete(ex.info);
  // Whatever is left of the upstream side is torn down on the next loop turn via ex_'s
  // destruction here: safe, since no parser of this exchange is on the stack when we get here
  // (callers come from upstream event handlers after feed() returned, or from inside the
  // downstream parse, whose parser belongs to the session, not to the exchange).
  ex_.reset();
  waiting_for_head_ = true;
  if (close_after_response_ || draining_) {
    close_after_response_ = true;
    flushDownstream();
    return;
  }
  armHeaderTimer(snapshot_->config.upstream.idle_timeout_ms);
  if (parser_) parser_->resume();
  parseDownstream();  // a pipelined request may already be buffered; turns reading back on
}

}  // namespace aiw
