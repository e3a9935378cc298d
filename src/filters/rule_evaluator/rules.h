// The rules of SPEC §6: the model, its validation (every error of a ruleset at once, so an
// operator fixes them in one go), and the decision for one exchange. Pure logic: no I/O, no
// filter machinery; rule_evaluator.cc feeds it the facts of an exchange.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace YAML {
class Node;
}

namespace aiw {

enum class RuleAction : uint8_t { Allow, Block, Modify, Log };
std::string_view ruleActionName(RuleAction a);  // "allow", "block", "modify", "log"

enum class RuleClass : uint8_t { Ai, Tool, Mcp };  // match_class values "ai", "tool", "mcp"

// One rule, as configured. JSON-valued fields keep their JSON text, compact, as given.
struct Rule {
  std::string name;  // unique within a ruleset
  std::string description;  // free text for people; kept and written back, never matched
  RuleAction action = RuleAction::Allow;
  int64_t priority = 0;        // ascending: lower first; ties keep the order given
  // Every match_* present must hold; absent ones hold always.
  std::string match_tool;                   // exact tool name
  std::string match_args_json;              // JSON object: each member must equal the call's arg
  std::string match_metadata_json;          // JSON object: each member must equal the metadata
  std::string match_pattern;                // regex (Hyperscan syntax) over the exchange's text
  std::string match_host;                   // domain pattern: ".example.com", "*.x.com", exact
  std::string match_path;                   // glob over the path without query ("*", "?")
  std::vector<std::string> match_method;    // upper-case methods (a string or a list given)
  std::string match_model;                  // glob over the model
  std::vector<std::string> match_detector;  // detector ids or "category.*"
  std::vector<RuleClass> match_class;       // a string or a list given
  std::string block_reason;                 // block: shown to the client
  std::string param_overrides_json;         // modify: JSON object merged into the arguments
  std::string response_override_json;      // modify: JSON value replacing the response
  bool redact = false;                      // modify: detections become [REDACTED:<detector>]
  // The id under which the pattern matcher compiles match_pattern: "rule:<name>".
  std::string patternDetectorId() const { return "rule:" + name; }

  friend bool operator==(const Rule&, const Rule&) = default;
};

// The facts of one exchange that rules look at. Views point into the caller's data, valid for
// the call.
struct RuleFacts {
  std::string_view tool;           // tool name (sidecar tool call, MCP tools/call), "" if none
  std::string_view args_json;      // the call's arguments, a JSON object, "" if none
  std::string_view metadata_json;  // the call's metadata, a JSON object, "" if none
  std::string_view host;           // lower-case, no port
  std::string_view path;           // origin-form, query included (match_path ignores the query)
  std::string_view method;
  std::string_view model;
  std::vector<std::string_view> detectors;        // detector ids found in the exchange
  // The category of each of `detectors` (same index; may be left empty): "category.*" in
  // match_detector names a category as well as an id prefix ("prompt_injection.*" covers the
  // "injection.*" detectors, "confidential.*" a configured pattern of that category).
  std::vector<std::string_view> detector_categories;
  std::vector<std::string_view> matched_patterns; // names of the rules whose match_pattern matched
  // Whether the pattern matcher ran over this exchange: when it did not, a rule with a
  // match_pattern or match_detector cannot hold.
  bool scanned = false;
  RuleClass klass = RuleClass::Ai;
  bool has_class = false;          // klass is known (otherwise match_class never holds)
};

class RuleSet {
 public:
  // Validates and sorts (stable, by priority). Errors: Error{"invalid_rules", message} where the
  // message lists every error, one per line, each starting with where it is: "rules[2].action:
  // unknown action 'deny' (expected allow, block, modify, log)". Checked: required name and
  // action, duplicate names, unknown keys (with a did-you-mean), wrong types, match_args /
  // match_metadata / param_overrides not objects, bad globs, bad host patterns, unknown methods
  // (not an HTTP token), unknown classes, block without block_reason is allowed (reason
  // "blocked by rule <name>"), modify with nothing to do (no param_overrides,
  // response_override or redact) is an error, match_pattern that does not compile in Hyperscan
  // (checked by compiling it alone).
  static Result<std::shared_ptr<const RuleSet>> fromJson(std::string_view json);
  // The same from YAML (the rule_evaluator config's `rules:`): `rules` is the sequence node,
  // `where` turns a node into "FILE:LINE" for the error lines.
  static Result<std::shared_ptr<const RuleSet>> fromYaml(
      const YAML::Node& rules, const std::function<std::string(const YAML::Node&)>& where);

  // {"rules":[...]} with every rule as given (all fields present in the input, in a stable key
  // order), in priority order. fromJson(toJson()) gives an equal ruleset.
  std::string toJson() const;

  const std::vector<Rule>& rules() const { return rules_; }
  bool empty() const { return rules_.empty(); }

  // The first rule (ascending priority) whose every match_* holds, or null: allow.
  const Rule* evaluate(const RuleFacts& facts) const;
  // Whether every match_* of `rule` holds (exposed for tests and for /proxy/v1/rules dry runs).
  static bool matches(const Rule& rule, const RuleFacts& facts);

  RuleSet();
  ~RuleSet();

 private:
  // Fills criteria_ from rules_: once per ruleset, so an evaluation never parses a rule's JSON.
  void prepare();

  std::vector<Rule> rules_;
  struct ParsedCriteria;  // rules.cc: match_args / match_metadata of rules_[i], parsed
  std::vector<ParsedCriteria> criteria_;
};

}  // namespace aiw
