// Validation shared by RuleSet::fromJson and RuleSet::fromYaml: both turn their input into
// RapidJSON values (YAML through yaml_rules.h) and every check lives here once, so the two
// formats accept exactly the same rules and word their errors the same way.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "filters/rule_evaluator/rule_errors.h"
#include "filters/rule_evaluator/rules.h"

namespace aiw {

// The keys a rule may have, in the order toJson() writes them.
const std::vector<std::string>& ruleKeys();

// Validates every element of the array `rules` and returns them sorted by priority (stable), or
// the errors (those already in `errors` included) when there is any.
Result<std::vector<Rule>> checkRules(const rapidjson::Value& rules, RuleErrors& errors);

// The longest a JSON-valued field (match_args, ...) may nest: deeper is refused, which bounds
// the recursion of matching (network input is compared against it) and of writing it back.
inline constexpr size_t kMaxRuleJsonDepth = 32;

}  // namespace aiw
