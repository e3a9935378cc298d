// Snapshot: everything configured, immutable, published as std::shared_ptr<const Snapshot>.
// A reload builds a new one off the data path and swaps the pointer; each connection keeps the
// snapshot it started with, so a swap never changes the rules under an exchange in flight.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "core/config.h"

namespace aiw {

class FilterChain;  // filters/chain.h; core only holds it

struct Snapshot {
  Config config;
  std::shared_ptr<const FilterChain> chain;
  uint64_t generation = 0;  // 1 for the configuration loaded at start-up, +1 per reload
};

class SnapshotHolder {
 public:
  std::shared_ptr<const Snapshot> get() const { return current_.load(std::memory_order_acquire); }
  void set(std::shared_ptr<const Snapshot> s) { current_.store(std::move(s), std::memory_order_release); }

 private:
  std::atomic<std::shared_ptr<const Snapshot>> current_;
};

}  // namespace aiw
