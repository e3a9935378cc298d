#include "filters/reporter/event_ring.h"

namespace aiw {

void EventRing::push(std::string json) {
  std::lock_guard<std::mutex> lock(mu_);
  if (capacity_ == 0) return;
  while (events_.size() >= capacity_) events_.pop_front();
  events_.push_back(std::move(json));
}

std::vector<std::string> EventRing::recent(size_t limit) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = std::min(limit, events_.size());
  return std::vector<std::string>(events_.end() - static_cast<std::ptrdiff_t>(n), events_.end());
}

void EventRing::setCapacity(size_t capacity) {
  std::lock_guard<std::mutex> lock(mu_);
  capacity_ = capacity;
  while (events_.size() > capacity_) events_.pop_front();
}

size_t EventRing::capacity() const {
  std::lock_guard<std::mutex> lock(mu_);
  return capacity_;
}

size_t EventRing::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_.size();
}

}  // namespace aiw
