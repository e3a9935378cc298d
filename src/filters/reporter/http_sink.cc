#include "filters/reporter/http_sink.h"

#include <random>

#include "core/log.h"
#include "core/thread_name.h"
#include "tls/tls_context.h"

namespace aiw {

namespace {
// How long an idle sender sleeps before looking again; append() wakes it at once.
constexpr std::chrono::milliseconds kIdleWait{1000};
}  // namespace

Result<std::unique_ptr<HttpSink>> HttpSink::open(HttpSinkConfig config,
                                                 const std::string &spool_dir) {
  std::shared_ptr<const TlsClientContext> tls;
  if (config.target.tls) {
    auto made = TlsClientContext::create(config.ca_file, {"http/1.1"});
    if (!made.ok()) return made.error();
    tls = std::move(made).value();
  }
  auto spool = Spool::open(spool_dir + "/" + config.name + ".log", config.spool_bytes);
  if (!spool.ok()) return spool.error();
  std::unique_ptr<HttpSink> sink(
      new HttpSink(std::move(config), std::move(spool).value(), std::move(tls)));
  sink->stats_->spooled_bytes.store(sink->spool_->pendingBytes(), std::memory_order_relaxed);
  sink->sender_ = std::thread([s = sink.get()] {
    nameThisThread("aiw-sink-" + s->config_.name);
    s->run();
  });
  return sink;
}

HttpSink::HttpSink(HttpSinkConfig config, std::unique_ptr<Spool> spool,
                   std::shared_ptr<const TlsClientContext> tls)
    : config_(std::move(config)),
      spool_(std::move(spool)),
      poster_(config_.target, config_.headers, std::move(tls)) {}

HttpSink::~HttpSink() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_.store(true);
  }
  stop_cv_.notify_all();
  spool_->wake();
  if (sender_.joinable()) sender_.join();
  (void)spool_->sync();
}

Result<uint64_t> HttpSink::append(const std::vector<const ReportEvent *> &events,
                                  const std::vector<std::string> &encoded) {
  // Native records are the encoded events themselves: spooled as they are, not copied.
  std::vector<std::string> akto;
  const std::vector<std::string> *lines = &encoded;
  if (config_.format == HttpSinkFormat::Akto) {
    for (const ReportEvent *e : events) {
      std::string record = aktoRecord(*e, config_.akto);
      if (!record.empty()) akto.push_back(std::move(record));
    }
    lines = &akto;
  }
  if (lines->empty()) return uint64_t{0};
  auto dropped = spool_->append(*lines);
  if (!dropped.ok()) return dropped.error();
  stats_->spooled_bytes.store(spool_->pendingBytes(), std::memory_order_relaxed);
  uint64_t ended = 0;
  if (dropped.value() > 0) {
    stats_->dropped.fetch_add(dropped.value(), std::memory_order_relaxed);
    if (episode_dropped_ == 0) {
      log::warn("reporter: http sink spool full, dropping events",
                {{"sink", config_.name}, {"spool_bytes", std::to_string(config_.spool_bytes)}});
    }
    episode_dropped_ += dropped.value();
  }
  if (dropped.value() == 0 && episode_dropped_ > 0) {
    ended = episode_dropped_;
    episode_dropped_ = 0;
  }
  auto now = std::chrono::steady_clock::now();
  if (now - last_sync_ >= kSpoolSyncEvery) {
    last_sync_ = now;
    if (auto r = spool_->sync(); !r.ok()) return r.error();
  }
  return ended;
}

Result<void> HttpSink::sync() { return spool_->sync(); }

bool HttpSink::pause(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(stop_mu_);
  stop_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
  return !stopping_.load();
}

void HttpSink::run() {
  std::mt19937_64 rng{std::random_device{}()};
  std::chrono::milliseconds backoff = kBackoffMin;
  bool failing = false;  // one log line per run of failures
  std::chrono::steady_clock::time_point partial_since{};
  while (!stopping_.load()) {
    auto read = spool_->read(config_.batch);
    if (!read.ok()) {
      log::error("reporter: http sink spool read failed",
                 {{"sink", config_.name}, {"error", read.error().message}});
      if (!pause(std::chrono::milliseconds(config_.backoff_max_ms))) return;
      continue;
    }
    SpoolBatch &batch = read.value();
    if (batch.lines.empty()) {
      partial_since = {};
      spool_->waitForData(batch.end, kIdleWait);
      continue;
    }
    if (batch.lines.size() < config_.batch) {
      // A partial batch waits up to flush_ms (from when it was first seen) for more events.
      auto now = std::chrono::steady_clock::now();
      if (partial_since == std::chrono::steady_clock::time_point{}) partial_since = now;
      auto due = partial_since + std::chrono::milliseconds(config_.flush_ms);
      if (now < due) {
        spool_->waitForData(batch.end,
                            std::chrono::duration_cast<std::chrono::milliseconds>(due - now) +
                                std::chrono::milliseconds(1));
        continue;
      }
    }
    size_t bytes = 2;
    for (const std::string &l : batch.lines) bytes += l.size() + 1;
    std::string body;
    body.reserve(bytes);
    body += '[';
    for (size_t i = 0; i < batch.lines.size(); ++i) {
      if (i > 0) body += ',';
      body += batch.lines[i];
    }
    body += ']';
    auto status = poster_.post(body, std::chrono::milliseconds(config_.timeout_ms), stopping_);
    if (status.ok() && status.value() >= 200 && status.value() < 300) {
      if (auto r = spool_->ack(batch.end); !r.ok()) {
        log::error("reporter: http sink spool ack failed",
                   {{"sink", config_.name}, {"error", r.error().message}});
      }
      stats_->delivered.fetch_add(batch.lines.size(), std::memory_order_relaxed);
      stats_->spooled_bytes.store(spool_->pendingBytes(), std::memory_order_relaxed);
      if (failing) log::info("reporter: http sink delivering again", {{"sink", config_.name}});
      failing = false;
      backoff = kBackoffMin;
      partial_since = {};
      continue;
    }
    if (stopping_.load()) return;
    stats_->failed_attempts.fetch_add(1, std::memory_order_relaxed);
    if (!failing) {
      std::string why = status.ok() ? "HTTP " + std::to_string(status.value())
                                    : status.error().code + ": " + status.error().message;
      log::warn("reporter: http sink delivery failed, retrying with backoff",
                {{"sink", config_.name}, {"error", why}});
    }
    failing = true;
    // Jitter (half to all of the backoff): a fleet of proxies whose collector comes back does
    // not retry in lockstep.
    std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
    if (!pause(std::chrono::milliseconds(jitter(rng)))) return;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(config_.backoff_max_ms));
  }
}

}  // namespace aiw
