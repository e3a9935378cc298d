// Reporter: the process-wide reporting service — the event queue, the reporter
// thread, the sinks and the in-memory ring of recent events (SPEC §8). The
// `reporter` filter (reporter_filter.h) only builds events and submits them
// here.
//
// Ownership: the server creates one Reporter at start-up (after the state dir
// is resolved, before the first snapshot) and holds it in Runtime::reporter as
// a shared_ptr; each snapshot's reporter factory holds another reference
// (ChainBuildState::reporter), so a worker finishing an exchange on an old
// snapshot still has a live reporter. The Reporter outlives every snapshot: a
// reload never loses or duplicates queued events and never reopens a sink whose
// settings did not change. `aiwarden check` and unit tests build chains with no
// Reporter: their filters build nothing.
//
// Threads: workers call submit() (a short mutex push, EventQueue); the admin
// thread calls recent(); the snapshot builder calls configure() after a chain
// built. The reporter thread (one per process, started by the constructor) is
// the only one that touches sinks: it drains the queue in batches, encodes each
// event once, appends it to the ring and writes the batch to every sink. An http
// sink (http_sink.h) only appends the batch to its spool file there; its own
// sender thread does the network I/O, so a collector that is down or silent
// never delays the ring or the other sinks.
// configure() only hands new settings over; the thread applies them between
// batches (sinks opened, kept or closed; queue and ring bounds changed).
//
// Shutdown: shutdown() (SIGTERM, after the workers have stopped) lets the
// thread drain what is queued, fsync every sink, and joins it. The destructor
// does the same.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "filters/reporter/event_queue.h"
#include "filters/reporter/event_ring.h"
#include "filters/reporter/http_sink.h"
#include "filters/reporter/jsonl_sink.h"
#include "filters/reporter/report_event.h"

namespace aiw {

// The reporter filter's configuration (filters.d/90-reporter.yaml), validated
// by its builder.
struct ReporterSettings {
  std::vector<JsonlSinkConfig> jsonl;  // paths as configured: relative ones are under STATE_DIR
  std::vector<HttpSinkConfig> http;    // spools in STATE_DIR/spool/<name>.log
  size_t queue = 65536;
  size_t ring = 1000;
  // Exchange events carry the bodies, detections redacted (body_capture.h), each cut at
  // capture_max_bytes.
  bool capture_bodies = false;
  size_t capture_max_bytes = 65536;
};

class Reporter {
 public:
  static constexpr size_t kDefaultQueue = 65536;
  static constexpr size_t kDefaultRing = 1000;

  // `state_dir`: where relative sink paths resolve. Starts the reporter thread.
  explicit Reporter(std::string state_dir);
  ~Reporter();
  Reporter(const Reporter &) = delete;
  Reporter &operator=(const Reporter &) = delete;

  // Any thread. Hands `settings` to the reporter thread, which applies them
  // before its next batch. Sinks whose settings are unchanged stay open.
  void configure(ReporterSettings settings);
  // Any thread; never waits for I/O. False when the queue was full (the event
  // is dropped and counted) or the reporter has shut down.
  bool submit(ReportEvent &&event);
  // The newest `limit` encoded events, oldest first (GET /proxy/v1/events).
  std::vector<std::string> recent(size_t limit) const { return ring_.recent(limit); }
  size_t ringCapacity() const { return ring_.capacity(); }
  // Blocks until every event submitted before the call has been written (and
  // the latest settings applied). For tests and shutdown; never called on a
  // worker.
  void flush();
  // Drains the queue, fsyncs the sinks and stops the thread. Idempotent.
  void shutdown();

  uint64_t dropped() const { return queue_.dropped(); }
  uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  uint64_t sinkErrors() const { return sink_errors_.load(std::memory_order_relaxed); }
  const std::string &stateDir() const { return state_dir_; }
  // Any thread. Per http sink: reporter.http.<name>.{delivered,failed_attempts,spooled_bytes,
  // dropped}, and reporter.spool_dropped (all sinks).
  std::vector<FilterStat> httpStats() const;

 private:
  void run();
  void applySettings(const ReporterSettings &settings);
  void applyHttpSettings(const ReporterSettings &settings);
  // Pushes a security event per ended drop episode (or, at shutdown, per ongoing one).
  void reportDrops(const std::vector<std::pair<std::string, uint64_t>> &drops);
  void deliver(std::vector<ReportEvent> &batch);
  void syncSinks();
  std::string resolvePath(const std::string &path) const;

  const std::string state_dir_;
  EventQueue queue_;
  EventRing ring_;

  // Settings handed over by configure(), taken by the thread. Guarded by
  // settings_mu_.
  std::mutex settings_mu_;
  std::unique_ptr<ReporterSettings> pending_settings_;
  // Flush handshake: flush() bumps `requested`, the thread publishes `done`
  // after each batch. Guarded by flush_mu_ (flush_cv_ waits on it).
  std::mutex flush_mu_;
  std::condition_variable flush_cv_;
  uint64_t flush_requested_ = 0;
  uint64_t flush_done_ = 0;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> sink_errors_{0};

  // Reporter thread only.
  std::vector<std::unique_ptr<JsonlSink>> sinks_;
  std::vector<std::unique_ptr<HttpSink>> http_sinks_;

  // The http sinks' counters, for readers on other threads. Guarded by stats_mu_
  // (the counters themselves are atomics).
  mutable std::mutex stats_mu_;
  std::vector<std::shared_ptr<const HttpSinkStats>> http_stats_;
  std::vector<std::string> http_names_;
  // Dropped events of sinks closed by a reconfiguration: reporter.spool_dropped
  // keeps growing. Guarded by stats_mu_.
  uint64_t closed_sinks_dropped_ = 0;
  bool error_logged_ = false;  // one log line per run of failures, not one per batch

  std::thread thread_;  // last: started once everything above exists
};

}  // namespace aiw
