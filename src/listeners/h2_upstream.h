// Upstream HTTP/2 (SPEC §4): origins that negotiate ALPN "h2" get multiplexed connections,
// shared by the exchanges of one worker, within each server's MAX_CONCURRENT_STREAMS; a new
// connection opens only when the others are full.
//
// An exchange to an h2 origin holds an H2Stream instead of a connection: its request goes in as
// a RequestHead and body bytes (translated to HEADERS and DATA of the shared Http2ClientSession),
// and its response comes back through H2Stream::deliver() to the same Http1ParserCallbacks an
// HTTP/1.1 origin's parser feeds, so the exchange logic is one for both versions and no HTTP/1.1
// text is written or parsed in between. A stream carries one exchange and is never pooled.
//
// Learning the protocol: the first TLS connection to an origin is a probe; exchanges to the same
// origin wait for its handshake (ALPN) instead of opening connections of their own, so a burst
// of requests to an h2 origin shares one connection from the start.
//
// Single-threaded: each worker has its own H2UpstreamPool.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/buffer.h"
#include "core/c_handles.h"
#include "core/result.h"
#include "http/message_head.h"
#include "upstream/pool.h"

struct event_base;
struct timeval;

namespace aiw {

class H2Upstream;
class H2UpstreamPool;
class Http1ParserCallbacks;

// The exchange an H2Stream belongs to: told when there is something to deliver() (response
// events, the stream's end or failure) and when the request body's queue has room again.
class H2StreamListener {
 public:
  virtual void onH2StreamReadable() = 0;
  virtual void onH2StreamWritable() = 0;

 protected:
  ~H2StreamListener() = default;
};

// One exchange's request on a shared HTTP/2 origin connection. Owned by the exchange;
// destroying it cancels the stream (RST_STREAM CANCEL) unless its response had ended.
class H2Stream {
 public:
  H2Stream(H2Upstream& conn, H2StreamListener& listener, std::shared_ptr<bool> listener_alive);
  ~H2Stream();
  H2Stream(const H2Stream&) = delete;
  H2Stream& operator=(const H2Stream&) = delete;

  // Opens the stream with `head` (refused as writeRequestHead would: error "invalid_head"), then
  // the body with sendBody() and sendEnd() when head.hasBody().
  Result<void> sendHead(const RequestHead& head);
  void sendBody(Buffer& bytes);  // moved
  void sendEnd();
  // The codec holds enough of this request's body: the listener hears onH2StreamWritable()
  // once the origin took half of it.
  bool requestBackedUp();

  // Delivers what arrived, as the HTTP/1.1 parser would: 1xx heads (each followed by its
  // onMessageComplete), the final head, body bytes, onMessageComplete. Stops when a callback
  // says Pause (paused()) or Stop. Error when the stream ended before its response did
  // ("upstream_reset", "upstream_timeout") or its head is malformed ("bad_response").
  Result<void> deliver(Http1ParserCallbacks& events);
  bool paused() const { return paused_; }
  void resume();
  // upstream.request_timeout_ms while the exchange waits on the origin (0: off): restarted by
  // every frame of this stream, not running while the exchange is paused.
  void setTimeout(uint32_t ms);

  // For H2Upstream (the codec's events for this stream, and the connection's end).
  void received();
  void onTimeout();
  void detach(const std::string& why);
  H2Upstream* conn = nullptr;  // null once the connection closed
  H2StreamListener& listener;
  std::shared_ptr<bool> listener_alive;
  int32_t id = 0;              // the stream while it is open
  bool head_request = false;
  bool request_has_body = false;
  bool request_paused = false;
  std::vector<ResponseHead> heads;  // received, not delivered yet
  Buffer body;
  bool ended = false;               // the response's end arrived
  std::string failure_code;         // the stream ended early: why (after what is queued)
  std::string failure_message;
  std::list<H2Stream*>::iterator self;  // in conn->attached_
  // Waiting to be told it is readable: in which of the connection's lists, at which index.
  enum class Queued : uint8_t { No, Readable, Notifying };
  Queued queued = Queued::No;
  size_t queued_at = 0;

 private:
  void armTimer();
  void disarmTimer();
  bool paused_ = false;
  bool stopped_ = false;    // a head callback said Stop: nothing more is delivered
  bool final_head_ = false;
  bool complete_ = false;   // onMessageComplete of the final response was delivered
  bool delivering_ = false;
  uint32_t timeout_ms_ = 0;
  std::chrono::steady_clock::time_point last_activity_{};
  EventPtr timer_;
  bool timer_armed_ = false;
};

// A TLS handshake to an origin whose ALPN answer is awaited. Finished (or destroyed: the
// connection failed, or was dropped unused) it wakes the exchanges waiting for it.
class HandshakeProbe {
 public:
  HandshakeProbe(H2UpstreamPool& pool, std::string key) : pool_(pool), key_(std::move(key)) {}
  ~HandshakeProbe() { finish(); }
  HandshakeProbe(const HandshakeProbe&) = delete;
  HandshakeProbe& operator=(const HandshakeProbe&) = delete;
  void finish();

 private:
  H2UpstreamPool& pool_;
  std::string key_;
  bool finished_ = false;
};

class H2UpstreamPool {
 public:
  H2UpstreamPool(event_base* base, size_t max_header_bytes);
  ~H2UpstreamPool();
  H2UpstreamPool(const H2UpstreamPool&) = delete;
  H2UpstreamPool& operator=(const H2UpstreamPool&) = delete;

  // A stream on an h2 connection to `key` with room for one, or null (none, or all full).
  // `alive` is the listener's liveness (false once it is destroyed).
  std::unique_ptr<H2Stream> openStream(const std::string& key, H2StreamListener& listener,
                                       std::shared_ptr<bool> alive);
  // Takes over a TLS connection that negotiated h2 and returns a stream on it (null when the
  // HTTP/2 session could not start).
  std::unique_ptr<H2Stream> adopt(std::unique_ptr<PooledConnection> tls,
                                  H2StreamListener& listener, std::shared_ptr<bool> alive);
  // A TLS connection whose handshake has just begun, made ahead of its first exchange (the
  // interception's reachability check): held here until ALPN tells, then kept as an h2
  // connection or parked in `h1_pool` (http/1.1). Exchanges to its origin wait meanwhile.
  void parkUntilHandshake(std::unique_ptr<PooledConnection> tls, ConnectionPool& h1_pool,
                          uint32_t timeout_ms);
  bool hasConnection(const std::string& key) const { return connections_.count(key) != 0; }

  // The handshake of a new connection to `key` begins: until the probe is finished, exchanges
  // to `key` that find no channel wait (waitForProbe) instead of connecting.
  std::shared_ptr<HandshakeProbe> probe(const std::string& key);
  bool probing(const std::string& key) const;
  // `retry` runs (on this thread, from the event loop) once no probe for `key` is pending.
  void waitForProbe(const std::string& key, std::function<void()> retry);

  // Closes every connection (drain: no new exchanges; in-flight streams are cut).
  void clear();
  size_t connectionCount() const;  // for tests and stats

  // Internal, for H2Upstream and HandshakeProbe.
  void probeFinished(const std::string& key);
  void connectionClosed(H2Upstream* conn);
  void runWaiters();
  void later(std::function<void()> fn);  // runs fn from the event loop, soon
  // The timeval to give event_add for a timer of `ms` (the streams' request timeout): libevent
  // keeps all timers of one such duration in a queue of its own, appended and removed in O(1),
  // instead of its heap, where a thousand streams in flight cost a climb each. Null when
  // libevent has no room for another duration (the caller passes its own timeval then).
  const timeval* commonTimeout(uint32_t ms);
  struct Parked;
  void onParkedEvent(Parked* parked, short what);

 private:
  H2Upstream* start(std::unique_ptr<PooledConnection> tls);

  event_base* base_;
  size_t max_header_bytes_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<H2Upstream>>> connections_;
  std::unordered_map<std::string, size_t> probes_;  // key -> handshakes in progress
  std::unordered_map<std::string, std::vector<std::function<void()>>> waiters_;
  std::vector<std::function<void()>> ready_;  // waiters whose probe ended, run by wake_ev_
  std::vector<std::unique_ptr<H2Upstream>> closed_;  // destroyed on the next loop turn
  std::list<std::unique_ptr<Parked>> parked_;
  EventPtr wake_ev_;
  std::vector<std::pair<uint32_t, const timeval*>> common_timeouts_;  // made by base_
};

}  // namespace aiw
