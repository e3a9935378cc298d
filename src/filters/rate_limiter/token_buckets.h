// TokenBuckets: the rate_limiter's bucket store, one per built rate_limiter stage, shared by the
// filters of every worker through the factory (rate_limiter.h).
//
// The store has one table per configured bucket entry, and a table one bucket per key value
// (a session id, a client address, a tool name...), created full on first use. A bucket holds
// `tokens` (a double, so fractional rates refill smoothly) and the time it was last refilled;
// refilling is lazy, on each use: tokens = min(burst, tokens + rate * elapsed).
//
// Locking: a table is split into shards by a hash of the key. A shard is a mutex, a hash map and
// an LRU list, and every read or write of a bucket holds its shard's mutex (never two at once:
// no lock order to get wrong). A token is taken under the same lock that saw it, so workers
// racing for one key never take more tokens than the bucket holds: the limit is exact across
// workers. Only the live-bucket gauge is outside the locks (a relaxed atomic).
//
// Bound: a table holds at most `max_keys` buckets, split evenly over its shards. A shard that is
// full evicts its least recently used bucket; the order is kept per shard, so the bucket evicted
// is the shard's oldest, which with a uniform hash is close to the table's oldest. An evicted key
// that comes back starts with a full bucket again (the price of a bounded store).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace aiw {

class TokenBuckets {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // Where "now" comes from: steady_clock in production, a hand-moved time in tests (no sleeps).
  // Called once per acquire(), from any worker thread: it must be thread-safe.
  using Clock = std::function<TimePoint()>;

  static constexpr size_t kDefaultShards = 16;

  // One table's limits (one configured bucket entry).
  struct Limits {
    double rate = 1;        // tokens added per second, > 0
    uint32_t burst = 1;     // bucket size, >= 1
    uint64_t max_keys = 1;  // live buckets in the table, >= 1
  };

  // One bucket an exchange must take a token from: a table and the key's value there.
  struct Want {
    size_t table = 0;
    std::string_view key;
  };

  struct Outcome {
    bool allowed = true;
    // When refused: the index in `wants` of the first empty bucket, and the whole seconds until
    // every empty bucket has a token again (rounded up, at least 1).
    size_t refused = 0;
    uint32_t retry_after_s = 0;
  };

  // `shards`: the most shards per table (fewer when max_keys is smaller, so each has room).
  TokenBuckets(std::vector<Limits> tables, Clock clock, size_t shards = kDefaultShards);
  ~TokenBuckets();
  TokenBuckets(const TokenBuckets&) = delete;
  TokenBuckets& operator=(const TokenBuckets&) = delete;

  // Takes one token from every bucket of `wants`, or from none: when one is empty, the tokens
  // already taken for this call are given back and the call is refused. Thread-safe.
  //
  // All or none is per call, not a transaction over the tables: between taking from one bucket
  // and giving back after another refused, a concurrent call may see the first one a token
  // short and be refused too. That can only refuse slightly more under contention, never let
  // more through than a bucket allows, which is the side a limiter should err on.
  Outcome acquire(std::span<const Want> wants);

  size_t tables() const { return tables_.size(); }
  // Live buckets over all tables (relaxed: a gauge read by the admin thread).
  size_t size() const { return live_.load(std::memory_order_relaxed); }
  // Live buckets of one table (locks each of its shards in turn: for tests and diagnostics).
  size_t size(size_t table) const;
  // The tokens of one bucket as last refilled (no refill, no LRU touch); nullopt when the key
  // has no live bucket. For tests and diagnostics.
  std::optional<double> tokens(size_t table, std::string_view key) const;

 private:
  struct Shard;
  struct Table;

  // Refills the bucket of `key` (creating it full, evicting if the shard is full) and, when
  // `take`, takes a token if it has one. Returns 0 when a token was (or could be) taken, else
  // the seconds until one is back.
  double takeOrWait(Table& table, std::string_view key, TimePoint now, bool take);
  // Gives back a token taken by takeOrWait (nothing when the bucket was evicted since).
  void giveBack(Table& table, std::string_view key);
  Shard& shardOf(const Table& table, std::string_view key) const;

  std::vector<std::unique_ptr<Table>> tables_;
  Clock clock_;
  std::atomic<size_t> live_{0};
};

}  // namespace aiw
