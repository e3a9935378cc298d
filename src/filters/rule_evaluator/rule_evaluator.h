// rule_evaluator (SPEC.md §6): applies the rules to each inspected exchange. The first rule, in
// ascending priority, whose every match_* holds decides: allow, block (403 in the provider's
// error shape, sent by the listener), modify (param_overrides, redact, response_override) or log
// (passes; a security event is reported). No match: allow.
//
// Request side: a rule that looks at the body (model, tool, args, patterns, detections) makes the
// filter hold the request head until the whole body has been seen (and scanned by the
// pattern_matcher before it), so a block means the origin never sees the request and a
// modification goes out with an exact Content-Length.
// Response side: rules with match_pattern or match_detector are evaluated again whenever the
// response adds detections (streamed answers, chunk by chunk): block cuts the stream (the listener
// ends it with the provider's error event), log reports once per rule. A response_override
// replaces the whole response body.
//
// Config:  rules: [ {name, action, priority, match_*..., block_reason, ...} ]   (rules.h)
// PUT /proxy/v1/rules replaces them (ChainBuildState::rules_override_json).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/result.h"
#include "filters/filter.h"
#include "filters/registry.h"
#include "filters/rule_evaluator/rules.h"

namespace aiw {

class RuleEvaluatorFactory : public FilterFactory {
 public:
  // `overridden`: the rules came from PUT /proxy/v1/rules (STATE_DIR), not the configuration.
  RuleEvaluatorFactory(std::shared_ptr<const RuleSet> rules, bool overridden);

  std::unique_ptr<StreamFilter> createStreamFilter() override;
  std::vector<FilterStat> stats() const override;

  const RuleSet& rules() const { return *rules_; }
  bool overridden() const { return overridden_; }
  // Some rule needs the request body (anything beyond host, path, method and class).
  bool needsBody() const { return needs_body_; }

  // Outcomes, bumped by the filters on any worker (relaxed: statistics).
  mutable std::atomic<uint64_t> allowed{0};
  mutable std::atomic<uint64_t> blocked{0};
  mutable std::atomic<uint64_t> modified{0};
  mutable std::atomic<uint64_t> logged{0};
  mutable std::atomic<uint64_t> responses_blocked{0};

 private:
  std::shared_ptr<const RuleSet> rules_;
  bool overridden_;
  bool needs_body_ = false;
};

// The registry builder of `rule_evaluator` (builtin_filters.cc).
Result<std::shared_ptr<FilterFactory>> buildRuleEvaluator(FilterBuildContext& ctx);

}  // namespace aiw
