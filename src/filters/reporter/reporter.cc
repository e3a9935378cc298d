#include "filters/reporter/reporter.h"

#include "core/log.h"

namespace aiw {

namespace {
// How long the thread sleeps when idle; it wakes at once for events, settings,
// flush and stop.
constexpr std::chrono::milliseconds kIdleWait{500};
}  // namespace

Reporter::Reporter(std::string state_dir)
    : state_dir_(std::move(state_dir)), queue_(kDefaultQueue), ring_(kDefaultRing) {
  thread_ = std::thread([this] { run(); });
}

Reporter::~Reporter() { shutdown(); }

void Reporter::configure(ReporterSettings settings) {
  {
    std::lock_guard<std::mutex> lock(settings_mu_);
    pending_settings_ = std::make_unique<ReporterSettings>(std::move(settings));
  }
  queue_.wake();
}

bool Reporter::submit(ReportEvent event) {
  if (stopped_.load(std::memory_order_relaxed)) return false;
  return queue_.push(std::move(event));
}

void Reporter::flush() {
  uint64_t target;
  {
    std::lock_guard<std::mutex> lock(flush_mu_);
    target = ++flush_requested_;
  }
  std::unique_lock<std::mutex> lock(flush_mu_);
  while (flush_done_ < target && !stopped_.load()) {
    lock.unlock();
    queue_.wake();  // again each round: the thread may have consumed an earlier
                    // wake
    lock.lock();
    flush_cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
}

void Reporter::shutdown() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  queue_.wake();
  thread_.join();
}

std::string Reporter::resolvePath(const std::string &path) const {
  if (!path.empty() && path.front() == '/') return path;
  std::string base = state_dir_.empty() ? "." : state_dir_;
  return base + "/" + (path.empty() ? "events.jsonl" : path);
}

void Reporter::applySettings(const ReporterSettings &settings) {
  queue_.setCapacity(settings.queue);
  ring_.setCapacity(settings.ring);
  std::vector<std::unique_ptr<JsonlSink>> next;
  for (JsonlSinkConfig config : settings.jsonl) {
    config.path = resolvePath(config.path);
    std::unique_ptr<JsonlSink> sink;
    for (auto &old : sinks_) {
      if (old && old->config() == config) sink = std::move(old);  // unchanged: kept open
    }
    if (!sink) {
      auto opened = JsonlSink::open(config);
      if (!opened.ok()) {
        sink_errors_.fetch_add(1, std::memory_order_relaxed);
        log::error("reporter: sink not opened", {{"error", opened.error().message}});
        continue;
      }
      sink = std::move(opened).value();
      log::info("reporter: jsonl sink", {{"path", config.path}});
    }
    next.push_back(std::move(sink));
  }
  for (auto &old : sinks_) {
    if (old) (void)old->sync();  // closed by this reconfiguration: what it has is on disk
  }
  sinks_ = std::move(next);
}

void Reporter::deliver(std::deque<ReportEvent> &batch) {
  if (batch.empty()) return;
  std::vector<std::string> lines;
  lines.reserve(batch.size());
  for (const ReportEvent &e : batch) lines.push_back(encodeEvent(e));
  batch.clear();
  for (auto &sink : sinks_) {
    auto r = sink->write(lines);
    if (!r.ok()) {
      sink_errors_.fetch_add(1, std::memory_order_relaxed);
      if (!error_logged_) log::error("reporter: sink write failed", {{"error", r.error().message}});
      error_logged_ = true;
    } else {
      error_logged_ = false;
    }
  }
  written_.fetch_add(lines.size(), std::memory_order_relaxed);
  for (std::string &line : lines) ring_.push(std::move(line));
}

void Reporter::syncSinks() {
  for (auto &sink : sinks_) {
    if (auto r = sink->sync(); !r.ok()) {
      log::error("reporter: sink sync failed", {{"error", r.error().message}});
    }
  }
}

void Reporter::run() {
  std::deque<ReportEvent> batch;
  for (;;) {
    uint64_t flush_target;
    {
      std::lock_guard<std::mutex> lock(flush_mu_);
      flush_target = flush_requested_;
    }
    queue_.takeAll(batch, kIdleWait);
    std::unique_ptr<ReporterSettings> settings;
    {
      std::lock_guard<std::mutex> lock(settings_mu_);
      settings = std::move(pending_settings_);
    }
    if (settings) applySettings(*settings);
    deliver(batch);
    const bool stop = stopping_.load();
    if (stop) {
      // The workers are done: whatever is still queued is the last of it.
      queue_.takeAll(batch, std::chrono::milliseconds(0));
      deliver(batch);
      syncSinks();
      stopped_.store(true);
    }
    {
      std::lock_guard<std::mutex> lock(flush_mu_);
      flush_done_ = stop ? flush_requested_ : flush_target;
    }
    flush_cv_.notify_all();
    if (stop) return;
  }
}

}  // namespace aiw
