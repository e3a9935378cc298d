#include "filters/reporter/reporter.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "core/thread_name.h"

namespace aiw {

namespace {
// How long the thread sleeps when idle; it wakes at once for events, settings,
// flush and stop.
constexpr std::chrono::milliseconds kIdleWait{500};
// Once an event is queued, how long the reporter thread lets others join it before it writes
// them: events reach the sinks and the ring at most this much later.
constexpr std::chrono::milliseconds kLinger{5};
// The largest batch storage kept between batches (a lingering batch ends at this size).
constexpr size_t kKeptBatchCapacity = EventQueue::kLingerBatch;
}  // namespace

Reporter::Reporter(std::string state_dir)
    : state_dir_(std::move(state_dir)), queue_(kDefaultQueue), ring_(kDefaultRing) {
  thread_ = std::thread([this] {
    nameThisThread("aiw-reporter");
    run();
  });
}

Reporter::~Reporter() { shutdown(); }

void Reporter::configure(ReporterSettings settings) {
  {
    std::lock_guard<std::mutex> lock(settings_mu_);
    pending_settings_ = std::make_unique<ReporterSettings>(std::move(settings));
  }
  queue_.wake();
}

bool Reporter::submit(ReportEvent &&event) {
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
  applyHttpSettings(settings);
}

void Reporter::applyHttpSettings(const ReporterSettings &settings) {
  std::vector<std::unique_ptr<HttpSink>> kept(settings.http.size());
  for (size_t i = 0; i < settings.http.size(); ++i) {
    for (auto &old : http_sinks_) {
      if (old && old->config() == settings.http[i]) kept[i] = std::move(old);
    }
  }
  // The sinks not kept close before any new one opens: a changed sink with the same name
  // reopens the same spool file, which must have one owner at a time.
  uint64_t closed_dropped = 0;
  for (auto &old : http_sinks_) {
    if (old) closed_dropped += old->stats()->dropped.load(std::memory_order_relaxed);
  }
  http_sinks_.clear();
  const std::string spool_dir = (state_dir_.empty() ? std::string(".") : state_dir_) + "/spool";
  if (!settings.http.empty() && ::mkdir(spool_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    sink_errors_.fetch_add(1, std::memory_order_relaxed);
    log::error("reporter: cannot create the spool directory",
               {{"path", spool_dir}, {"error", std::strerror(errno)}});
  }
  std::vector<std::shared_ptr<const HttpSinkStats>> stats;
  std::vector<std::string> names;
  for (size_t i = 0; i < settings.http.size(); ++i) {
    std::unique_ptr<HttpSink> sink = std::move(kept[i]);
    if (!sink) {
      auto opened = HttpSink::open(settings.http[i], spool_dir);
      if (!opened.ok()) {
        sink_errors_.fetch_add(1, std::memory_order_relaxed);
        log::error("reporter: http sink not opened",
                   {{"sink", settings.http[i].name}, {"error", opened.error().message}});
        continue;
      }
      sink = std::move(opened).value();
      log::info("reporter: http sink",
                {{"sink", settings.http[i].name},
                 {"url", settings.http[i].url},
                 {"spool", sink->spool().path()},
                 {"spooled_bytes", std::to_string(sink->spool().pendingBytes())}});
    }
    stats.push_back(sink->stats());
    names.push_back(sink->config().name);
    http_sinks_.push_back(std::move(sink));
  }
  std::lock_guard<std::mutex> lock(stats_mu_);
  closed_sinks_dropped_ += closed_dropped;
  http_stats_ = std::move(stats);
  http_names_ = std::move(names);
}

std::vector<FilterStat> Reporter::httpStats() const {
  std::vector<FilterStat> out;
  std::lock_guard<std::mutex> lock(stats_mu_);
  uint64_t dropped = closed_sinks_dropped_;
  for (size_t i = 0; i < http_stats_.size(); ++i) {
    const HttpSinkStats &s = *http_stats_[i];
    const std::string prefix = "reporter.http." + http_names_[i] + ".";
    uint64_t d = s.dropped.load(std::memory_order_relaxed);
    dropped += d;
    out.push_back({prefix + "delivered", s.delivered.load(std::memory_order_relaxed)});
    out.push_back({prefix + "failed_attempts", s.failed_attempts.load(std::memory_order_relaxed)});
    out.push_back({prefix + "spooled_bytes", s.spooled_bytes.load(std::memory_order_relaxed), true});
    out.push_back({prefix + "dropped", d});
  }
  out.push_back({"reporter.spool_dropped", dropped});
  return out;
}

void Reporter::reportDrops(const std::vector<std::pair<std::string, uint64_t>> &drops) {
  for (const auto &[sink, count] : drops) {
    // Straight onto the queue: the next batch carries it to every sink and the ring.
    (void)queue_.push(droppedEventsEvent(sink, count, std::chrono::system_clock::now()));
  }
}

void Reporter::deliver(std::vector<ReportEvent> &batch) {
  if (batch.empty()) return;
  std::vector<std::string> lines;
  lines.reserve(batch.size());
  for (const ReportEvent &e : batch) lines.push_back(encodeEvent(e));
  if (!http_sinks_.empty()) {
    std::vector<const ReportEvent *> events;
    events.reserve(batch.size());
    for (const ReportEvent &e : batch) events.push_back(&e);
    std::vector<std::pair<std::string, uint64_t>> drops;
    for (auto &sink : http_sinks_) {
      auto r = sink->append(events, lines);
      if (!r.ok()) {
        sink_errors_.fetch_add(1, std::memory_order_relaxed);
        if (!error_logged_) {
          log::error("reporter: http sink spool write failed", {{"error", r.error().message}});
        }
        error_logged_ = true;
      } else if (r.value() > 0) {
        drops.emplace_back(sink->config().name, r.value());
      }
    }
    reportDrops(drops);
  }
  batch.clear();
  // The batch's storage goes back to the queue on the next take; a burst's worth (events are
  // ~1 KiB) is not kept for ever.
  if (batch.capacity() > kKeptBatchCapacity) std::vector<ReportEvent>().swap(batch);
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
  for (auto &sink : http_sinks_) {
    if (auto r = sink->sync(); !r.ok()) {
      log::error("reporter: http sink spool sync failed", {{"error", r.error().message}});
    }
  }
  for (auto &sink : sinks_) {
    if (auto r = sink->sync(); !r.ok()) {
      log::error("reporter: sink sync failed", {{"error", r.error().message}});
    }
  }
}

void Reporter::run() {
  std::vector<ReportEvent> batch;
  for (;;) {
    uint64_t flush_target;
    {
      std::lock_guard<std::mutex> lock(flush_mu_);
      flush_target = flush_requested_;
    }
    queue_.takeAll(batch, kIdleWait, kLinger);
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
      // A drop episode still going on is reported now, or it never would be.
      std::vector<std::pair<std::string, uint64_t>> drops;
      for (auto &sink : http_sinks_) {
        if (sink->droppingNow() > 0) drops.emplace_back(sink->config().name, sink->droppingNow());
      }
      reportDrops(drops);
      queue_.takeAll(batch, std::chrono::milliseconds(0));
      deliver(batch);
      syncSinks();
      // The senders stop here (an attempt in flight is abandoned): what they had not
      // delivered stays in the spools for the next start.
      http_sinks_.clear();
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
