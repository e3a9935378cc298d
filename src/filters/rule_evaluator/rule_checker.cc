#include "filters/rule_evaluator/rule_checker.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <map>
#include <set>

#include "filters/domain_classifier/domain_patterns.h"
#include "filters/pattern_matcher/pattern_database.h"
#include "filters/registry.h"
#include "filters/rule_evaluator/json_subset.h"

namespace aiw {
namespace {

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string_view stringOf(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

const char* typeName(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "a list";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kNumberType:
      return "a number";
  }
  return "a value";
}

// Control characters would reach reasons shown to clients, event fields and log lines, where a
// CR or LF can forge structure; no legitimate name, path or model contains one.
bool hasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// RFC 9110 §5.6.2 tchar.
bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string compactJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  v.Accept(writer);
  return {buf.GetString(), buf.GetSize()};
}

constexpr std::string_view kActions = "allow, block, modify, log";

// Checks one rule object into a Rule, reporting every problem it finds (it never stops at the
// first: an operator fixes a ruleset in one go).
class RuleChecker {
 public:
  RuleChecker(const rapidjson::Value& rule, size_t index, RuleErrors& errors)
      : rule_(rule), index_(index), errors_(errors) {}

  // Whether the rule is valid; `out` is meaningful only then.
  bool check(Rule& out) {
    checkKeys();
    readName(out.name);
    readString("description", out.description, /*allow_control=*/true);
    readAction(out.action);
    readPriority(out.priority);
    readString("match_tool", out.match_tool);
    readJson("match_args", out.match_args_json, /*object_only=*/true);
    readJson("match_metadata", out.match_metadata_json, true);
    readPattern(out.match_pattern);
    readHost(out.match_host);
    readGlob("match_path", out.match_path);
    readMethods(out.match_method);
    readGlob("match_model", out.match_model);
    readDetectors(out.match_detector);
    readClasses(out.match_class);
    readString("block_reason", out.block_reason);
    size_t errors_before_effects = error_count_;
    readJson("param_overrides", out.param_overrides_json, true);
    readJson("response_override", out.response_override_json, false);
    readRedact(out.redact);
    // An effect given but refused above was reported already; "nothing to do" would only add
    // noise about the same mistake.
    if (action_ok_ && error_count_ == errors_before_effects && out.action == RuleAction::Modify &&
        !out.redact && out.response_override_json.empty() &&
        (out.param_overrides_json.empty() || out.param_overrides_json == "{}")) {
      error("action",
            "modify has nothing to do: give param_overrides, response_override or "
            "redact: true");
    }
    return error_count_ == 0;
  }

 private:
  void error(std::string_view key, std::string_view message, std::string_view detail = {}) {
    errors_.add(index_, key, message, detail);
    ++error_count_;
  }

  // The value of `key`, or null when absent or JSON null (null means "not given", as in YAML).
  const rapidjson::Value* get(std::string_view key) const {
    auto it = rule_.FindMember(rapidjson::StringRef(key.data(), key.size()));
    if (it == rule_.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }

  void checkKeys() {
    std::set<std::string_view> seen;
    for (auto it = rule_.MemberBegin(); it != rule_.MemberEnd(); ++it) {
      std::string_view key = stringOf(it->name);
      if (!seen.insert(key).second) {
        errors_.addForKey(index_, key, "duplicate key " + quote(key));
        ++error_count_;
        continue;
      }
      const auto& known = ruleKeys();
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string hint = closestName(key, known);
      errors_.addForKey(index_, key,
                        "unknown key " + quote(key) +
                            (hint.empty() ? " (see SPEC §6 for the rule fields)"
                                          : ", did you mean " + quote(hint) + "?"));
      ++error_count_;
    }
  }

  // A string field; "" stays "not given". Empty strings are refused: an empty match_* would
  // silently match everything, an empty reason would show nothing.
  const rapidjson::Value* readString(std::string_view key, std::string& out,
                                     bool allow_control = false) {
    const rapidjson::Value* v = get(key);
    if (v == nullptr) return nullptr;
    if (!v->IsString()) {
      error(key, std::string("must be a string (got ") + typeName(*v) + ")");
      return nullptr;
    }
    std::string_view s = stringOf(*v);
    if (s.empty() && key != "description") {
      error(key, "must not be empty (leave the key out instead)");
      return nullptr;
    }
    if (!allow_control && hasControl(s)) {
      error(key, "must not contain control characters");
      return nullptr;
    }
    out = s;
    return v;
  }

  void readName(std::string& out) {
    if (get("name") == nullptr) {
      error("name", "missing (every rule needs a unique name)");
      return;
    }
    readString("name", out);
  }

  void readAction(RuleAction& out) {
    std::string name;
    if (get("action") == nullptr) {
      error("action", "missing (expected " + std::string(kActions) + ")");
      return;
    }
    if (readString("action", name) == nullptr) return;
    for (RuleAction a :
         {RuleAction::Allow, RuleAction::Block, RuleAction::Modify, RuleAction::Log}) {
      if (name == ruleActionName(a)) {
        out = a;
        action_ok_ = true;
        return;
      }
    }
    error("action", "unknown action " + quote(name) + " (expected " + std::string(kActions) + ")");
  }

  void readPriority(int64_t& out) {
    const rapidjson::Value* v = get("priority");
    if (v == nullptr) return;
    if (!v->IsNumber()) {
      error("priority", std::string("must be an integer (got ") + typeName(*v) + ")");
    } else if (v->IsInt64()) {
      out = v->GetInt64();
    } else if (v->IsUint64()) {
      error("priority", "out of range (a 64-bit signed integer)");
    } else {
      error("priority", "must be an integer (got " + compactJson(*v) + ")");
    }
  }

  void readJson(std::string_view key, std::string& out, bool object_only) {
    const rapidjson::Value* v = get(key);
    if (v == nullptr) return;
    if (object_only && !v->IsObject()) {
      error(key, std::string("must be an object (got ") + typeName(*v) + ")");
      return;
    }
    if (jsonDepth(*v, kMaxRuleJsonDepth) > kMaxRuleJsonDepth) {
      error(key, "nested deeper than " + std::to_string(kMaxRuleJsonDepth) + " levels");
      return;
    }
    out = compactJson(*v);
  }

  void readPattern(std::string& out) {
    std::string regex;
    if (readString("match_pattern", regex, /*allow_control=*/true) == nullptr) return;
    if (regex.find('\0') != std::string::npos) {
      error("match_pattern", "must not contain a NUL byte (write \\x00)");
      return;
    }
    Result<void> ok = PatternDatabase::checkRegex(regex);
    if (!ok) {
      error("match_pattern", "invalid regex " + quote(regex) + ": " + ok.error().message);
      return;
    }
    out = std::move(regex);
  }

  void readHost(std::string& out) {
    std::string text;
    if (readString("match_host", text) == nullptr) return;
    Result<DomainPattern> pattern = DomainPattern::parse(text);
    if (!pattern) {
      error("match_host", pattern.error().message);
      return;
    }
    out = pattern->text();  // normalized: matching compares it with lower-case hosts
  }

  void readGlob(std::string_view key, std::string& out) {
    std::string glob;
    if (readString(key, glob) == nullptr) return;
    if (key == "match_path" && glob.front() != '/' && glob.front() != '*') {
      error(key, "glob " + quote(glob) + " can never match: paths start with '/'");
      return;
    }
    out = std::move(glob);
  }

  // A string or a non-empty list of strings (a single value need not be wrapped in a list).
  // Items that are not strings are reported here and left out.
  struct Item {
    std::string value;
    std::string detail;  // "[i]" for a list item, "" for a single string
  };
  std::vector<Item> readStrings(std::string_view key) {
    std::vector<Item> out;
    const rapidjson::Value* v = get(key);
    if (v == nullptr) return out;
    if (v->IsString()) {
      out.push_back({std::string(stringOf(*v)), {}});
    } else if (v->IsArray()) {
      if (v->Empty()) error(key, "must not be an empty list (leave the key out instead)");
      for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
        const rapidjson::Value& item = (*v)[i];
        std::string detail = "[" + std::to_string(i) + "]";
        if (item.IsString()) {
          out.push_back({std::string(stringOf(item)), std::move(detail)});
        } else {
          error(key, std::string("must be a string (got ") + typeName(item) + ")", detail);
        }
      }
    } else {
      error(key, std::string("must be a string or a list of strings (got ") + typeName(*v) + ")");
    }
    return out;
  }

  void readMethods(std::vector<std::string>& out) {
    for (const Item& m : readStrings("match_method")) {
      if (m.value.empty() || !std::all_of(m.value.begin(), m.value.end(), isTokenChar)) {
        error("match_method", "unknown method " + quote(m.value) + " (not an HTTP method token)",
              m.detail);
        continue;
      }
      out.push_back(upper(m.value));
    }
  }

  void readDetectors(std::vector<std::string>& out) {
    for (const Item& d : readStrings("match_detector")) {
      size_t star = d.value.find('*');
      if (d.value.empty() || hasControl(d.value)) {
        error("match_detector", "must be a detector id or 'category.*'", d.detail);
      } else if (star != std::string::npos &&
                 (star + 1 != d.value.size() || star < 2 || d.value[star - 1] != '.')) {
        error("match_detector",
              "bad wildcard " + quote(d.value) +
                  ": '*' only as a whole category, as in "
                  "'secret.*'",
              d.detail);
      } else {
        out.push_back(d.value);
      }
    }
  }

  void readClasses(std::vector<RuleClass>& out) {
    for (const Item& c : readStrings("match_class")) {
      if (c.value == "ai") {
        out.push_back(RuleClass::Ai);
      } else if (c.value == "tool") {
        out.push_back(RuleClass::Tool);
      } else if (c.value == "mcp") {
        out.push_back(RuleClass::Mcp);
      } else {
        error("match_class", "unknown class " + quote(c.value) + " (expected ai, tool, mcp)",
              c.detail);
      }
    }
  }

  void readRedact(bool& out) {
    const rapidjson::Value* v = get("redact");
    if (v == nullptr) return;
    if (!v->IsBool()) {
      error("redact", std::string("must be true or false (got ") + typeName(*v) + ")");
      return;
    }
    out = v->GetBool();
  }

  const rapidjson::Value& rule_;
  size_t index_;
  RuleErrors& errors_;
  size_t error_count_ = 0;
  bool action_ok_ = false;
};

}  // namespace

const std::vector<std::string>& ruleKeys() {
  static const std::vector<std::string> keys = {"name",
                                                "description",
                                                "action",
                                                "priority",
                                                "match_tool",
                                                "match_args",
                                                "match_metadata",
                                                "match_pattern",
                                                "match_host",
                                                "match_path",
                                                "match_method",
                                                "match_model",
                                                "match_detector",
                                                "match_class",
                                                "block_reason",
                                                "param_overrides",
                                                "response_override",
                                                "redact"};
  return keys;
}

Result<std::vector<Rule>> checkRules(const rapidjson::Value& rules, RuleErrors& errors) {
  std::vector<Rule> out;
  std::map<std::string, size_t, std::less<>> names;  // name -> index of its first rule
  for (rapidjson::SizeType i = 0; i < rules.Size(); ++i) {
    const rapidjson::Value& v = rules[i];
    if (!v.IsObject()) {
      errors.add(i, {}, std::string("a rule must be an object (got ") + typeName(v) + ")");
      continue;
    }
    Rule rule;
    bool ok = RuleChecker(v, i, errors).check(rule);
    if (!rule.name.empty()) {
      auto [it, fresh] = names.emplace(rule.name, i);
      if (!fresh) {
        errors.add(i, "name",
                   "duplicate name " + quote(rule.name) + " (also rules[" +
                       std::to_string(it->second) + "])");
        ok = false;
      }
    }
    if (ok) out.push_back(std::move(rule));
  }
  if (!errors.empty()) return errors.fail();
  std::stable_sort(out.begin(), out.end(),
                   [](const Rule& a, const Rule& b) { return a.priority < b.priority; });
  return out;
}

}  // namespace aiw
