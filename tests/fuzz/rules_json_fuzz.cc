// libFuzzer target for RuleSet::fromJson (src/filters/rule_evaluator: the JSON shape, the
// validation of every rule, and the evaluation). Built by tests/fuzz/CMakeLists.txt and run by
// `make fuzz` (docs/fuzzing.md).
//
// Input: a ruleset as the admin API receives it, {"rules":[...]} (the seeds in
// corpus/rules_json/ are the SPEC §6 rule and a few valid and invalid rulesets). Checks, beyond
// "no crash, no leak, no UB":
//  * a refusal is Error{"invalid_rules", non-empty message};
//  * an accepted ruleset survives its own JSON: fromJson(toJson()) is accepted and gives equal
//    rules (Rule::operator==), in the same order, and toJson() of that is the same text; names
//    are unique and the rules are in ascending priority;
//  * evaluate() on fixed facts (one exchange that many match_* hold for, one with nothing)
//    returns null or one of the set's rules that matches(), and no rule before it matches.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "filters/rule_evaluator/rules.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool verbose() {
  static const bool on = std::getenv("AIW_FUZZ_VERBOSE") != nullptr;
  return on;
}

aiw::RuleFacts richFacts() {
  aiw::RuleFacts f;
  f.tool = "python_exec";
  f.args_json = R"({"user":"external","expression":"2+2","n":[1,2.5,{"a":null}]})";
  f.metadata_json = R"({"tenant":"beta","tier":3})";
  f.host = "api.openai.com";
  f.path = "/v1/chat/completions?stream=true";
  f.method = "POST";
  f.model = "gpt-4o-mini";
  f.detectors = {"secret.aws_access_key", "injection.ignore_previous", "pii.email"};
  f.detector_categories = {"secret", "prompt_injection", "pii"};
  f.matched_patterns = {"block python", "r1"};
  f.scanned = true;
  f.klass = aiw::RuleClass::Tool;
  f.has_class = true;
  return f;
}

void checkEvaluate(const aiw::RuleSet& set, const aiw::RuleFacts& facts) {
  const aiw::Rule* chosen = set.evaluate(facts);
  for (const aiw::Rule& rule : set.rules()) {
    if (&rule == chosen) {
      check(aiw::RuleSet::matches(rule, facts));
      return;
    }
    check(!aiw::RuleSet::matches(rule, facts));  // the first matching rule decides
  }
  check(chosen == nullptr);  // not one of the set's rules otherwise
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto parsed = aiw::RuleSet::fromJson(json);
  if (!parsed) {
    if (verbose()) std::fprintf(stderr, "refused: %s\n", parsed.error().message.c_str());
    check(parsed.error().code == "invalid_rules");
    check(!parsed.error().message.empty());
    return 0;
  }
  const aiw::RuleSet& set = **parsed;
  const std::string text = set.toJson();
  if (verbose()) std::fprintf(stderr, "accepted: %s\n", text.c_str());

  std::set<std::string> names;
  for (size_t i = 0; i < set.rules().size(); ++i) {
    check(names.insert(set.rules()[i].name).second);
    if (i > 0) check(set.rules()[i - 1].priority <= set.rules()[i].priority);
  }

  auto again = aiw::RuleSet::fromJson(text);
  if (!again && verbose()) std::fprintf(stderr, "round trip refused: %s\n",
                                        again.error().message.c_str());
  check(again.ok());
  check((*again)->rules() == set.rules());
  check((*again)->toJson() == text);

  checkEvaluate(set, richFacts());
  checkEvaluate(set, aiw::RuleFacts{});
  return 0;
}
