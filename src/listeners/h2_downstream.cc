// H2Downstream: an HTTP/2 client connection whose streams run as HTTP/1.1 exchanges of their
// own ForwardSession, each over an in-memory bufferevent pair (see h2_downstream.h).
#include "listeners/h2_downstream.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sys/socket.h>

#include <chrono>
#include <unordered_map>
#include <vector>

#include "admin/admin_routes.h"
#include "core/log.h"
#include "filters/chain.h"
#include "http/http1_feed.h"
#include "http/http1_parser.h"
#include "http/http1_writer.h"
#include "http/http2_server_session.h"
#include "http/http2_translate.h"
#include "listeners/forward_session_impl.h"
#include "listeners/h2_bridge.h"
#include "tls/tls_transport.h"
#include "upstream/write_now.h"

namespace aiw {

namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// Answer bytes queued in the codec for one stream before its exchange is left to wait (the pair
// fills, then the exchange stops reading its origin).
constexpr size_t kStreamHighWater = 256 * 1024;
// Frames queued toward the client before the codec is left holding the rest.
constexpr size_t kConnectionHighWater = 1 << 20;
// Closing after a GOAWAY: how long the last frames may wait for the client to read (no progress
// at all), and how long (and how many bytes) the client's late input is then read and dropped
// before the socket closes (below). A flooding client may have megabytes in flight; dropping
// them costs little.
constexpr uint32_t kCloseSendMs = 5000;
constexpr uint32_t kLingerMs = 2000;
constexpr size_t kLingerMaxBytes = 64 << 20;

class H2Downstream;

// One stream: our end of the pair, the exchange at the other end, and the parser that reads
// the exchange's HTTP/1.1 answer.
struct StreamBridge final : public Http1ParserCallbacks {
  StreamBridge(H2Downstream& o, int32_t stream_id, size_t max_header_bytes)
      : owner(o), id(stream_id), response(Http1Parser::Type::Response, *this, max_header_bytes) {}
  ~StreamBridge() override;

  HeadAction onResponseHead(ResponseHead& head) override;
  FlowAction onBody(const char* data, size_t len) override;
  FlowAction onMessageComplete(Headers& trailers) override;

  H2Downstream& owner;
  int32_t id;
  BufferEventPtr end;  // ours; the exchange holds the partner
  ForwardSession* exchange = nullptr;
  std::shared_ptr<bool> exchange_alive;
  BodyFraming request_framing = BodyFraming::None;
  bool request_done = false;
  bool head_request = false;
  Http1Parser response;
  bool informational = false;
  bool response_started = false;
  bool response_done = false;
  bool paused = false;          // the codec holds kStreamHighWater of this stream's answer
  bool exchange_ended = false;  // the exchange closed its end: what is in our input is all
  size_t pending_consume = 0;   // request body bytes written to the pair, not yet consumed()
  // For the stall check (H2Downstream::onStallCheck): answer bytes were waiting for the client
  // at the last check; some of them left for the client since.
  bool waiting = false;
  bool progressed = false;
};

void onBridgeReadCb(bufferevent*, void* arg) noexcept;
void onBridgeWriteCb(bufferevent*, void* arg) noexcept;
void onBridgeEventCb(bufferevent*, short what, void* arg) noexcept;
void onDownReadCb(bufferevent*, void* arg) noexcept;
void onDownWriteCb(bufferevent*, void* arg) noexcept;
void onDownEventCb(bufferevent*, short what, void* arg) noexcept;
void onStallCheckCb(evutil_socket_t, short, void* arg) noexcept;

class H2Downstream final : public WorkerConnection, public Http2ServerHandler {
 public:
  H2Downstream(Worker& worker, const ListenerConfig& listener,
               std::shared_ptr<const Snapshot> snapshot, UniqueFd fd, BufferEventPtr down,
               DownstreamContext context, std::unique_ptr<ConnectionFilterChain> conn_filters)
      : worker_(worker),
        flush_later_(worker.base(), [](void* self) { static_cast<H2Downstream*>(self)->flush(); },
                     this),
        listener_(listener),
        snapshot_(std::move(snapshot)),
        fd_(std::move(fd)),
        down_(std::move(down)),
        context_(std::move(context)),
        conn_filters_(std::move(conn_filters)) {}

  ~H2Downstream() override {
    streams_.clear();  // aborts the exchanges still running
    if (conn_filters_) conn_filters_->close(context_.conn);
    if (down_ && tlsSession(down_.get()) != nullptr) closeTlsGracefully(std::move(down_), 2000);
  }

  void start();
  void drain() override;

  void onRead();
  void onWrite();
  void onEvent(short what);
  void onBridgeRead(StreamBridge& b);
  void onBridgeWrite(StreamBridge& b);
  void onBridgeEvent(StreamBridge& b, short what);
  void onStallCheck();

  // Http2ServerHandler (inside the codec's receive()/drainOutput()).
  void onRequestHeaders(int32_t stream_id, Http2RequestHead& head, bool end_stream) override;
  void onRequestData(int32_t stream_id, std::string_view data, bool end_stream) override;
  void onRequestTrailers(int32_t stream_id, Headers& trailers) override;
  void onStreamReset(int32_t stream_id, uint32_t error_code) override;
  void onStreamClosed(int32_t stream_id, uint32_t error_code) override;
  void onDataSent(int32_t stream_id, size_t queued) override;

  Http2ServerSession& codec() { return *codec_; }
  void flush();

 private:
  StreamBridge* find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }
  void answerLocally(int32_t id, uint16_t status, std::string_view code, std::string_view msg);
  void writeRequestBytes(StreamBridge& b, Buffer& bytes);
  void settleConsumed(StreamBridge& b);
  void parseAnswer(StreamBridge& b);
  void closeWhenSent();
  void close();

  Worker& worker_;
  LoopEndFlush flush_later_;  // the streams of one loop pass share one write
  const ListenerConfig& listener_;  // lives in snapshot_ (or the worker's bound listeners)
  std::shared_ptr<const Snapshot> snapshot_;
  UniqueFd fd_;          // the plain socket under down_ (h2c); invalid when down_ owns it
  BufferEventPtr down_;  // declared after fd_: destroyed first
  DownstreamContext context_;
  std::unique_ptr<ConnectionFilterChain> conn_filters_;
  std::unique_ptr<Http2ServerSession> codec_;
  std::unordered_map<int32_t, std::unique_ptr<StreamBridge>> streams_;
  std::vector<int32_t> resumed_;  // streams the codec has room for again (onDataSent)
  bool in_codec_ = false;         // inside receive()/drainOutput(): flush later
  bool flush_pending_ = false;
  bool closing_ = false;  // the codec is done: close once the output is out
  bool closed_ = false;
  bool close_timer_armed_ = false;  // closing: the output gets kCloseSendMs to move
  bool lingering_ = false;          // h2c: half-closed, reading and dropping the client's input
  size_t lingered_bytes_ = 0;
  std::chrono::steady_clock::time_point linger_until_{};
  EventPtr stall_timer_;  // every idle_timeout_ms: streams the client stopped taking (above)
};

// ---- the client's connection ------------------------------------------------------------------

void H2Downstream::start() {
  Http2Options options;
  options.max_header_list_bytes = static_cast<uint32_t>(snapshot_->config.limits.max_header_bytes);
  options.stream_window = 256 * 1024;
  auto codec = Http2ServerSession::create(*this, options);
  if (!codec.ok()) {
    log::warn("HTTP/2 session failed", {{"client", context_.conn.client},
                                        {"error", codec.error().message}});
    close();
    return;
  }
  codec_ = std::move(codec.value());
  bufferevent_setcb(down_.get(), onDownReadCb, onDownWriteCb, onDownEventCb, this);
  bufferevent_setwatermark(down_.get(), EV_READ, 0, 0);
  bufferevent_setwatermark(down_.get(), EV_WRITE, kConnectionHighWater / 2, 0);
  const uint32_t idle = snapshot_->config.upstream.idle_timeout_ms;
  timeval tv{static_cast<time_t>(idle / 1000), static_cast<suseconds_t>((idle % 1000) * 1000)};
  bufferevent_set_timeouts(down_.get(), idle ? &tv : nullptr, nullptr);
  if (idle) {
    stall_timer_.reset(event_new(worker_.base(), -1, EV_PERSIST, onStallCheckCb, this));
    if (stall_timer_) event_add(stall_timer_.get(), &tv);
  }
  bufferevent_enable(down_.get(), EV_READ);
  onRead();  // what arrived with the handover (the preface, the first frames)
}

void H2Downstream::onRead() {
  if (closed_ || !codec_) return;
  evbuffer* in = bufferevent_get_input(down_.get());
  if (lingering_) {  // after our GOAWAY: dropped unread (see closeWhenSent)
    lingered_bytes_ += evbuffer_get_length(in);
    evbuffer_drain(in, evbuffer_get_length(in));
    if (lingered_bytes_ > kLingerMaxBytes || std::chrono::steady_clock::now() > linger_until_) {
      close();
    }
    return;
  }
  while (size_t len = evbuffer_get_length(in)) {
    const size_t n = std::min<size_t>(len, 64 * 1024);
    const char* bytes = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(n)));
    in_codec_ = true;
    Result<void> r = codec_->receive(std::string_view(bytes, n));
    in_codec_ = false;
    evbuffer_drain(in, n);
    if (!r.ok()) {
      log::info("HTTP/2 client refused", {{"client", context_.conn.client},
                                          {"error", r.error().code},
                                          {"reason", r.error().message}});
      bufferevent_disable(down_.get(), EV_READ);
      closing_ = true;
      break;
    }
    if (closed_) return;
  }
  flush_later_.request();
}

void H2Downstream::flush() {
  if (closed_ || !codec_ || lingering_) return;  // lingering: everything was sent
  if (in_codec_) {
    flush_pending_ = true;
    return;
  }
  // Bounded: each round either sends frames or parses answers that were waiting for room.
  for (int round = 0; round < 64 && !closed_; ++round) {
    flush_pending_ = false;
    if (!moveFrames(*codec_, down_.get(), kConnectionHighWater, in_codec_).ok()) closing_ = true;
    // Streams the codec has room for again: their exchange may have queued more meanwhile.
    std::vector<int32_t> resumed;
    resumed.swap(resumed_);
    for (int32_t id : resumed) {
      if (StreamBridge* b = find(id)) parseAnswer(*b);
    }
    if (!flush_pending_ && resumed.empty()) break;
  }
  if (closed_) return;
  flushNow(down_.get());
  if (codec_->finished()) closing_ = true;
  if (closing_ && !close_timer_armed_) {
    // A client that stops reading must not keep a closing connection (and its output) forever.
    close_timer_armed_ = true;
    timeval tv{kCloseSendMs / 1000, (kCloseSendMs % 1000) * 1000};
    bufferevent_set_timeouts(down_.get(), nullptr, &tv);
  }
  if (closing_ && evbuffer_get_length(bufferevent_get_output(down_.get())) == 0) closeWhenSent();
}

// Everything (the GOAWAY last) is in the kernel's hands now. Closing the socket while the
// client's input still sits unread in it would make the kernel answer with RST and drop what it
// has not sent yet, the GOAWAY included: exactly what a flooding client would see. So, on h2c,
// half-close instead and read (and drop) what still comes, until the client closes, kLingerMs
// pass or kLingerMaxBytes came: a lingering close, as nginx does. (TLS: closeTlsGracefully.)
void H2Downstream::closeWhenSent() {
  if (lingering_) return;
  if (!fd_.valid()) {
    close();
    return;
  }
  lingering_ = true;
  ::shutdown(fd_.get(), SHUT_WR);
  linger_until_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(kLingerMs);
  timeval tv{kLingerMs / 1000, (kLingerMs % 1000) * 1000};
  bufferevent_set_timeouts(down_.get(), &tv, nullptr);
  bufferevent_disable(down_.get(), EV_WRITE);
  bufferevent_enable(down_.get(), EV_READ);
  onRead();  // what is already buffered
}

void H2Downstream::onWrite() {
  if (closed_) return;
  stopWritingIfDrained(down_.get());
  flush();  // more frames fit now
}

void H2Downstream::onEvent(short what) {
  if (closed_) return;
  if (what & BEV_EVENT_CONNECTED) return;
  if (closing_ || lingering_) {  // the client's EOF, or the output or linger time ran out
    close();
    return;
  }
  if ((what & BEV_EVENT_TIMEOUT) && !streams_.empty()) {
    bufferevent_enable(down_.get(), EV_READ);  // idle only counts when no stream is open
    return;
  }
  if ((what & BEV_EVENT_TIMEOUT) && codec_ && codec_->goaway(kH2NoError, "idle").ok()) {
    closing_ = true;  // idle: say so (RFC 9113 §6.8), then close once it is sent
    flush();
    return;
  }
  close();  // EOF or error
}

void H2Downstream::drain() {
  if (closed_ || !codec_) {
    close();
    return;
  }
  (void)codec_->goaway(kH2NoError, "draining");
  if (streams_.empty()) closing_ = true;
  flush();
}

void H2Downstream::close() {
  if (closed_) return;
  closed_ = true;
  stall_timer_.reset();
  if (down_) bufferevent_disable(down_.get(), EV_READ | EV_WRITE);
  worker_.release(this);  // destroyed on the next loop turn (the exchanges are aborted then)
}

// ---- streams: requests in ---------------------------------------------------------------------

void H2Downstream::onRequestHeaders(int32_t id, Http2RequestHead& head, bool end_stream) {
  if (head.method == "CONNECT") {
    answerLocally(id, 405, "connect_not_supported",
                  "CONNECT inside HTTP/2 is not supported: open a new connection to the proxy");
    return;
  }
  auto h1 = h1RequestFromH2(head, !end_stream);
  if (!h1.ok()) {
    answerLocally(id, 400, h1.error().code, h1.error().message);
    return;
  }
  // One exchange per stream: the exchange closes after its answer, which ends the pair.
  h1->headers.add("connection", "close");
  Buffer request;
  if (auto r = writeRequestHead(request, h1.value()); !r.ok()) {
    answerLocally(id, 400, r.error().code, r.error().message);
    return;
  }
  bufferevent* pair[2] = {nullptr, nullptr};
  if (bufferevent_pair_new(worker_.base(), BEV_OPT_DEFER_CALLBACKS, pair) != 0) {
    answerLocally(id, 503, "no_memory", "cannot set up the stream");
    return;
  }
  auto bridge = std::make_unique<StreamBridge>(*this, id, snapshot_->config.limits.max_header_bytes);
  StreamBridge& b = *bridge;
  b.end.reset(pair[0]);
  BufferEventPtr exchange_end(pair[1]);
  b.request_framing = h1->framing;
  b.request_done = end_stream;
  b.head_request = h1->method == "HEAD";
  bufferevent_setcb(b.end.get(), onBridgeReadCb, onBridgeWriteCb, onBridgeEventCb, &b);
  // The exchange hands over at most this much of its answer ahead of the codec's needs.
  bufferevent_setwatermark(b.end.get(), EV_READ, 0, kStreamHighWater);
  bufferevent_enable(b.end.get(), EV_READ | EV_WRITE);
  streams_.emplace(id, std::move(bridge));

  auto exchange = std::make_unique<ForwardSession>(worker_, listener_, std::move(exchange_end),
                                                   context_, "HTTP/2");
  b.exchange = exchange.get();
  b.exchange_alive = exchange->aliveToken();
  worker_.adopt(std::move(exchange));
  b.exchange->startOnStream();
  writeRequestBytes(b, request);
}

void H2Downstream::writeRequestBytes(StreamBridge& b, Buffer& bytes) {
  if (!bytes.empty()) bufferevent_write_buffer(b.end.get(), bytes.raw());
  settleConsumed(b);
}

// Body bytes the exchange has taken from the pair no longer count against the client's window.
void H2Downstream::settleConsumed(StreamBridge& b) {
  if (size_t taken = takenFromPair(b.end.get(), b.pending_consume)) codec_->consumed(b.id, taken);
}

void H2Downstream::onRequestData(int32_t id, std::string_view data, bool end_stream) {
  StreamBridge* b = find(id);
  if (b == nullptr) {  // answered locally or gone: the bytes go nowhere
    codec_->consumed(id, data.size());
    return;
  }
  Buffer bytes;
  appendH1Body(bytes, b->request_framing, data, end_stream);
  b->pending_consume += data.size();
  if (end_stream) b->request_done = true;
  writeRequestBytes(*b, bytes);
}

void H2Downstream::onRequestTrailers(int32_t id, Headers& trailers) {
  StreamBridge* b = find(id);
  if (b == nullptr) return;
  Buffer bytes;
  appendH1Body(bytes, b->request_framing, {}, true, &trailers);
  b->request_done = true;
  writeRequestBytes(*b, bytes);
}

void H2Downstream::onStreamReset(int32_t id, uint32_t) {
  streams_.erase(id);  // the client cancelled: the exchange (and its upstream request) ends now
}

void H2Downstream::onStreamClosed(int32_t id, uint32_t) {
  streams_.erase(id);
  if (streams_.empty() && closing_) flush();
}

void H2Downstream::onDataSent(int32_t id, size_t queued) {
  StreamBridge* b = find(id);
  if (b != nullptr) b->progressed = true;
  if (b == nullptr || !b->paused || queued > kStreamHighWater / 2) return;
  b->paused = false;
  b->response.resume();
  bufferevent_enable(b->end.get(), EV_READ);
  resumed_.push_back(id);  // parsed by flush(), outside the codec
}

// A client can stop taking an answer: a zero flow-control window it never reopens (SETTINGS
// INITIAL_WINDOW_SIZE 0, no WINDOW_UPDATE), or a socket it does not read. Memory stays bounded
// (the codec's queue, the pair, the exchange's buffer), but the stream, its exchange and the
// origin's request would be held for good: nothing times out while everyone waits on flow
// control, and the connection's idle timeout does not run while streams are open. So, as
// Envoy's stream idle timeout does: a stream whose answer waited for the client through a whole
// idle_timeout_ms without any of it leaving is reset (CANCEL) and its exchange aborted.
void H2Downstream::onStallCheck() {
  if (closed_ || !codec_ || closing_) return;
  std::vector<int32_t> stalled;
  for (auto& [id, b] : streams_) {
    const bool waiting = codec_->outboundQueued(id) > 0;
    if (waiting && b->waiting && !b->progressed) stalled.push_back(id);
    b->waiting = waiting;
    b->progressed = false;
  }
  if (stalled.empty()) return;
  log::info("HTTP/2 streams reset: the client took none of their answer",
            {{"client", context_.conn.client}, {"streams", std::to_string(stalled.size())}});
  for (int32_t id : stalled) {
    (void)codec_->resetStream(id, kH2Cancel);
    streams_.erase(id);  // aborts the exchange and the origin's request now
  }
  flush();
}

void H2Downstream::answerLocally(int32_t id, uint16_t status, std::string_view code,
                                 std::string_view message) {
  Headers fields;
  fields.add("content-type", "application/json");
  std::string body = jsonError(code, message);
  fields.add("content-length", std::to_string(body.size()));
  if (!codec_->submitResponse(id, status, fields, false).ok()) return;
  (void)codec_->submitData(id, body, true);
}

// ---- streams: answers out ---------------------------------------------------------------------

void H2Downstream::onBridgeRead(StreamBridge& b) {
  parseAnswer(b);
  flush_later_.request();
}

void H2Downstream::parseAnswer(StreamBridge& b) {
  const int32_t id = b.id;
  if (!b.response_done && !b.paused) {
    auto fed = feedFromBuffer(b.response, bufferevent_get_input(b.end.get()));
    if (find(id) == nullptr) return;  // a codec error may have ended the stream meanwhile
    if (!fed.ok()) {
      log::warn("HTTP/2 stream: the exchange's answer is not HTTP/1.1",
                {{"client", context_.conn.client}, {"error", fed.error().message}});
      (void)codec_->resetStream(id, kH2InternalError);
      return;
    }
  }
  if (b.paused) {
    bufferevent_disable(b.end.get(), EV_READ);  // the rest waits in the pair
    return;
  }
  if (b.exchange_ended && !b.response_done) {
    // The exchange ended before its answer was whole (the origin failed mid-answer): the only
    // honest signal left is to reset the stream.
    (void)codec_->resetStream(id, kH2InternalError);
  }
}

void H2Downstream::onBridgeWrite(StreamBridge& b) {
  settleConsumed(b);
  flush_later_.request();  // WINDOW_UPDATEs
}

void H2Downstream::onBridgeEvent(StreamBridge& b, short what) {
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
  b.exchange_ended = true;
  parseAnswer(b);  // whatever the exchange wrote before it ended (later, if the stream waits)
  flush_later_.request();
}

HeadAction StreamBridge::onResponseHead(ResponseHead& head) {
  Http2ServerSession& codec = owner.codec();
  informational = head.isInformational();
  if (informational) {
    if (head.status != 101) (void)codec.submitInformational(id, head.status, h2FieldsFromH1(head.headers));
    return HeadAction::Continue;
  }
  const bool no_body = head_request || head.framing == BodyFraming::None;
  response_started = true;
  if (!codec.submitResponse(id, head.status, h2ResponseFieldsFromH1(head), no_body).ok()) {
    return HeadAction::Stop;
  }
  if (no_body) response_done = true;
  return head_request ? HeadAction::SkipBody : HeadAction::Continue;
}

FlowAction StreamBridge::onBody(const char* data, size_t len) {
  Http2ServerSession& codec = owner.codec();
  (void)codec.submitData(id, std::string_view(data, len), false);
  if (codec.outboundQueued(id) >= kStreamHighWater) {
    paused = true;
    return FlowAction::Pause;
  }
  return FlowAction::Continue;
}

FlowAction StreamBridge::onMessageComplete(Headers& trailers) {
  if (informational) {
    informational = false;
    return FlowAction::Continue;  // the final answer follows
  }
  if (response_done) return FlowAction::Pause;
  Http2ServerSession& codec = owner.codec();
  if (!trailers.empty()) {
    (void)codec.submitTrailers(id, h2FieldsFromH1(trailers));
  } else {
    (void)codec.submitData(id, std::string_view(), true);
  }
  response_done = true;
  return FlowAction::Pause;
}

StreamBridge::~StreamBridge() {
  if (end) bufferevent_setcb(end.get(), nullptr, nullptr, nullptr, nullptr);
  // Not answered in full (the client reset the stream, or the connection is going): the
  // exchange is aborted, and its upstream request with it.
  if (exchange_alive && *exchange_alive && !response_done) exchange->abortStream();
}

void onBridgeReadCb(bufferevent*, void* arg) noexcept {
  auto* b = static_cast<StreamBridge*>(arg);
  b->owner.onBridgeRead(*b);
}
void onBridgeWriteCb(bufferevent*, void* arg) noexcept {
  auto* b = static_cast<StreamBridge*>(arg);
  b->owner.onBridgeWrite(*b);
}
void onBridgeEventCb(bufferevent*, short what, void* arg) noexcept {
  auto* b = static_cast<StreamBridge*>(arg);
  b->owner.onBridgeEvent(*b, what);
}
void onDownReadCb(bufferevent*, void* arg) noexcept { static_cast<H2Downstream*>(arg)->onRead(); }
void onDownWriteCb(bufferevent*, void* arg) noexcept {
  static_cast<H2Downstream*>(arg)->onWrite();
}
void onDownEventCb(bufferevent*, short what, void* arg) noexcept {
  static_cast<H2Downstream*>(arg)->onEvent(what);
}
void onStallCheckCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<H2Downstream*>(arg)->onStallCheck();
}

}  // namespace

void startH2Downstream(Worker& worker, const ListenerConfig& listener,
                       std::shared_ptr<const Snapshot> snapshot, UniqueFd fd, BufferEventPtr down,
                       DownstreamContext context,
                       std::unique_ptr<ConnectionFilterChain> conn_filters) {
  auto session = std::make_unique<H2Downstream>(worker, listener, std::move(snapshot),
                                                std::move(fd), std::move(down),
                                                std::move(context), std::move(conn_filters));
  auto* raw = session.get();
  worker.adopt(std::move(session));
  raw->start();
}

PrefaceMatch matchH2Preface(std::string_view bytes) {
  const size_t n = std::min(bytes.size(), kPreface.size());
  if (bytes.substr(0, n) != kPreface.substr(0, n)) return PrefaceMatch::No;
  return n == kPreface.size() ? PrefaceMatch::Yes : PrefaceMatch::Partial;
}

}  // namespace aiw
