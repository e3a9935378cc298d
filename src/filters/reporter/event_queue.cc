#include "filters/reporter/event_queue.h"

namespace aiw {

bool EventQueue::push(ReportEvent &&event) {
  bool notify = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (events_.size() >= capacity_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    events_.push_back(std::move(event));
    // Only the first event wakes an idle consumer (the rest join its linger), and a full batch
    // or a queue half full ends the linger early.
    notify = (consumer_waiting_ && events_.size() == 1) || events_.size() == kLingerBatch ||
             events_.size() == capacity_ / 2;
  }
  accepted_.fetch_add(1, std::memory_order_relaxed);
  if (notify) cv_.notify_one();
  return true;
}

bool EventQueue::takeAll(std::vector<ReportEvent> &out, std::chrono::milliseconds timeout,
                         std::chrono::milliseconds linger) {
  std::unique_lock<std::mutex> lock(mu_);
  consumer_waiting_ = true;
  cv_.wait_for(lock, timeout, [this] { return !events_.empty() || woken_; });
  consumer_waiting_ = false;
  if (!events_.empty() && !woken_ && linger.count() > 0) {
    cv_.wait_for(lock, linger, [this] {
      return woken_ || events_.size() >= kLingerBatch || events_.size() >= capacity_ / 2;
    });
  }
  if (out.empty()) {
    out.swap(events_);
  } else {
    for (ReportEvent &e : events_) out.push_back(std::move(e));
    events_.clear();
  }
  bool woken = woken_;
  woken_ = false;
  return woken;
}

void EventQueue::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void EventQueue::setCapacity(size_t capacity) {
  std::lock_guard<std::mutex> lock(mu_);
  capacity_ = capacity;
}

size_t EventQueue::capacity() const {
  std::lock_guard<std::mutex> lock(mu_);
  return capacity_;
}

size_t EventQueue::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_.size();
}

}  // namespace aiw
