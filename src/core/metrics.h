// Metrics: process-wide counters kept per worker (one shard per thread, single writer, relaxed
// atomics so the admin thread reads them race-free) and summed when read. No lock and no shared
// cache line on the request path.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace aiw {

// Latency histogram buckets in microseconds (upper bounds), roughly 1-2-5 per decade.
inline constexpr std::array<uint64_t, 20> kLatencyBucketsUs = {
    100,    200,    500,    1000,   2000,    5000,    10000,   20000,    50000,    100000,
    200000, 500000, 1000000, 2000000, 5000000, 10000000, 30000000, 60000000, 120000000, 300000000};

struct alignas(64) MetricsShard {
  std::atomic<uint64_t> calls{0};         // HTTP exchanges completed (any outcome)
  std::atomic<uint64_t> errors{0};        // exchanges that failed (upstream error, bad request)
  std::atomic<uint64_t> blocked{0};       // exchanges refused by a filter
  std::atomic<uint64_t> modified{0};
  std::atomic<uint64_t> rate_limited{0};
  std::atomic<uint64_t> bypassed{0};      // blind tunnels opened
  std::atomic<uint64_t> intercepted{0};   // CONNECTs whose TLS was terminated for inspection
  std::atomic<uint64_t> tunnels_active{0};
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};  // over max_connections
  std::atomic<uint64_t> bad_requests{0};
  std::atomic<uint64_t> header_timeouts{0};
  std::atomic<uint64_t> upstream_connects{0};
  std::atomic<uint64_t> upstream_reused{0};
  std::atomic<uint64_t> tunnel_bytes{0};
  std::atomic<uint64_t> latency_total_us{0};
  std::array<std::atomic<uint64_t>, kLatencyBucketsUs.size() + 1> latency_buckets{};  // +Inf last

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void recordLatency(std::chrono::microseconds us);
};

struct MetricsTotals {
  uint64_t calls = 0, errors = 0, blocked = 0, modified = 0, rate_limited = 0, bypassed = 0,
           intercepted = 0,
           tunnels_active = 0, connections_accepted = 0, connections_refused = 0,
           bad_requests = 0, header_timeouts = 0, upstream_connects = 0, upstream_reused = 0,
           tunnel_bytes = 0, latency_total_us = 0;
  std::array<uint64_t, kLatencyBucketsUs.size() + 1> latency_buckets{};
  double latencyQuantileMs(double q) const;  // from the histogram (bucket upper bound)
};

class Metrics {
 public:
  explicit Metrics(size_t shards);
  MetricsShard& shard(size_t i) { return *shards_[i]; }
  size_t shardCount() const { return shards_.size(); }
  MetricsTotals totals() const;
  // Zeroes every counter (POST /proxy/v1/reset). Counters being written concurrently may keep
  // an increment from just before the reset; that is acceptable for a reset.
  void reset();
  std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  std::vector<std::unique_ptr<MetricsShard>> shards_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace aiw
