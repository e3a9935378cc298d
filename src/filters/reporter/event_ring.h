// EventRing: the most recent encoded events, for GET /proxy/v1/events. Bounded:
// the oldest go first.
//
// Locking: a std::mutex; the reporter thread appends, the admin thread copies
// out. Both hold it only to move strings in or copy them out.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace aiw {

class EventRing {
 public:
  explicit EventRing(size_t capacity) : capacity_(capacity) {}

  void push(std::string json);
  // The newest `limit` events (at most), oldest first.
  std::vector<std::string> recent(size_t limit) const;
  // Shrinking drops the oldest.
  void setCapacity(size_t capacity);
  size_t capacity() const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::deque<std::string> events_;  // guarded by mu_
  size_t capacity_;                 // guarded by mu_
};

}  // namespace aiw
