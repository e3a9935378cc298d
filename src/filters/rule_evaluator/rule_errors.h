// The error list of one ruleset being validated (rule_checker.h), shared by the JSON and YAML
// readers so both word and order their errors the same way.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace aiw {

// Collects the errors of one ruleset, each a line "<where>rules[i].key: message". `where` is
// what the locator gives for (rule index, key): "" for JSON (its values carry no position),
// "FILE:LINE: " for YAML. Lines come out grouped by rule, in rule order, whatever the order
// they were found in (conversion errors first, cross-rule checks last).
class RuleErrors {
 public:
  // key is "" when the error is about the rule as a whole.
  using Locator = std::function<std::string(size_t index, std::string_view key)>;

  explicit RuleErrors(Locator locate) : locate_(std::move(locate)) {}

  // `detail` follows the key in the path ("[1]" for the second item of a list).
  void add(size_t index, std::string_view key, std::string_view message,
           std::string_view detail = {});
  // An error about the key itself (unknown, duplicated): the path stops at the rule, the
  // location is the key's.
  void addForKey(size_t index, std::string_view key, std::string_view message);
  // A line about the document rather than one rule ("rules: must be a list"), listed first.
  void addGeneral(std::string line);
  bool empty() const { return lines_.empty(); }
  // Error{"invalid_rules", every line joined by "\n"}.
  Error fail() const;

 private:
  struct Line {
    size_t order;  // 0 for general lines, index + 1 for a rule's
    std::string text;
  };
  Locator locate_;
  std::vector<Line> lines_;
};

}  // namespace aiw
