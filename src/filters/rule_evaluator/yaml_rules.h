// The YAML side of RuleSet::fromYaml: the `rules:` sequence of the rule_evaluator config turned
// into the RapidJSON values that rule_checker.h validates, so YAML and JSON rules go through one
// set of checks, and a map from (rule, key) back to the YAML node for "FILE:LINE" locations.
//
// Scalars are typed by the field they sit in. Fields that hold text (name, action, match_tool,
// match_method, ...) take any scalar as its text, so `name: 2024` is the name "2024". Elsewhere
// (priority, redact, and everything inside match_args, match_metadata, param_overrides,
// response_override) plain scalars are typed as the YAML 1.2 core schema says: true/false,
// null/~, integers (decimal, 0o octal, 0x hex), floats; quoted scalars stay strings. So
// `match_args: {retries: 3}` matches the JSON argument 3, and `{retries: "3"}` the string "3".
#pragma once

#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "filters/rule_evaluator/rule_checker.h"

namespace aiw {

class YamlRules {
 public:
  using Where = std::function<std::string(const YAML::Node&)>;

  // `where` must outlive this object (RuleSet::fromYaml holds both for one call).
  explicit YamlRules(const Where& where) : where_(where) { doc_.SetArray(); }

  // Converts the sequence `rules` (null: no rules). What cannot be converted is reported to
  // `errors` and becomes JSON null (a value not given), so the checks still run on the rest.
  // May throw YAML::Exception (the caller catches: it knows how to word it).
  void convert(const YAML::Node& rules, RuleErrors& errors);

  // The converted rules: a JSON array, one element per item of the sequence.
  const rapidjson::Value& rules() const { return doc_; }

  // "FILE:LINE: " of the key `key` of rule `index` (of the rule itself when the key is "" or
  // absent); "" when unknown.
  std::string locate(size_t index, std::string_view key) const;

 private:
  enum class Typing : bool { Text, Core };  // how plain scalars become JSON (file comment)

  rapidjson::Value toJson(const YAML::Node& node, Typing typing, size_t depth,
                          const std::function<void(std::string_view)>& fail);

  const Where& where_;
  YAML::Node sequence_;                 // the `rules` node, for errors about the whole list
  std::vector<YAML::Node> rule_nodes_;  // one per rule
  // Per rule, its keys' nodes in the order given (the first one of a duplicated key wins).
  std::vector<std::vector<std::pair<std::string, YAML::Node>>> key_nodes_;
  rapidjson::Document doc_;
};

}  // namespace aiw
