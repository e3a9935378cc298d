#include "core/metrics.h"

#include <algorithm>
#include <cmath>

namespace aiw {

void MetricsShard::recordLatency(std::chrono::microseconds us) {
  auto v = static_cast<uint64_t>(std::max<int64_t>(0, us.count()));
  bump(latency_total_us, v);
  size_t i = static_cast<size_t>(
      std::lower_bound(kLatencyBucketsUs.begin(), kLatencyBucketsUs.end(), v) -
      kLatencyBucketsUs.begin());
  bump(latency_buckets[i]);
}

Metrics::Metrics(size_t shards) {
  for (size_t i = 0; i < std::max<size_t>(1, shards); ++i) {
    shards_.push_back(std::make_unique<MetricsShard>());
  }
}

MetricsTotals Metrics::totals() const {
  MetricsTotals t;
  auto rd = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  for (const auto& s : shards_) {
    t.calls += rd(s->calls);
    t.errors += rd(s->errors);
    t.blocked += rd(s->blocked);
    t.modified += rd(s->modified);
    t.rate_limited += rd(s->rate_limited);
    t.bypassed += rd(s->bypassed);
    t.intercepted += rd(s->intercepted);
    t.tunnels_active += rd(s->tunnels_active);
    t.connections_accepted += rd(s->connections_accepted);
    t.connections_refused += rd(s->connections_refused);
    t.bad_requests += rd(s->bad_requests);
    t.header_timeouts += rd(s->header_timeouts);
    t.upstream_connects += rd(s->upstream_connects);
    t.upstream_reused += rd(s->upstream_reused);
    t.tunnel_bytes += rd(s->tunnel_bytes);
    t.latency_total_us += rd(s->latency_total_us);
    for (size_t i = 0; i < t.latency_buckets.size(); ++i) {
      t.latency_buckets[i] += rd(s->latency_buckets[i]);
    }
  }
  return t;
}

void Metrics::reset() {
  for (auto& s : shards_) {
    for (auto* c : {&s->calls, &s->errors, &s->blocked, &s->modified, &s->rate_limited,
                    &s->bypassed, &s->intercepted, &s->connections_accepted, &s->connections_refused,
                    &s->bad_requests, &s->header_timeouts, &s->upstream_connects,
                    &s->upstream_reused, &s->tunnel_bytes, &s->latency_total_us}) {
      c->store(0, std::memory_order_relaxed);
    }
    for (auto& b : s->latency_buckets) b.store(0, std::memory_order_relaxed);
  }
  started_ = std::chrono::steady_clock::now();
}

double MetricsTotals::latencyQuantileMs(double q) const {
  uint64_t count = 0;
  for (auto b : latency_buckets) count += b;
  if (count == 0) return 0.0;
  // Nearest rank (ceil(q·n)), as Prometheus' histogram_quantile reads it: with few samples the
  // slowest still shows in p99.
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count)));
  rank = std::clamp<uint64_t>(rank, 1, count);
  uint64_t seen = 0;
  for (size_t i = 0; i < latency_buckets.size(); ++i) {
    seen += latency_buckets[i];
    if (seen >= rank) {
      uint64_t upper = i < kLatencyBucketsUs.size() ? kLatencyBucketsUs[i]
                                                     : kLatencyBucketsUs.back() * 2;
      return static_cast<double>(upper) / 1000.0;
    }
  }
  return static_cast<double>(kLatencyBucketsUs.back()) / 1000.0;
}

}  // namespace aiw
