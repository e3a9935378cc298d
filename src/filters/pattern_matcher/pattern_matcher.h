// pattern_matcher (SPEC.md §5): runs the Hyperscan detectors over what an inspected exchange
// carries and records what they find in StreamInfo::detections; it decides nothing itself (the
// rule_evaluator does).
//
// Request side: the body is held whole (up to max_inspect_body_bytes) and scanned in block mode:
// over the texts the AI provider format carries (message contents, system prompts, tool
// arguments and results, src/ai) when the API is known, else over the raw body when it is text
// (JSON, text/*, form data). Binary bodies are not scanned.
// Response side: an SSE stream is never held: it is scanned in stream mode chunk by chunk as it
// goes downstream; for a known API it is decoded event by event and the generated text is
// scanned as one stream, so a secret split across two events is found. A non-streamed answer of
// a known API (JSON, sent at once by the origin anyway) is held whole, scanned in one call and
// its token usage read, so a rule that blocks it answers with a proper error. Other text bodies
// are scanned raw in stream mode as they pass.
//
// Every rule's match_pattern (ChainBuildState) is compiled into the same database as detector
// "rule:<name>"; their hits go to StreamInfo::{request,response}_pattern_rules, not detections.
//
// Config:
//   packs:    [secrets, pii, prompt_injection]   built-in detector packs (default: all three)
//   patterns: [{id, regex, category, severity: low|medium|high|critical, caseless}]
//   scan_responses: true
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/result.h"
#include "filters/filter.h"
#include "filters/pattern_matcher/pattern_database.h"
#include "filters/registry.h"

namespace aiw {

class PatternMatcherFactory : public FilterFactory {
 public:
  // `fail_mode`: what a scan error does (closed: 503 / 502; open: passed, inspection_skipped).
  PatternMatcherFactory(std::shared_ptr<const PatternDatabase> db, bool scan_responses,
                        FailMode fail_mode);

  std::unique_ptr<StreamFilter> createStreamFilter() override;
  std::vector<FilterStat> stats() const override;

  const std::shared_ptr<const PatternDatabase>& database() const { return db_; }
  bool scanResponses() const { return scan_responses_; }

  // Counters, bumped by the filters on any worker (relaxed: statistics).
  mutable std::atomic<uint64_t> requests_scanned{0};
  mutable std::atomic<uint64_t> responses_scanned{0};
  mutable std::atomic<uint64_t> bytes_scanned{0};
  mutable std::atomic<uint64_t> detections{0};
  mutable std::atomic<uint64_t> scan_errors{0};

 private:
  std::shared_ptr<const PatternDatabase> db_;
  bool scan_responses_;
  FailMode fail_mode_;
};

// The registry builder of `pattern_matcher` (builtin_filters.cc).
Result<std::shared_ptr<FilterFactory>> buildPatternMatcher(FilterBuildContext& ctx);

// Whether a Content-Type names text worth scanning (JSON, text/*, form data, NDJSON, SSE). An
// absent type counts as text: APIs often leave it out on small JSON bodies.
bool isScannableContentType(const std::string* content_type);

}  // namespace aiw
