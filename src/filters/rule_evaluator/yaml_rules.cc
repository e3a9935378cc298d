#include "filters/rule_evaluator/yaml_rules.h"

#include <charconv>
#include <cstdint>
#include <optional>

namespace aiw {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Fields whose scalars are text whatever they look like (yaml_rules.h).
bool isTextField(std::string_view key) {
  for (std::string_view k :
       {"name", "description", "action", "match_tool", "match_pattern", "match_host", "match_path",
        "match_method", "match_model", "match_detector", "match_class", "block_reason"}) {
    if (key == k) return true;
  }
  return false;
}

bool allOf(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

bool isOctalDigit(char c) { return c >= '0' && c <= '7'; }
bool isHexDigit(char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?  (YAML 1.2 core schema, float)
bool isCoreFloat(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t from = i;
    while (i < s.size() && isDigit(s[i])) ++i;
    return i - from;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t whole = digits();
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0 && whole == 0) return false;
  } else if (whole == 0) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

// A plain scalar typed by the core schema; nullopt with *why set when it names a number JSON
// cannot hold (.inf, .nan, an integer beyond 64 bits written in octal or hex).
std::optional<rapidjson::Value> coreScalar(std::string_view s,
                                           rapidjson::Document::AllocatorType& a,
                                           std::string* why) {
  if (s == "true" || s == "True" || s == "TRUE") return rapidjson::Value(true);
  if (s == "false" || s == "False" || s == "FALSE") return rapidjson::Value(false);
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    return rapidjson::Value(rapidjson::kNullType);
  }
  std::string_view digits = s;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (allOf(digits, isDigit)) {
    int64_t i = 0;
    auto [end, ec] = std::from_chars(s.data() + (s[0] == '+'), s.data() + s.size(), i);
    if (ec == std::errc() && end == s.data() + s.size()) return rapidjson::Value(i);
    uint64_t u = 0;
    auto [uend, uec] = std::from_chars(digits.data(), digits.data() + digits.size(), u);
    if (!negative && uec == std::errc() && uend == digits.data() + digits.size()) {
      return rapidjson::Value(u);
    }
    // Beyond 64 bits: a double, as a JSON parser would make of it.
  }
  int base = s.starts_with("0o") ? 8 : s.starts_with("0x") ? 16 : 0;
  if (base != 0 && allOf(s.substr(2), base == 8 ? isOctalDigit : isHexDigit)) {
    uint64_t u = 0;
    auto [end, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), u, base);
    if (ec == std::errc() && end == s.data() + s.size()) {
      return u <= INT64_MAX ? rapidjson::Value(static_cast<int64_t>(u)) : rapidjson::Value(u);
    }
    *why = "integer " + std::string(s) + " does not fit in 64 bits";
    return std::nullopt;
  }
  if (isCoreFloat(s)) {
    double d = 0;
    std::string_view t = s[0] == '+' ? s.substr(1) : s;  // from_chars takes no '+'
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
    if (ec == std::errc() && end == t.data() + t.size()) return rapidjson::Value(d);
    *why = "number " + std::string(s) + " is out of range";
    return std::nullopt;
  }
  std::string_view mag = (s[0] == '-' || s[0] == '+') ? s.substr(1) : s;
  if (mag == ".inf" || mag == ".Inf" || mag == ".INF" || s == ".nan" || s == ".NaN" ||
      s == ".NAN") {
    *why = std::string(s) + " has no JSON form (JSON numbers are finite)";
    return std::nullopt;
  }
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

// Whether a scalar was written as a string: quoted, a block scalar, or tagged !!str.
bool isStringScalar(const YAML::Node& node) {
  const std::string& tag = node.Tag();
  return tag == "!" || tag == "tag:yaml.org,2002:str";
}

}  // namespace

rapidjson::Value YamlRules::toJson(const YAML::Node& node, Typing typing, size_t depth,
                                   const std::function<void(std::string_view)>& fail) {
  auto& a = doc_.GetAllocator();
  // Cut just past the depth the checker accepts: what is left is still too deep, so the checker
  // reports it in its own words (or refuses the field's type), and the recursion stays bounded
  // even through anchors that build deep or cyclic structures.
  if (depth > kMaxRuleJsonDepth + 1) return rapidjson::Value(rapidjson::kNullType);
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (typing == Typing::Text || isStringScalar(node)) {
        return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
      }
      std::string why;
      std::optional<rapidjson::Value> v = coreScalar(s, a, &why);
      if (v) return std::move(*v);
      fail(why);
      return rapidjson::Value(rapidjson::kNullType);
    }
    case YAML::NodeType::Sequence: {
      rapidjson::Value out(rapidjson::kArrayType);
      for (const YAML::Node& item : node) out.PushBack(toJson(item, typing, depth + 1, fail), a);
      return out;
    }
    case YAML::NodeType::Map: {
      rapidjson::Value out(rapidjson::kObjectType);
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!it->first.IsScalar()) {
          fail("keys must be plain names, not lists or maps");
          continue;
        }
        const std::string& k = it->first.Scalar();
        rapidjson::Value key(k.data(), static_cast<rapidjson::SizeType>(k.size()), a);
        out.AddMember(key, toJson(it->second, typing, depth + 1, fail), a);
      }
      return out;
    }
    default:  // Null, Undefined
      return rapidjson::Value(rapidjson::kNullType);
  }
}

void YamlRules::convert(const YAML::Node& rules, RuleErrors& errors) {
  sequence_ = rules;
  if (!rules.IsDefined() || rules.IsNull()) return;
  if (!rules.IsSequence()) {
    errors.addGeneral(where_(rules) + ": rules: must be a list of rules");
    return;
  }
  auto& a = doc_.GetAllocator();
  for (const YAML::Node& rule : rules) {
    size_t index = rule_nodes_.size();
    rule_nodes_.push_back(rule);
    key_nodes_.emplace_back();
    if (!rule.IsMap()) {
      auto fail = [&](std::string_view why) { errors.add(index, {}, why); };
      doc_.PushBack(toJson(rule, Typing::Core, 1, fail), a);
      continue;
    }
    rapidjson::Value out(rapidjson::kObjectType);
    for (auto it = rule.begin(); it != rule.end(); ++it) {
      if (!it->first.IsScalar()) {
        key_nodes_[index].emplace_back(std::string(), it->first);
        errors.add(index, {}, "keys of a rule must be plain names, not lists or maps");
        continue;
      }
      const std::string& k = it->first.Scalar();
      key_nodes_[index].emplace_back(k, it->first);
      auto fail = [&](std::string_view why) { errors.add(index, k, why); };
      Typing typing = isTextField(k) ? Typing::Text : Typing::Core;
      rapidjson::Value key(k.data(), static_cast<rapidjson::SizeType>(k.size()), a);
      out.AddMember(key, toJson(it->second, typing, 1, fail), a);
    }
    doc_.PushBack(out, a);
  }
}

std::string YamlRules::locate(size_t index, std::string_view key) const {
  if (index >= rule_nodes_.size()) return sequence_.IsDefined() ? where_(sequence_) + ": " : "";
  if (!key.empty()) {
    for (const auto& [name, node] : key_nodes_[index]) {
      if (name == key) return where_(node) + ": ";
    }
  }
  return where_(rule_nodes_[index]) + ": ";
}

}  // namespace aiw
