#include "filters/rate_limiter/token_buckets.h"

#include <algorithm>
#include <cmath>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace aiw {
namespace {

// Refilling adds rate * elapsed in floating point; a bucket that should hold exactly one token
// may hold 0.9999999999. Tolerating that keeps "burst N, rate N, one second later" exact.
constexpr double kEpsilon = 1e-9;

}  // namespace

struct TokenBuckets::Shard {
  struct Bucket {
    std::string key;
    double tokens = 0;
    TimePoint refilled{};
  };
  using Lru = std::list<Bucket>;

  // Guards everything below.
  std::mutex mu;
  Lru lru;  // most recently used first
  // Keys are views of the list nodes' own strings: list nodes never move, and the entry is
  // erased before its node is.
  std::unordered_map<std::string_view, Lru::iterator> index;
  size_t capacity = 1;
};

struct TokenBuckets::Table {
  Limits limits;
  size_t shard_count = 1;
  std::unique_ptr<Shard[]> shards;  // an array: a mutex never moves
};

TokenBuckets::TokenBuckets(std::vector<Limits> tables, Clock clock, size_t shards)
    : clock_(std::move(clock)) {
  for (const Limits& limits : tables) {
    auto table = std::make_unique<Table>();
    table->limits = limits;
    uint64_t max_keys = std::max<uint64_t>(limits.max_keys, 1);
    table->shard_count =
        static_cast<size_t>(std::min<uint64_t>(std::max<size_t>(shards, 1), max_keys));
    table->shards = std::make_unique<Shard[]>(table->shard_count);
    // Spread max_keys exactly: the first (max_keys % n) shards take one more.
    uint64_t base = max_keys / table->shard_count;
    uint64_t extra = max_keys % table->shard_count;
    for (size_t i = 0; i < table->shard_count; ++i) {
      table->shards[i].capacity = static_cast<size_t>(base + (i < extra ? 1 : 0));
    }
    tables_.push_back(std::move(table));
  }
}

TokenBuckets::~TokenBuckets() = default;

TokenBuckets::Shard& TokenBuckets::shardOf(const Table& table, std::string_view key) const {
  return table.shards[std::hash<std::string_view>{}(key) % table.shard_count];
}

double TokenBuckets::takeOrWait(Table& table, std::string_view key, TimePoint now, bool take) {
  const Limits& limits = table.limits;
  Shard& shard = shardOf(table, key);
  std::lock_guard lock(shard.mu);
  Shard::Bucket* bucket;
  auto found = shard.index.find(key);
  if (found == shard.index.end()) {
    if (shard.lru.size() >= shard.capacity) {
      shard.index.erase(shard.lru.back().key);
      shard.lru.pop_back();
      live_.fetch_sub(1, std::memory_order_relaxed);
    }
    shard.lru.push_front({std::string(key), static_cast<double>(limits.burst), now});
    shard.index.emplace(shard.lru.front().key, shard.lru.begin());
    live_.fetch_add(1, std::memory_order_relaxed);
    bucket = &shard.lru.front();
  } else {
    shard.lru.splice(shard.lru.begin(), shard.lru, found->second);
    bucket = &*found->second;
    // A clock that steps back (only a test's can) refills nothing rather than draining.
    if (now > bucket->refilled) {
      double elapsed = std::chrono::duration<double>(now - bucket->refilled).count();
      bucket->tokens =
          std::min(static_cast<double>(limits.burst), bucket->tokens + limits.rate * elapsed);
      bucket->refilled = now;
    }
  }
  if (bucket->tokens + kEpsilon >= 1.0) {
    if (take) bucket->tokens = std::max(0.0, bucket->tokens - 1.0);
    return 0;
  }
  return (1.0 - bucket->tokens) / limits.rate;
}

void TokenBuckets::giveBack(Table& table, std::string_view key) {
  Shard& shard = shardOf(table, key);
  std::lock_guard lock(shard.mu);
  auto found = shard.index.find(key);
  if (found == shard.index.end()) return;
  Shard::Bucket& bucket = *found->second;
  bucket.tokens = std::min(static_cast<double>(table.limits.burst), bucket.tokens + 1.0);
}

TokenBuckets::Outcome TokenBuckets::acquire(std::span<const Want> wants) {
  Outcome out;
  if (wants.empty()) return out;
  TimePoint now = clock_();
  size_t taken = 0;  // wants[0, taken) hold a token of this call
  double wait = 0;   // the longest wait among the empty buckets
  for (size_t i = 0; i < wants.size(); ++i) {
    Table& table = *tables_[wants[i].table];
    // Once refused, the remaining buckets are only looked at, for the longest wait.
    double w = takeOrWait(table, wants[i].key, now, /*take=*/out.allowed);
    if (w > 0) {
      if (out.allowed) out.refused = i;
      out.allowed = false;
      wait = std::max(wait, w);
    } else if (out.allowed) {
      taken = i + 1;
    }
  }
  if (out.allowed) return out;
  for (size_t i = 0; i < taken; ++i) giveBack(*tables_[wants[i].table], wants[i].key);
  double seconds = std::ceil(wait - kEpsilon);
  out.retry_after_s = seconds >= static_cast<double>(UINT32_MAX)
                          ? UINT32_MAX
                          : std::max<uint32_t>(1, static_cast<uint32_t>(seconds));
  return out;
}

size_t TokenBuckets::size(size_t table) const {
  const Table& t = *tables_.at(table);
  size_t n = 0;
  for (size_t i = 0; i < t.shard_count; ++i) {
    std::lock_guard lock(t.shards[i].mu);
    n += t.shards[i].lru.size();
  }
  return n;
}

std::optional<double> TokenBuckets::tokens(size_t table, std::string_view key) const {
  const Table& t = *tables_.at(table);
  Shard& shard = shardOf(t, key);
  std::lock_guard lock(shard.mu);
  auto found = shard.index.find(key);
  if (found == shard.index.end()) return std::nullopt;
  return found->second->tokens;
}

}  // namespace aiw
