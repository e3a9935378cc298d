// Upstream HTTP/2 (SPEC §4): origins that negotiate ALPN "h2" get multiplexed connections,
// shared by the exchanges of one worker, within each server's MAX_CONCURRENT_STREAMS; a new
// connection opens only when the others are full.
//
// An exchange does not know which version its origin speaks: it writes HTTP/1.1 to what looks
// like an upstream connection and parses HTTP/1.1 back. For an h2 origin that "connection" is a
// channel: one end of an in-memory bufferevent pair whose other end an H2Upstream reads,
// turning each request into a stream of its shared Http2ClientSession and each answer back into
// HTTP/1.1 (the mirror of h2_downstream.h). A channel carries one exchange and is never pooled.
//
// Learning the protocol: the first TLS connection to an origin is a probe; exchanges to the same
// origin wait for its handshake (ALPN) instead of opening connections of their own, so a burst
// of requests to an h2 origin shares one connection from the start.
//
// Single-threaded: each worker has its own H2UpstreamPool.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/c_handles.h"
#include "upstream/pool.h"

struct event_base;

namespace aiw {

class H2Upstream;
class H2UpstreamPool;

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

  // A channel to an h2 connection to `key` with a free stream, or null (none, or all full).
  std::unique_ptr<PooledConnection> openChannel(const std::string& key);
  // Takes over a TLS connection that negotiated h2 and returns a channel on it (null when the
  // HTTP/2 session could not start).
  std::unique_ptr<PooledConnection> adopt(std::unique_ptr<PooledConnection> tls);
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
};

}  // namespace aiw
