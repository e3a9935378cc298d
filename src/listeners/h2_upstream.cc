// H2Upstream: one multiplexed HTTP/2 connection to an origin, its exchanges attached through
// channels (bufferevent pairs carrying HTTP/1.1); H2UpstreamPool: a worker's connections, the
// handshake probes, and the exchanges waiting for them. See h2_upstream.h.
#include "listeners/h2_upstream.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <unordered_map>

#include "core/log.h"
#include "http/http1_feed.h"
#include "http/http1_parser.h"
#include "http/http1_writer.h"
#include "http/http2_client_session.h"
#include "http/http2_translate.h"
#include "listeners/h2_bridge.h"
#include "tls/tls_transport.h"
#include "upstream/write_now.h"

namespace aiw {

namespace {

// Request body bytes queued in the codec for one stream before its exchange is left to wait.
constexpr size_t kStreamHighWater = 256 * 1024;
// Frames queued toward the origin before the codec is left holding the rest.
constexpr size_t kConnectionHighWater = 1 << 20;
// How long an h2 connection with no channel stays open for the next exchange.
constexpr uint32_t kIdleMs = 60000;

void onChannelReadCb(bufferevent*, void* arg) noexcept;
void onChannelWriteCb(bufferevent*, void* arg) noexcept;
void onChannelEventCb(bufferevent*, short what, void* arg) noexcept;
void onTlsReadCb(bufferevent*, void* arg) noexcept;
void onTlsWriteCb(bufferevent*, void* arg) noexcept;
void onTlsEventCb(bufferevent*, short what, void* arg) noexcept;
void onWakeCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<H2UpstreamPool*>(arg)->runWaiters();
}

}  // namespace

// One exchange's attachment: the HTTP/1.1 request it writes becomes a stream; the stream's
// answer is written back as HTTP/1.1.
struct UpstreamChannel final : public Http1ParserCallbacks {
  UpstreamChannel(H2Upstream& c, size_t max_header_bytes)
      : conn(c), request(Http1Parser::Type::Request, *this, max_header_bytes) {}
  ~UpstreamChannel() override {
    if (end) bufferevent_setcb(end.get(), nullptr, nullptr, nullptr, nullptr);
  }

  HeadAction onRequestHead(RequestHead& head) override;
  FlowAction onBody(const char* data, size_t len) override;
  FlowAction onMessageComplete(Headers& trailers) override;

  H2Upstream& conn;
  BufferEventPtr end;  // ours; the exchange holds the partner (its "upstream connection")
  Http1Parser request;
  int32_t stream = 0;  // the request's stream while it is open
  bool request_has_body = false;
  bool head_request = false;
  BodyFraming response_framing = BodyFraming::None;
  bool response_done = false;
  bool paused = false;         // the codec holds kStreamHighWater of this request's body
  size_t pending_consume = 0;  // answer bytes written to the pair, not yet consumed()
  // Where this channel sits in its connection's list: removed in O(1) (a connection carries
  // hundreds of exchanges at once).
  std::list<std::unique_ptr<UpstreamChannel>>::iterator self;
};

class H2Upstream final : public Http2ClientHandler {
 public:
  H2Upstream(H2UpstreamPool& pool, std::string key, BufferEventPtr tls, size_t max_header_bytes)
      : pool_(pool),
        key_(std::move(key)),
        tls_(std::move(tls)),
        max_header_bytes_(max_header_bytes),
        flush_later_(bufferevent_get_base(tls_.get()),
                     [](void* self) { static_cast<H2Upstream*>(self)->flush(); }, this) {}
  ~H2Upstream() override {
    channels_.clear();
    if (tls_) bufferevent_setcb(tls_.get(), nullptr, nullptr, nullptr, nullptr);
  }

  bool start(event_base* base);
  const std::string& key() const { return key_; }
  // A stream is free for one more channel: every channel without an open stream (its request
  // not submitted yet, or its stream done while the exchange finishes) may still need one.
  bool hasCapacity() const {
    return !closing_ && codec_ && codec_->availableStreams() > channels_.size() - streams_.size();
  }
  std::unique_ptr<PooledConnection> openChannel();
  void close();  // cuts every channel's exchange; the pool destroys this later

  void onTlsRead();
  void onTlsWrite();
  void onTlsEvent(short what);
  void onChannelRead(UpstreamChannel& ch);
  void onChannelWrite(UpstreamChannel& ch);
  void onChannelEvent(UpstreamChannel& ch, short what);

  // Http2ClientHandler (inside receive()/drainOutput()).
  void onResponseHeaders(int32_t stream_id, uint16_t status, Headers& headers,
                         bool end_stream) override;
  void onResponseData(int32_t stream_id, std::string_view data, bool end_stream) override;
  void onResponseTrailers(int32_t stream_id, Headers& trailers) override;
  void onStreamClosed(int32_t stream_id, uint32_t error_code) override;
  void onGoaway(uint32_t error_code, int32_t last_stream_id) override;
  void onDataSent(int32_t stream_id, size_t queued) override;

  Http2ClientSession& codec() { return *codec_; }
  void bindStream(int32_t id, UpstreamChannel* ch) { streams_[id] = ch; }
  void failChannel(UpstreamChannel& ch);
  void flush();

 private:
  UpstreamChannel* byStream(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second;
  }
  void writeToChannel(UpstreamChannel& ch, Buffer& bytes);
  void settleConsumed(UpstreamChannel& ch);
  void parseRequest(UpstreamChannel& ch);
  void removeChannel(UpstreamChannel& ch);

  H2UpstreamPool& pool_;
  std::string key_;
  BufferEventPtr tls_;
  size_t max_header_bytes_;
  LoopEndFlush flush_later_;  // the exchanges of one loop pass share one write
  std::unique_ptr<Http2ClientSession> codec_;
  std::list<std::unique_ptr<UpstreamChannel>> channels_;
  std::unordered_map<int32_t, UpstreamChannel*> streams_;
  std::vector<UpstreamChannel*> resumed_;
  bool in_codec_ = false;
  bool flush_pending_ = false;
  bool closing_ = false;  // GOAWAY or failure: no new channels
  bool closed_ = false;
};

namespace {

void onChannelReadCb(bufferevent*, void* arg) noexcept {
  auto* ch = static_cast<UpstreamChannel*>(arg);
  ch->conn.onChannelRead(*ch);
}
void onChannelWriteCb(bufferevent*, void* arg) noexcept {
  auto* ch = static_cast<UpstreamChannel*>(arg);
  ch->conn.onChannelWrite(*ch);
}
void onChannelEventCb(bufferevent*, short what, void* arg) noexcept {
  auto* ch = static_cast<UpstreamChannel*>(arg);
  ch->conn.onChannelEvent(*ch, what);
}
void onTlsReadCb(bufferevent*, void* arg) noexcept { static_cast<H2Upstream*>(arg)->onTlsRead(); }
void onTlsWriteCb(bufferevent*, void* arg) noexcept {
  static_cast<H2Upstream*>(arg)->onTlsWrite();
}
void onTlsEventCb(bufferevent*, short what, void* arg) noexcept {
  static_cast<H2Upstream*>(arg)->onTlsEvent(what);
}

}  // namespace

// ---- the connection ---------------------------------------------------------------------------

bool H2Upstream::start(event_base*) {
  Http2Options options;
  options.max_header_list_bytes = static_cast<uint32_t>(max_header_bytes_);
  options.stream_window = 256 * 1024;
  auto codec = Http2ClientSession::create(*this, options);
  if (!codec.ok()) return false;
  codec_ = std::move(codec.value());
  bufferevent_setcb(tls_.get(), onTlsReadCb, onTlsWriteCb, onTlsEventCb, this);
  bufferevent_setwatermark(tls_.get(), EV_WRITE, kConnectionHighWater / 2, 0);
  timeval tv{kIdleMs / 1000, 0};
  bufferevent_set_timeouts(tls_.get(), &tv, nullptr);
  bufferevent_enable(tls_.get(), EV_READ | EV_WRITE);
  flush();  // the connection preface and SETTINGS
  onTlsRead();  // anything the origin sent during the handshake
  return !closed_;
}

std::unique_ptr<PooledConnection> H2Upstream::openChannel() {
  bufferevent* pair[2] = {nullptr, nullptr};
  if (bufferevent_pair_new(bufferevent_get_base(tls_.get()), BEV_OPT_DEFER_CALLBACKS, pair) != 0) {
    return nullptr;
  }
  auto ch = std::make_unique<UpstreamChannel>(*this, max_header_bytes_);
  ch->end.reset(pair[0]);
  bufferevent_setcb(pair[0], onChannelReadCb, onChannelWriteCb, onChannelEventCb, ch.get());
  bufferevent_setwatermark(pair[0], EV_READ, 0, kStreamHighWater);
  bufferevent_enable(pair[0], EV_READ | EV_WRITE);
  UpstreamChannel& added = *ch;
  channels_.push_back(std::move(ch));
  added.self = std::prev(channels_.end());
  auto conn = std::make_unique<PooledConnection>();
  conn->key = key_;
  conn->bev.reset(pair[1]);
  conn->channel = true;
  return conn;
}

void H2Upstream::onTlsRead() {
  if (closed_) return;
  evbuffer* in = bufferevent_get_input(tls_.get());
  while (size_t len = evbuffer_get_length(in)) {
    const size_t n = std::min<size_t>(len, 64 * 1024);
    const char* bytes = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(n)));
    in_codec_ = true;
    Result<void> r = codec_->receive(std::string_view(bytes, n));
    in_codec_ = false;
    evbuffer_drain(in, n);
    if (!r.ok()) {
      log::info("HTTP/2 origin failed", {{"origin", key_}, {"error", r.error().message}});
      flush();
      close();
      return;
    }
    if (closed_) return;
  }
  flush_later_.request();
}

void H2Upstream::flush() {
  if (closed_ || !codec_) return;
  if (in_codec_) {
    flush_pending_ = true;
    return;
  }
  for (int round = 0; round < 64 && !closed_; ++round) {
    flush_pending_ = false;
    if (!moveFrames(*codec_, tls_.get(), kConnectionHighWater, in_codec_).ok()) closing_ = true;
    std::vector<UpstreamChannel*> resumed;
    resumed.swap(resumed_);
    for (UpstreamChannel* ch : resumed) parseRequest(*ch);
    if (!flush_pending_ && resumed.empty()) break;
  }
  if (closed_) return;
  flushNow(tls_.get());
  if (codec_->finished() && !closed_) close();
}

void H2Upstream::onTlsWrite() {
  if (closed_) return;
  flush();
}

void H2Upstream::onTlsEvent(short what) {
  if (closed_) return;
  if (what & BEV_EVENT_CONNECTED) return;
  if ((what & BEV_EVENT_TIMEOUT) && !channels_.empty()) {
    bufferevent_enable(tls_.get(), EV_READ);  // idle only counts without an exchange
    return;
  }
  if (what & BEV_EVENT_TIMEOUT) {
    closing_ = true;
    (void)codec_->goaway(kH2NoError, "idle");
    flush();
  }
  close();
}

void H2Upstream::close() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  // Every exchange still attached sees its origin connection end (an early EOF: the exchange
  // answers 502 or cuts what it started to send).
  for (auto& ch : channels_) {
    if (ch->end) bufferevent_flush(ch->end.get(), EV_WRITE, BEV_FINISHED);
  }
  if (tls_) bufferevent_disable(tls_.get(), EV_READ | EV_WRITE);
  pool_.connectionClosed(this);
}

// ---- channels: requests out -------------------------------------------------------------------

void H2Upstream::onChannelRead(UpstreamChannel& ch) {
  parseRequest(ch);
  flush_later_.request();
}

void H2Upstream::parseRequest(UpstreamChannel& ch) {
  if (ch.paused || closed_) return;
  auto fed = feedFromBuffer(ch.request, bufferevent_get_input(ch.end.get()));
  if (!fed.ok()) {
    failChannel(ch);  // only a bug gets here: the exchange writes valid HTTP/1.1
    return;
  }
  if (ch.paused) bufferevent_disable(ch.end.get(), EV_READ);
}

HeadAction UpstreamChannel::onRequestHead(RequestHead& head) {
  auto h2 = h2RequestFromH1(head, "https");
  if (!h2.ok()) {
    conn.failChannel(*this);
    return HeadAction::Stop;
  }
  request_has_body = head.hasBody();
  head_request = head.method == "HEAD";
  auto id = conn.codec().submitRequest(h2->method, h2->scheme, h2->authority, h2->path,
                                       h2->headers, !request_has_body);
  if (!id.ok()) {
    conn.failChannel(*this);
    return HeadAction::Stop;
  }
  stream = id.value();
  conn.bindStream(stream, this);
  return HeadAction::Continue;
}

FlowAction UpstreamChannel::onBody(const char* data, size_t len) {
  if (stream == 0) return FlowAction::Continue;
  (void)conn.codec().submitData(stream, std::string_view(data, len), false);
  if (conn.codec().outboundQueued(stream) >= kStreamHighWater) {
    paused = true;
    return FlowAction::Pause;
  }
  return FlowAction::Continue;
}

FlowAction UpstreamChannel::onMessageComplete(Headers& trailers) {
  if (stream != 0 && request_has_body) {
    if (!trailers.empty()) {
      (void)conn.codec().submitTrailers(stream, h2FieldsFromH1(trailers));
    } else {
      (void)conn.codec().submitData(stream, std::string_view(), true);
    }
  }
  return FlowAction::Pause;  // one request per channel
}

void H2Upstream::failChannel(UpstreamChannel& ch) {
  if (ch.stream != 0 && codec_->hasStream(ch.stream)) (void)codec_->resetStream(ch.stream, kH2Cancel);
  if (ch.end) bufferevent_flush(ch.end.get(), EV_WRITE, BEV_FINISHED);
}

void H2Upstream::onChannelWrite(UpstreamChannel& ch) {
  settleConsumed(ch);
  flush_later_.request();  // WINDOW_UPDATEs
}

void H2Upstream::onChannelEvent(UpstreamChannel& ch, short what) {
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
  // The exchange let go of its channel: done, or aborted (then the stream is cancelled).
  if (ch.stream != 0 && !ch.response_done && codec_->hasStream(ch.stream)) {
    (void)codec_->resetStream(ch.stream, kH2Cancel);
  }
  removeChannel(ch);
  flush_later_.request();
}

void H2Upstream::removeChannel(UpstreamChannel& ch) {
  if (ch.stream != 0) streams_.erase(ch.stream);
  std::erase_if(resumed_, [&](UpstreamChannel* c) { return c == &ch; });
  channels_.erase(ch.self);  // destroys ch
}

// ---- streams: answers back --------------------------------------------------------------------

void H2Upstream::writeToChannel(UpstreamChannel& ch, Buffer& bytes) {
  if (!bytes.empty()) bufferevent_write_buffer(ch.end.get(), bytes.raw());
  settleConsumed(ch);
}

// Answer bytes the exchange has taken from the pair no longer count against our window.
void H2Upstream::settleConsumed(UpstreamChannel& ch) {
  size_t taken = takenFromPair(ch.end.get(), ch.pending_consume);
  if (taken != 0 && ch.stream != 0) codec_->consumed(ch.stream, taken);
}

void H2Upstream::onResponseHeaders(int32_t id, uint16_t status, Headers& headers, bool end_stream) {
  UpstreamChannel* ch = byStream(id);
  if (ch == nullptr) return;
  Buffer out;
  if (status < 200) {
    if (status != 101) (void)writeResponseHead(out, status, "", headers, BodyFraming::None);
    writeToChannel(*ch, out);
    return;
  }
  auto head = h1ResponseFromH2(status, headers, !end_stream, ch->head_request);
  if (!head.ok()) {
    failChannel(*ch);
    return;
  }
  ch->response_framing = head->framing;
  if (auto r = writeResponseHead(out, head.value()); !r.ok()) {
    failChannel(*ch);
    return;
  }
  if (end_stream) ch->response_done = true;
  writeToChannel(*ch, out);
}

void H2Upstream::onResponseData(int32_t id, std::string_view data, bool end_stream) {
  UpstreamChannel* ch = byStream(id);
  if (ch == nullptr) {
    codec_->consumed(id, data.size());
    return;
  }
  Buffer out;
  appendH1Body(out, ch->response_framing, data, end_stream);
  ch->pending_consume += data.size();
  if (end_stream) ch->response_done = true;
  writeToChannel(*ch, out);
}

void H2Upstream::onResponseTrailers(int32_t id, Headers& trailers) {
  UpstreamChannel* ch = byStream(id);
  if (ch == nullptr) return;
  Buffer out;
  appendH1Body(out, ch->response_framing, {}, true, &trailers);
  ch->response_done = true;
  writeToChannel(*ch, out);
}

void H2Upstream::onStreamClosed(int32_t id, uint32_t) {
  UpstreamChannel* ch = byStream(id);
  streams_.erase(id);
  if (ch == nullptr) return;
  ch->stream = 0;
  // Ended before the answer was whole (a reset, a GOAWAY that refused it): the exchange sees
  // its origin connection end early, which it reports (or retries when nothing was lost).
  if (!ch->response_done && ch->end) bufferevent_flush(ch->end.get(), EV_WRITE, BEV_FINISHED);
}

void H2Upstream::onGoaway(uint32_t, int32_t) { closing_ = true; }

void H2Upstream::onDataSent(int32_t id, size_t queued) {
  UpstreamChannel* ch = byStream(id);
  if (ch == nullptr || !ch->paused || queued > kStreamHighWater / 2) return;
  ch->paused = false;
  ch->request.resume();
  bufferevent_enable(ch->end.get(), EV_READ);
  resumed_.push_back(ch);  // parsed by flush(), outside the codec
}

// ---- the pool ---------------------------------------------------------------------------------

void HandshakeProbe::finish() {
  if (finished_) return;
  finished_ = true;
  pool_.probeFinished(key_);
}

H2UpstreamPool::H2UpstreamPool(event_base* base, size_t max_header_bytes)
    : base_(base), max_header_bytes_(max_header_bytes) {
  wake_ev_.reset(event_new(base_, -1, 0, onWakeCb, this));
}

H2UpstreamPool::~H2UpstreamPool() {
  parked_.clear();
  closed_.clear();
  connections_.clear();
}

std::unique_ptr<PooledConnection> H2UpstreamPool::openChannel(const std::string& key) {
  auto it = connections_.find(key);
  if (it == connections_.end()) return nullptr;
  for (auto& conn : it->second) {
    if (conn->hasCapacity()) return conn->openChannel();
  }
  return nullptr;
}

H2Upstream* H2UpstreamPool::start(std::unique_ptr<PooledConnection> tls) {
  auto conn = std::make_unique<H2Upstream>(*this, tls->key, std::move(tls->bev), max_header_bytes_);
  H2Upstream* raw = conn.get();
  connections_[raw->key()].push_back(std::move(conn));
  if (!raw->start(base_)) {
    raw->close();
    return nullptr;
  }
  event_active(wake_ev_.get(), 0, 0);  // exchanges waiting for this origin can use it now
  return raw;
}

std::unique_ptr<PooledConnection> H2UpstreamPool::adopt(std::unique_ptr<PooledConnection> tls) {
  H2Upstream* conn = start(std::move(tls));
  return conn != nullptr ? conn->openChannel() : nullptr;
}

struct H2UpstreamPool::Parked {
  H2UpstreamPool* pool;
  ConnectionPool* h1_pool;
  std::unique_ptr<PooledConnection> conn;
};

namespace {
void onParkedEventCb(bufferevent*, short what, void* arg) noexcept {
  auto* parked = static_cast<H2UpstreamPool::Parked*>(arg);
  parked->pool->onParkedEvent(parked, what);
}
void onParkedReadCb(bufferevent* bev, void* arg) noexcept {
  // Bytes before the handshake's end cannot be: treat like an error (the event path drops it).
  onParkedEventCb(bev, BEV_EVENT_ERROR, arg);
}
}  // namespace

void H2UpstreamPool::parkUntilHandshake(std::unique_ptr<PooledConnection> tls,
                                        ConnectionPool& h1_pool, uint32_t timeout_ms) {
  if (!tls->probe) tls->probe = probe(tls->key);
  auto parked = std::make_unique<Parked>(Parked{this, &h1_pool, std::move(tls)});
  bufferevent* bev = parked->conn->bev.get();
  bufferevent_setcb(bev, onParkedReadCb, nullptr, onParkedEventCb, parked.get());
  timeval tv{static_cast<time_t>(timeout_ms / 1000),
             static_cast<suseconds_t>((timeout_ms % 1000) * 1000)};
  bufferevent_set_timeouts(bev, timeout_ms ? &tv : nullptr, nullptr);
  bufferevent_enable(bev, EV_READ);
  parked_.push_back(std::move(parked));
}

void H2UpstreamPool::onParkedEvent(Parked* parked, short what) {
  std::unique_ptr<PooledConnection> conn;
  ConnectionPool* h1_pool = parked->h1_pool;
  for (auto it = parked_.begin(); it != parked_.end(); ++it) {
    if (it->get() != parked) continue;
    conn = std::move((*it)->conn);
    parked_.erase(it);  // `parked` is gone from here on
    break;
  }
  if (!conn) return;
  bufferevent_setcb(conn->bev.get(), nullptr, nullptr, nullptr, nullptr);
  bufferevent_set_timeouts(conn->bev.get(), nullptr, nullptr);
  std::shared_ptr<void> probe = std::move(conn->probe);
  if (what == BEV_EVENT_CONNECTED) {
    const TlsSession* tls = tlsSession(conn->bev.get());
    if (tls != nullptr && tls->alpn() == "h2") {
      start(std::move(conn));
    } else {
      h1_pool->put(std::move(conn));
    }
  }
  // Released last: the waiters it wakes find the connection where it now is. A failed
  // handshake (error, EOF, timeout) is dropped here; the waiters then connect on their own.
}

std::shared_ptr<HandshakeProbe> H2UpstreamPool::probe(const std::string& key) {
  probes_[key]++;
  return std::make_shared<HandshakeProbe>(*this, key);
}

bool H2UpstreamPool::probing(const std::string& key) const {
  auto it = probes_.find(key);
  return it != probes_.end() && it->second > 0;
}

void H2UpstreamPool::waitForProbe(const std::string& key, std::function<void()> retry) {
  waiters_[key].push_back(std::move(retry));
}

void H2UpstreamPool::probeFinished(const std::string& key) {
  auto it = probes_.find(key);
  if (it == probes_.end()) return;
  if (--it->second > 0) return;
  probes_.erase(it);
  auto w = waiters_.find(key);
  if (w == waiters_.end()) return;
  for (auto& fn : w->second) ready_.push_back(std::move(fn));
  waiters_.erase(w);
  event_active(wake_ev_.get(), 0, 0);  // from the loop: never inside the prober's callbacks
}

void H2UpstreamPool::runWaiters() {
  closed_.clear();  // connections closed on an earlier turn
  std::vector<std::function<void()>> ready;
  ready.swap(ready_);
  for (auto& fn : ready) fn();
}

void H2UpstreamPool::connectionClosed(H2Upstream* conn) {
  auto it = connections_.find(conn->key());
  if (it == connections_.end()) return;
  auto& list = it->second;
  for (auto c = list.begin(); c != list.end(); ++c) {
    if (c->get() != conn) continue;
    closed_.push_back(std::move(*c));
    list.erase(c);
    break;
  }
  if (list.empty()) connections_.erase(it);
  event_active(wake_ev_.get(), 0, 0);  // destroyed from the loop, not inside its callbacks
}

void H2UpstreamPool::clear() {
  std::vector<H2Upstream*> all;
  for (auto& [key, list] : connections_) {
    for (auto& c : list) all.push_back(c.get());
  }
  for (H2Upstream* c : all) c->close();
}

size_t H2UpstreamPool::connectionCount() const {
  size_t n = 0;
  for (const auto& [key, list] : connections_) n += list.size();
  return n;
}

}  // namespace aiw
