// reporter (SPEC.md §5, §8): one `exchange` event per completed exchange, one
// `security` event per rule decision (block, modify, log —
// StreamInfo::security_decisions, recorded by the rule_evaluator), per block by
// another stage, or for detections no rule acted on; and one `tunnel` event
// when a blind tunnel closes. It never blocks traffic: onComplete copies the
// facts into events and submits them to the process-wide Reporter (reporter.h),
// whose thread encodes and writes them; a full queue drops (counted), never
// waits.
//
// Config (docs/reporter.md has every key):
//   sinks: [{type: jsonl, path: events.jsonl, max_bytes: 104857600, keep: 5},
//           {type: http, url: http://..., format: native|akto, batch: 100, flush_ms: 500,
//            timeout_ms: 5000, backoff_max_ms: 30000, headers: {...}, name: ...}]
//          jsonl path relative (or empty): under STATE_DIR; http sinks spool in
//          STATE_DIR/spool/<name>.log (http_sink.h).
//   queue: 65536            events waiting for the reporter thread (more: dropped, counted)
//   ring: 1000              recent events kept in memory for GET /proxy/v1/events
//   spool_bytes: 1073741824 undelivered bytes per http sink's spool (more: dropped, counted)
//   capture_bodies: false   true: exchange events carry the bodies, redacted (body_capture.h)
//   capture_max_bytes: 65536  each captured body is cut here
//
// The factory holds the Reporter handed in ChainBuildState::reporter; with none
// (`aiwarden check`, tests that build chains alone) it creates no filters.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/result.h"
#include "filters/chain.h"
#include "filters/filter.h"
#include "filters/registry.h"
#include "filters/reporter/reporter.h"

namespace aiw {

class ReporterFactory : public FilterFactory {
 public:
  ReporterFactory(std::shared_ptr<Reporter> reporter, ReporterSettings settings)
      : reporter_(std::move(reporter)), settings_(std::move(settings)) {}

  std::unique_ptr<StreamFilter> createStreamFilter() override;
  std::unique_ptr<ConnectionFilter> createConnectionFilter() override;
  std::vector<FilterStat> stats() const override;
  const ReporterSettings &settings() const { return settings_; }

  // Called by this factory's filters on any worker.
  void report(ReportEvent &&event) const;

 private:
  std::shared_ptr<Reporter> reporter_;  // null: nothing is reported (check, tests)
  ReporterSettings settings_;
  mutable std::atomic<uint64_t> submitted_{0};  // relaxed: statistics
  mutable std::atomic<uint64_t> dropped_{0};
};

// The registry builder of `reporter` (builtin_filters.cc).
Result<std::shared_ptr<FilterFactory>> buildReporter(FilterBuildContext &ctx);

// The settings of the chain's reporter stage; defaults with no sink when it has
// none (the snapshot builder hands them to the Reporter: removing the stage
// closes the sinks).
ReporterSettings reporterSettingsOf(const FilterChain &chain);

}  // namespace aiw
