// The JSON form of the domain_classifier's lists (GET / PUT /proxy/v1/patterns, SPEC §7) and the
// way an accepted update gets into a configuration: the domain_classifier FilterSpec's YAML is
// replaced by one generated from the new lists, so the normal snapshot build (and its
// validation) is the only path from configuration to a running classifier.
//
// Shape: {"patterns":[{"pattern":"...","proxy":true}], "ai_domains":["..."],
//         "chatty_domains":["..."], "default":"bypass|intercept|block"}
// On PUT every key but `default` is required (the update replaces the lists whole).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "filters/domain_classifier/domain_classifier.h"

namespace aiw {

class FilterChain;

// The first domain_classifier stage of `chain`, or nullptr when the chain has none.
const DomainClassifierFactory* findDomainClassifier(const FilterChain& chain);

const char* defaultActionName(DefaultAction action);

std::string patternsToJson(const DomainClassifierConfig& config);

struct PatternsParse {
  DomainClassifierConfig config;   // meaningful only when errors is empty
  bool has_default = false;        // the body named `default`
  std::vector<std::string> errors;  // every problem found ("patterns[2].proxy: must be ...")
};

// Parses and validates a whole body: JSON syntax (the error names the offset), the shape and
// types of every field, then every pattern (DomainClassifier::compile). `fallback_default` is
// used when the body has no `default`.
PatternsParse parsePatternsJson(std::string_view body, DefaultAction fallback_default);

// The YAML `config:` node of a domain_classifier stage carrying `config`.
std::shared_ptr<const YAML::Node> patternsToYaml(const DomainClassifierConfig& config);

// Replaces the config of the first enabled domain_classifier entry of `specs` with `config`.
// When `keep_default`, the entry's own `default` (bypass when it has none) is kept instead of
// config.default_action. Error "no_domain_classifier" when there is no such entry.
Result<void> overridePatterns(std::vector<FilterSpec>& specs, DomainClassifierConfig config,
                              bool keep_default);

}  // namespace aiw
