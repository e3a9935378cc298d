// RuleSet::fromJson and RuleSet::fromYaml: the document shapes of each format. What a rule may
// hold is checked once, for both, in rule_checker.cc.
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <vector>

#include "filters/registry.h"
#include "filters/rule_evaluator/json_subset.h"
#include "filters/rule_evaluator/rule_checker.h"
#include "filters/rule_evaluator/rules.h"
#include "filters/rule_evaluator/yaml_rules.h"

namespace aiw {
namespace {

const char* typeName(const rapidjson::Value& v) {
  if (v.IsObject()) return "an object";
  if (v.IsArray()) return "a list";
  if (v.IsString()) return "a string";
  if (v.IsNumber()) return "a number";
  if (v.IsBool()) return "a boolean";
  return "null";
}

// "line L, column C" of a byte offset: the admin API's callers edit JSON by hand.
std::string position(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
  size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  size_t column =
      offset - (line_start == std::string_view::npos || offset == 0 ? 0 : line_start + 1) + 1;
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

Error invalid(std::string message) { return makeError("invalid_rules", std::move(message)); }

}  // namespace

Result<std::shared_ptr<const RuleSet>> RuleSet::fromJson(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse<kRuleJsonParseFlags>(json.data(), json.size());
  if (doc.HasParseError()) {
    return invalid("invalid JSON at " + position(json, doc.GetErrorOffset()) + ": " +
                   rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) {
    return invalid(std::string("a ruleset must be an object {\"rules\": [...]} (got ") +
                   typeName(doc) + ")");
  }
  RuleErrors errors(nullptr);
  const rapidjson::Value* rules = nullptr;
  static const std::vector<std::string> kTopKeys = {"rules"};
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    if (key == "rules") {
      if (rules != nullptr) errors.addGeneral("rules: given twice");
      rules = &it->value;
      continue;
    }
    std::string hint = closestName(key, kTopKeys);
    errors.addGeneral("unknown key '" + std::string(key) + "' in the ruleset" +
                      (hint.empty() ? " (expected only 'rules')" : ", did you mean 'rules'?"));
  }
  if (rules == nullptr) {
    errors.addGeneral("rules: missing (a ruleset is {\"rules\": [...]})");
    return errors.fail();
  }
  if (!rules->IsArray()) {
    errors.addGeneral(std::string("rules: must be a list (got ") + typeName(*rules) + ")");
    return errors.fail();
  }
  Result<std::vector<Rule>> checked = checkRules(*rules, errors);
  if (!checked) return checked.error();
  auto set = std::make_shared<RuleSet>();
  set->rules_ = std::move(checked).value();
  set->prepare();
  return std::shared_ptr<const RuleSet>(std::move(set));
}

Result<std::shared_ptr<const RuleSet>> RuleSet::fromYaml(
    const YAML::Node& rules, const std::function<std::string(const YAML::Node&)>& where) {
  YamlRules source(where);
  RuleErrors errors(
      [&source](size_t index, std::string_view key) { return source.locate(index, key); });
  Result<std::vector<Rule>> checked = std::vector<Rule>();
  try {
    source.convert(rules, errors);
    checked = checkRules(source.rules(), errors);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on nodes it cannot represent: one more line, located at the list (the
    // exception knows only a line, not the file), with whatever else was found before.
    std::string at = e.mark.is_null() ? "" : " (line " + std::to_string(e.mark.line + 1) + ")";
    errors.addGeneral(where(rules) + ": rules: " + e.msg + at);
    return errors.fail();
  }
  if (!checked) return checked.error();
  auto set = std::make_shared<RuleSet>();
  set->rules_ = std::move(checked).value();
  set->prepare();
  return std::shared_ptr<const RuleSet>(std::move(set));
}

}  // namespace aiw
