// EventQueue: the bounded multi-producer, single-consumer queue between the
// workers (which submit events as exchanges complete) and the reporter thread
// (which drains it into the sinks).
//
// Locking: one std::mutex guards the vector; a condition variable wakes the
// consumer. Producers hold the mutex only for a push_back (no I/O; no allocation
// once the vector has grown to the usual batch), so a worker never waits on a sink.
// The consumer takes a batch by swapping vectors, so the storage circulates
// between the two sides instead of being allocated per event on a worker and
// freed on the reporter thread. A full queue drops
// the new event and counts it: traffic never waits for reporting (SPEC §5: the
// reporter never blocks traffic).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "filters/reporter/report_event.h"

namespace aiw {

class EventQueue {
 public:
  explicit EventQueue(size_t capacity) : capacity_(capacity) {}

  // Any thread. False (and counted in dropped()) when the queue holds
  // `capacity` events.
  bool push(ReportEvent &&event);
  // The consumer: waits until there is an event, wake() was called, or
  // `timeout` passed; then, once events are there, up to `linger` more for
  // others to join them (a batch per wake-up, not a wake-up per event: under
  // load that is the difference between a context switch per exchange and a
  // few hundred a second). Moves every queued event to `out` (appended; an
  // empty `out` is swapped in whole, and its capacity serves the next pushes).
  // Returns whether wake() was called since the last take.
  bool takeAll(std::vector<ReportEvent> &out, std::chrono::milliseconds timeout,
               std::chrono::milliseconds linger = std::chrono::milliseconds(0));
  // Events queued during a linger that end it early.
  static constexpr size_t kLingerBatch = 1024;
  // Makes a waiting takeAll() return now (new settings, a flush, shutdown).
  void wake();

  // Changes the bound; events already queued beyond it stay (they are
  // delivered).
  void setCapacity(size_t capacity);
  size_t capacity() const;
  size_t size() const;
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ReportEvent> events_;  // guarded by mu_
  size_t capacity_;                 // guarded by mu_
  bool woken_ = false;              // guarded by mu_
  bool consumer_waiting_ = false;   // guarded by mu_: takeAll is waiting for a first event
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> accepted_{0};
};

}  // namespace aiw
