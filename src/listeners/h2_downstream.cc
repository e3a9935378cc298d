// H2Downstream: an HTTP/2 client connection whose streams run as exchanges of their own
// ForwardSession, each answering through a StreamBridge (see h2_downstream.h).
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
#include "core/timeval.h"
#include "filters/chain.h"
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
// Answer bytes queued in the codec for one stream before its exchange stops reading its origin.
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


// One stream: the port its exchange answers through (stream_port.h).
struct StreamBridge final : public StreamPort {
  StreamBridge(H2Downstream& o, int32_t stream_id) : owner(o), id(stream_id) {}
  ~StreamBridge() override;

  void answerInformational(const ResponseHead& head) override;
  void answerHead(ResponseHead& head, bool no_body) override;
  void answerBody(Buffer& bytes) override;
  void answerEnd(const Headers* trailers) override;
  bool answerBackedUp() const override;
  void requestTaken(size_t n) override;
  void exchangeEnded() override;

  H2Downstream& owner;
  int32_t id;
  ForwardSession* exchange = nullptr;  // null once it ended (exchangeEnded)
  bool response_started = false;
  bool response_done = false;  // the end of the answer is with the codec (or it was reset)
  // The exchange was told the codec holds kStreamHighWater of its answer: it waits for
  // onStreamDrained().
  mutable bool backed_up = false;
  // For the stall check (H2Downstream::onStallCheck): answer bytes were waiting for the client
  // at the last check; some of them left for the client since.
  bool waiting = false;
  bool progressed = false;
};

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
  void flushLater() { flush_later_.request(); }

 private:
  StreamBridge* find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }
  void answerLocally(int32_t id, uint16_t status, std::string_view code, std::string_view msg);
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
  timeval tv = millisToTimeval(idle);
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
    // Streams the codec has room for again: their exchanges read their origins again.
    std::vector<int32_t> resumed;
    resumed.swap(resumed_);
    for (int32_t id : resumed) {
      StreamBridge* b = find(id);
      if (b != nullptr && b->exchange != nullptr) b->exchange->onStreamDrained();
    }
    if (!flush_pending_ && resumed.empty()) break;
  }
  if (closed_) return;
  flushNow(down_.get());
  if (codec_->finished()) closing_ = true;
  if (closing_ && !close_timer_armed_) {
    // A client that stops reading must not keep a closing connection (and its output) forever.
    close_timer_armed_ = true;
    timeval tv = millisToTimeval(kCloseSendMs);
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
  timeval tv = millisToTimeval(kLingerMs);
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
  auto request = h1RequestFromH2(std::move(head), !end_stream);
  if (!request.ok()) {
    answerLocally(id, 400, request.error().code, request.error().message);
    return;
  }
  // What the HTTP/1.1 parser would refuse and nghttp2 lets through (a :path byte outside
  // visible ASCII, a control character in a value) is refused the same way, before any filter
  // or origin sees it.
  if (auto valid = checkRequestHead(request->method, request->target, request->headers);
      !valid.ok()) {
    answerLocally(id, 400, valid.error().code, valid.error().message);
    return;
  }
  request->keep_alive = false;  // one exchange per stream: it ends with its answer
  auto bridge = std::make_unique<StreamBridge>(*this, id);
  StreamBridge& b = *bridge;
  streams_.emplace(id, std::move(bridge));
  auto exchange = std::make_unique<ForwardSession>(worker_, listener_, b, context_, "HTTP/2");
  b.exchange = exchange.get();
  worker_.adopt(std::move(exchange));
  // Runs inside the codec's receive(): the exchange may answer at once (a block, an admin
  // route's refusal), which only queues frames (http2_session.h).
  b.exchange->startOnStream(std::move(request.value()), end_stream);
}

void H2Downstream::onRequestData(int32_t id, std::string_view data, bool end_stream) {
  StreamBridge* b = find(id);
  if (b == nullptr || b->exchange == nullptr) {  // answered locally or over: the bytes go nowhere
    codec_->consumed(id, data.size());
    return;
  }
  b->exchange->streamRequestBody(data, end_stream);  // consumed() as the exchange takes them
}

void H2Downstream::onRequestTrailers(int32_t id, Headers&) {
  StreamBridge* b = find(id);
  // Trailers end the body; they are not forwarded (nor are an HTTP/1.1 client's).
  if (b != nullptr && b->exchange != nullptr) b->exchange->streamRequestBody({}, true);
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
  if (b == nullptr || !b->backed_up || queued > kStreamHighWater / 2) return;
  b->backed_up = false;
  resumed_.push_back(id);  // its exchange resumes in flush(), outside the codec
}

// A client can stop taking an answer: a zero flow-control window it never reopens (SETTINGS
// INITIAL_WINDOW_SIZE 0, no WINDOW_UPDATE), or a socket it does not read. Memory stays bounded
// (the codec's queue, the exchange's buffer), but the stream, its exchange and the
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

void StreamBridge::answerInformational(const ResponseHead& head) {
  if (response_started || head.status == 101) return;
  (void)owner.codec().submitInformational(id, head.status, h2FieldsFromH1(head.headers));
  owner.flushLater();
}

void StreamBridge::answerHead(ResponseHead& head, bool no_body) {
  if (response_started) return;  // one final head per stream
  response_started = true;
  Http2ServerSession& codec = owner.codec();
  if (!codec.submitResponse(id, head.status, h2ResponseFieldsFromH1(std::move(head)), no_body)
           .ok()) {
    // A field HTTP/2 cannot carry, or the stream is gone: the client learns by a reset, the
    // exchange when the stream closes (~StreamBridge).
    (void)codec.resetStream(id, kH2InternalError);
    response_done = true;
  }
  if (no_body) response_done = true;
  owner.flushLater();
}

void StreamBridge::answerBody(Buffer& bytes) {
  if (!response_started || response_done) {
    bytes.clear();
    return;
  }
  (void)owner.codec().submitData(id, bytes, false);
  owner.flushLater();
}

void StreamBridge::answerEnd(const Headers* trailers) {
  if (!response_started || response_done) return;
  response_done = true;
  Http2ServerSession& codec = owner.codec();
  if (trailers != nullptr && !trailers->empty()) {
    (void)codec.submitTrailers(id, h2FieldsFromH1(*trailers));
  } else {
    (void)codec.submitData(id, std::string_view(), true);
  }
  owner.flushLater();
}

bool StreamBridge::answerBackedUp() const {
  if (owner.codec().outboundQueued(id) < kStreamHighWater) return false;
  backed_up = true;  // onDataSent tells the exchange once the client took half of it
  return true;
}

void StreamBridge::requestTaken(size_t n) {
  if (n == 0) return;
  owner.codec().consumed(id, n);
  owner.flushLater();  // WINDOW_UPDATEs
}

void StreamBridge::exchangeEnded() {
  exchange = nullptr;
  // Request bytes it had not taken yet (it ended mid-upload: a refusal, an error) never will
  // be: the client's windows must not stay short by them while the stream is still open.
  Http2ServerSession& codec = owner.codec();
  if (const uint64_t left = codec.unconsumed(id)) codec.consumed(id, static_cast<size_t>(left));
  // The exchange ended before its answer was whole (the origin failed mid-answer, a filter cut
  // it): the only honest signal left is to reset the stream.
  if (!response_done) {
    response_done = true;
    (void)codec.resetStream(id, kH2InternalError);
  }
  owner.flushLater();
}

StreamBridge::~StreamBridge() {
  // The stream closed or was reset before its exchange ended (the client cancelled, or the
  // connection is going): the exchange is aborted, and its upstream request with it.
  if (exchange != nullptr) exchange->abortStream();
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
