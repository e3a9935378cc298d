// H2Upstream: one multiplexed HTTP/2 connection to an origin and the H2Streams of the exchanges
// using it; H2UpstreamPool: a worker's connections, the handshake probes, and the exchanges
// waiting for them. See h2_upstream.h.
#include "listeners/h2_upstream.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "core/log.h"
#include "core/timeval.h"
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
// How long an h2 connection with no stream stays open for the next exchange.
constexpr uint32_t kIdleMs = 60000;

void onTlsReadCb(bufferevent*, void* arg) noexcept;
void onTlsWriteCb(bufferevent*, void* arg) noexcept;
void onTlsEventCb(bufferevent*, short what, void* arg) noexcept;
void onWakeCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<H2UpstreamPool*>(arg)->runWaiters();
}
void onStreamTimeoutCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<H2Stream*>(arg)->onTimeout();
}

// Sets the entries equal to `p` to null: a list being walked keeps its length.
template <typename T>
void forget(std::vector<T*>& list, const T* p) {
  std::replace(list.begin(), list.end(), const_cast<T*>(p), static_cast<T*>(nullptr));
}

}  // namespace

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
    for (H2Stream* st : attached_) st->conn = nullptr;  // their exchanges outlived the pool
    if (tls_) bufferevent_setcb(tls_.get(), nullptr, nullptr, nullptr, nullptr);
  }

  bool start();
  const std::string& key() const { return key_; }
  event_base* base() const { return bufferevent_get_base(tls_.get()); }
  H2UpstreamPool& pool() const { return pool_; }
  // A stream is free for one more exchange: every attached H2Stream without an open stream (its
  // request not submitted yet, or its stream done while the exchange finishes) may need one.
  bool hasCapacity() const {
    return !closing_ && codec_ && codec_->availableStreams() > attached_.size() - streams_.size();
  }
  std::unique_ptr<H2Stream> openStream(H2StreamListener& listener, std::shared_ptr<bool> alive);
  void close();  // every attached exchange sees its stream fail; the pool destroys this later

  void onTlsRead();
  void onTlsWrite();
  void onTlsEvent(short what);

  // Http2ClientHandler (inside receive()/drainOutput()).
  void onResponseHeaders(int32_t stream_id, uint16_t status, Headers& headers,
                         bool end_stream) override;
  void onResponseData(int32_t stream_id, std::string_view data, bool end_stream) override;
  void onResponseTrailers(int32_t stream_id, Headers& trailers) override;
  void onStreamClosed(int32_t stream_id, uint32_t error_code) override;
  void onGoaway(uint32_t error_code, int32_t last_stream_id) override;
  void onDataSent(int32_t stream_id, size_t queued) override;

  Http2ClientSession& codec() { return *codec_; }
  void bindStream(int32_t id, H2Stream* st) { streams_[id] = st; }
  void flushLater() { flush_later_.request(); }
  // Queued once per batch however many frames it got; its place is kept so that ~H2Stream can
  // null it in O(1) (hundreds of streams end in one batch).
  void markReadable(H2Stream& st) {
    if (st.queued != H2Stream::Queued::No) return;
    st.queued = H2Stream::Queued::Readable;
    st.queued_at = readable_.size();
    readable_.push_back(&st);
  }
  // The exchange let go of its stream (~H2Stream): cancelled unless its response had ended.
  void release(H2Stream& st);
  void flush();

 private:
  H2Stream* byStream(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second;
  }
  void notifyExchanges();

  H2UpstreamPool& pool_;
  std::string key_;
  BufferEventPtr tls_;
  size_t max_header_bytes_;
  LoopEndFlush flush_later_;  // the exchanges of one loop pass share one write
  std::unique_ptr<Http2ClientSession> codec_;
  std::list<H2Stream*> attached_;  // the exchanges' streams (owned by the exchanges)
  std::unordered_map<int32_t, H2Stream*> streams_;
  // Streams with something for their exchange, and streams whose request may go on: told once
  // the codec call that found it is over (never from inside the codec). Entries of streams
  // destroyed meanwhile are nulled (~H2Stream).
  std::vector<H2Stream*> readable_;
  std::vector<H2Stream*> writable_;
  std::vector<H2Stream*> notifying_;  // the batch being told right now
  std::vector<H2Stream*> telling_writable_;
  bool in_codec_ = false;
  bool flush_pending_ = false;
  bool closing_ = false;  // GOAWAY or failure: no new streams
  bool closed_ = false;
};

namespace {

void onTlsReadCb(bufferevent*, void* arg) noexcept { static_cast<H2Upstream*>(arg)->onTlsRead(); }
void onTlsWriteCb(bufferevent*, void* arg) noexcept {
  static_cast<H2Upstream*>(arg)->onTlsWrite();
}
void onTlsEventCb(bufferevent*, short what, void* arg) noexcept {
  static_cast<H2Upstream*>(arg)->onTlsEvent(what);
}

}  // namespace

// ---- the connection ---------------------------------------------------------------------------

bool H2Upstream::start() {
  Http2Options options;
  options.max_header_list_bytes = static_cast<uint32_t>(max_header_bytes_);
  options.stream_window = 256 * 1024;
  auto codec = Http2ClientSession::create(*this, options);
  if (!codec.ok()) return false;
  codec_ = std::move(codec.value());
  bufferevent_setcb(tls_.get(), onTlsReadCb, onTlsWriteCb, onTlsEventCb, this);
  bufferevent_setwatermark(tls_.get(), EV_WRITE, kConnectionHighWater / 2, 0);
  timeval tv = millisToTimeval(kIdleMs);
  bufferevent_set_timeouts(tls_.get(), &tv, nullptr);
  bufferevent_enable(tls_.get(), EV_READ | EV_WRITE);
  flush();  // the connection preface and SETTINGS
  onTlsRead();  // anything the origin sent during the handshake
  return !closed_;
}

std::unique_ptr<H2Stream> H2Upstream::openStream(H2StreamListener& listener,
                                                 std::shared_ptr<bool> alive) {
  auto st = std::make_unique<H2Stream>(*this, listener, std::move(alive));
  attached_.push_back(st.get());
  st->self = std::prev(attached_.end());
  return st;
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
  notifyExchanges();
  flush_later_.request();
}

// The exchanges hear of their streams outside the codec: they may submit, consume and reset
// then, and let go of their streams (which nulls their entries here).
void H2Upstream::notifyExchanges() {
  for (int round = 0; round < 64 && !(readable_.empty() && writable_.empty()); ++round) {
    telling_writable_.swap(writable_);
    writable_.clear();
    for (size_t i = 0; i < telling_writable_.size(); ++i) {
      if (H2Stream* st = telling_writable_[i]) {
        forget(telling_writable_, st);
        st->listener.onH2StreamWritable();  // may end streams: ~H2Stream nulls them here
      }
      if (closed_) break;
    }
    telling_writable_.clear();
    if (closed_) return;
    notifying_.swap(readable_);
    readable_.clear();
    for (H2Stream* st : notifying_) {
      if (st != nullptr) st->queued = H2Stream::Queued::Notifying;
    }
    for (size_t i = 0; i < notifying_.size(); ++i) {
      H2Stream* st = notifying_[i];
      if (st == nullptr) continue;
      st->queued = H2Stream::Queued::No;
      st->listener.onH2StreamReadable();
      if (closed_) break;
    }
    notifying_.clear();
    if (closed_) return;
  }
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
    const bool told = !readable_.empty() || !writable_.empty();
    notifyExchanges();  // frames sent (onDataSent): request bodies may go on
    if (!flush_pending_ && !told) break;
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
  if ((what & BEV_EVENT_TIMEOUT) && !attached_.empty()) {
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
  // Every exchange still attached sees its stream end early (it answers 502, cuts what it
  // started to send, or retries when nothing was lost) — told from the event loop, since
  // close() can run inside an exchange's own call.
  std::list<H2Stream*> attached;
  attached.swap(attached_);
  for (H2Stream* st : attached) {
    st->detach("the origin's HTTP/2 connection closed");
    pool_.later([alive = st->listener_alive, listener = &st->listener] {
      if (*alive) listener->onH2StreamReadable();
    });
  }
  streams_.clear();
  readable_.clear();
  writable_.clear();
  if (tls_) bufferevent_disable(tls_.get(), EV_READ | EV_WRITE);
  pool_.connectionClosed(this);
}

void H2Upstream::release(H2Stream& st) {
  if (st.id != 0) {
    // Not ended: the exchange gave up (the client went, a filter blocked, an error); the origin
    // hears it at once.
    if (!st.ended && codec_->hasStream(st.id)) (void)codec_->resetStream(st.id, kH2Cancel);
    streams_.erase(st.id);
  }
  attached_.erase(st.self);
  if (st.queued == H2Stream::Queued::Readable) readable_[st.queued_at] = nullptr;
  if (st.queued == H2Stream::Queued::Notifying) notifying_[st.queued_at] = nullptr;
  forget(writable_, &st);
  forget(telling_writable_, &st);
  flush_later_.request();
}

// ---- streams: answers back --------------------------------------------------------------------

void H2Upstream::onResponseHeaders(int32_t id, uint16_t status, Headers& headers, bool end_stream) {
  H2Stream* st = byStream(id);
  if (st == nullptr) return;
  st->received();
  if (status < 200) {
    if (status != 101) {
      ResponseHead head;
      head.status = status;
      head.headers = std::move(headers);
      st->heads.push_back(std::move(head));
    }
  } else if (auto head = h1ResponseFromH2(status, std::move(headers), !end_stream,
                                          st->head_request);
             head.ok()) {
    st->heads.push_back(std::move(head.value()));
    if (end_stream) st->ended = true;
  } else {
    st->failure_code = "bad_response";
    st->failure_message = "the origin sent an invalid response: " + head.error().message;
    (void)codec_->resetStream(id, kH2ProtocolError);
  }
  markReadable(*st);
}

void H2Upstream::onResponseData(int32_t id, std::string_view data, bool end_stream) {
  H2Stream* st = byStream(id);
  if (st == nullptr) {
    codec_->consumed(id, data.size());
    return;
  }
  st->received();
  st->body.append(data);  // consumed() once the exchange takes it (deliver)
  if (end_stream) st->ended = true;
  markReadable(*st);
}

void H2Upstream::onResponseTrailers(int32_t id, Headers&) {
  H2Stream* st = byStream(id);
  if (st == nullptr) return;
  st->ended = true;  // trailers are not forwarded (nor are an HTTP/1.1 origin's)
  markReadable(*st);
}

void H2Upstream::onStreamClosed(int32_t id, uint32_t error_code) {
  H2Stream* st = byStream(id);
  streams_.erase(id);
  if (st == nullptr) return;
  st->id = 0;
  if (st->ended || !st->failure_code.empty()) return;
  // Ended before the answer was whole (a reset, a GOAWAY that refused it): the exchange reports
  // it, or retries when nothing was lost.
  st->failure_code = "upstream_reset";
  st->failure_message =
      "the origin reset the HTTP/2 stream (error " + std::to_string(error_code) + ")";
  markReadable(*st);
}

void H2Upstream::onGoaway(uint32_t, int32_t) { closing_ = true; }

void H2Upstream::onDataSent(int32_t id, size_t queued) {
  H2Stream* st = byStream(id);
  if (st == nullptr || !st->request_paused || queued > kStreamHighWater / 2) return;
  st->request_paused = false;
  writable_.push_back(st);
}

// ---- H2Stream ---------------------------------------------------------------------------------

H2Stream::H2Stream(H2Upstream& c, H2StreamListener& l, std::shared_ptr<bool> alive)
    : conn(&c), listener(l), listener_alive(std::move(alive)) {}

H2Stream::~H2Stream() {
  if (conn != nullptr) conn->release(*this);
}

Result<void> H2Stream::sendHead(const RequestHead& head) {
  if (conn == nullptr) return makeError("upstream_reset", "the origin's HTTP/2 connection closed");
  // The fields are checked where the header list is built (Http2Session, "invalid_field").
  if (auto valid = checkRequestLine(head.method, head.target); !valid.ok()) return valid;
  auto h2 = h2RequestFromH1(head, "https");
  if (!h2.ok()) return makeError("invalid_head", h2.error().message);
  request_has_body = head.hasBody();
  head_request = head.method == "HEAD";
  auto stream = conn->codec().submitRequest(h2->method, h2->scheme, h2->authority, h2->path,
                                            h2->headers, !request_has_body);
  if (!stream.ok()) {
    if (stream.error().code == "invalid_field") {
      return makeError("invalid_head", stream.error().message);  // as writeRequestHead says
    }
    return stream.error();
  }
  id = stream.value();
  conn->bindStream(id, this);
  conn->flushLater();
  return {};
}

void H2Stream::sendBody(Buffer& bytes) {
  if (conn == nullptr || id == 0 || bytes.empty()) {
    bytes.clear();
    return;
  }
  (void)conn->codec().submitData(id, bytes, false);
  conn->flushLater();
}

void H2Stream::sendEnd() {
  if (conn == nullptr || id == 0 || !request_has_body) return;
  (void)conn->codec().submitData(id, std::string_view(), true);
  conn->flushLater();
}

bool H2Stream::requestBackedUp() {
  if (conn == nullptr || id == 0) return false;
  if (conn->codec().outboundQueued(id) < kStreamHighWater) return false;
  request_paused = true;  // onDataSent says when half of it went
  return true;
}

Result<void> H2Stream::deliver(Http1ParserCallbacks& events) {
  if (delivering_) return {};
  delivering_ = true;
  size_t taken = 0;
  while (!paused_ && !stopped_ && !complete_) {
    if (!heads.empty()) {
      ResponseHead head = std::move(heads.front());
      heads.erase(heads.begin());
      const bool informational = head.isInformational();
      const HeadAction action = events.onResponseHead(head);
      if (action == HeadAction::Stop) {
        stopped_ = true;
        break;
      }
      if (informational) {
        Headers none;
        (void)events.onMessageComplete(none);  // a 1xx message ends with its head
        continue;
      }
      final_head_ = true;
      continue;
    }
    if (!final_head_) break;
    if (!body.empty()) {
      Buffer chunk;
      chunk.moveFrom(body);
      const std::string_view bytes = chunk.view();
      taken += bytes.size();
      if (events.onBody(bytes.data(), bytes.size()) == FlowAction::Pause) paused_ = true;
      continue;
    }
    if (!ended) break;
    complete_ = true;
    Headers trailers;
    (void)events.onMessageComplete(trailers);
  }
  delivering_ = false;
  if (stopped_) {  // the rest goes nowhere
    taken += body.size();
    body.clear();
  }
  if (taken != 0 && conn != nullptr && id != 0) {
    conn->codec().consumed(id, taken);  // the origin may send that much more
    conn->flushLater();
  }
  armTimer();
  if (!complete_ && !stopped_ && !paused_ && !failure_code.empty() && heads.empty() &&
      body.empty()) {
    return makeError(failure_code, failure_message);
  }
  return {};
}

void H2Stream::resume() {
  paused_ = false;
  last_activity_ = std::chrono::steady_clock::now();  // the wait on the origin starts again
  armTimer();
}

void H2Stream::setTimeout(uint32_t ms) {
  timeout_ms_ = ms;
  last_activity_ = std::chrono::steady_clock::now();
  disarmTimer();
  armTimer();
}

// A frame of this stream restarts the origin's silence. The timer is not moved for it (two or
// three frames per exchange): onTimeout() looks at the last one and waits the rest.
void H2Stream::received() {
  last_activity_ = std::chrono::steady_clock::now();
  armTimer();
}

void H2Stream::disarmTimer() {
  if (timer_armed_) evtimer_del(timer_.get());
  timer_armed_ = false;
}

void H2Stream::armTimer() {
  const bool want = timeout_ms_ != 0 && !paused_ && !ended && failure_code.empty() &&
                    conn != nullptr;
  if (!want) {
    disarmTimer();
    return;
  }
  if (timer_armed_) return;
  if (!timer_) timer_.reset(evtimer_new(conn->base(), onStreamTimeoutCb, this));
  if (!timer_) return;
  const std::chrono::microseconds full = std::chrono::milliseconds(timeout_ms_);
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
      last_activity_ + full - std::chrono::steady_clock::now());
  // Armed as the stream starts or hears from the origin, the whole interval is left (give or
  // take the microseconds since): the shared queue of that duration, which fires at most that
  // much late and never early. A remainder (re-armed after a timeout that found a later frame)
  // is a timer of its own.
  const timeval* common = nullptr;
  if (full - left < std::chrono::milliseconds(1)) common = conn->pool().commonTimeout(timeout_ms_);
  if (common != nullptr) {
    evtimer_add(timer_.get(), common);
  } else {
    const timeval tv = microsToTimeval(left.count());
    evtimer_add(timer_.get(), &tv);
  }
  timer_armed_ = true;
}

void H2Stream::onTimeout() {
  timer_armed_ = false;
  if (ended || !failure_code.empty()) return;
  if (std::chrono::steady_clock::now() - last_activity_ <
      std::chrono::milliseconds(timeout_ms_)) {
    armTimer();  // the origin spoke meanwhile: wait for the rest of the interval
    return;
  }
  failure_code = "upstream_timeout";
  failure_message = "the origin did not answer within request_timeout_ms";
  listener.onH2StreamReadable();  // from the event loop: the exchange may end this stream now
}

void H2Stream::detach(const std::string& why) {
  disarmTimer();
  conn = nullptr;
  id = 0;
  if (!ended && failure_code.empty()) {
    failure_code = "upstream_reset";
    failure_message = why;
  }
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

const timeval* H2UpstreamPool::commonTimeout(uint32_t ms) {
  for (const auto& [duration, tv] : common_timeouts_) {
    if (duration == ms) return tv;
  }
  // libevent allows 256 per event base; the durations are configured, a handful in practice.
  if (common_timeouts_.size() >= 64) return nullptr;
  const timeval tv = millisToTimeval(ms);
  const timeval* common = event_base_init_common_timeout(base_, &tv);
  if (common != nullptr) common_timeouts_.emplace_back(ms, common);
  return common;
}

H2UpstreamPool::~H2UpstreamPool() {
  parked_.clear();
  closed_.clear();
  connections_.clear();
}

std::unique_ptr<H2Stream> H2UpstreamPool::openStream(const std::string& key,
                                                     H2StreamListener& listener,
                                                     std::shared_ptr<bool> alive) {
  auto it = connections_.find(key);
  if (it == connections_.end()) return nullptr;
  for (auto& conn : it->second) {
    if (conn->hasCapacity()) return conn->openStream(listener, std::move(alive));
  }
  return nullptr;
}

H2Upstream* H2UpstreamPool::start(std::unique_ptr<PooledConnection> tls) {
  auto conn = std::make_unique<H2Upstream>(*this, tls->key, std::move(tls->bev), max_header_bytes_);
  H2Upstream* raw = conn.get();
  connections_[raw->key()].push_back(std::move(conn));
  if (!raw->start()) {
    raw->close();
    return nullptr;
  }
  event_active(wake_ev_.get(), 0, 0);  // exchanges waiting for this origin can use it now
  return raw;
}

std::unique_ptr<H2Stream> H2UpstreamPool::adopt(std::unique_ptr<PooledConnection> tls,
                                                H2StreamListener& listener,
                                                std::shared_ptr<bool> alive) {
  H2Upstream* conn = start(std::move(tls));
  return conn != nullptr ? conn->openStream(listener, std::move(alive)) : nullptr;
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
  timeval tv = millisToTimeval(timeout_ms);
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

void H2UpstreamPool::later(std::function<void()> fn) {
  ready_.push_back(std::move(fn));
  event_active(wake_ev_.get(), 0, 0);
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
