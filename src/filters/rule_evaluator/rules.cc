#include "filters/rule_evaluator/rules.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstddef>
#include <optional>

#include "filters/domain_classifier/domain_patterns.h"
#include "filters/rule_evaluator/glob.h"
#include "filters/rule_evaluator/json_subset.h"

namespace aiw {
namespace {

char upperChar(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

// `upper` is already upper-case (rules store methods so).
bool sameMethod(std::string_view upper, std::string_view method) {
  if (upper.size() != method.size()) return false;
  for (size_t i = 0; i < upper.size(); ++i) {
    if (upperChar(method[i]) != upper[i]) return false;
  }
  return true;
}

// `pattern` is a DomainPattern's normalized text (the checker stored it so); matching walks it
// in place instead of re-parsing, so a rule costs no allocation per exchange.
bool hostMatches(std::string_view pattern, std::string_view host) {
  HostLabels labels(host);
  if (!labels.valid()) return false;
  std::string_view name = labels.name();
  if (pattern.front() == '.') {
    std::string_view domain = pattern.substr(1);
    return name == domain || (name.size() > domain.size() && name.ends_with(domain) &&
                              name[name.size() - domain.size() - 1] == '.');
  }
  if (pattern.find('*') == std::string_view::npos) return name == pattern;
  size_t i = 0;  // labels are counted from the left; '*' is exactly one of them
  for (size_t start = 0; start <= pattern.size(); ++i) {
    size_t dot = pattern.find('.', start);
    if (dot == std::string_view::npos) dot = pattern.size();
    std::string_view label = pattern.substr(start, dot - start);
    if (i >= labels.size() || (label != "*" && label != labels.label(i))) return false;
    start = dot + 1;
  }
  return i == labels.size();
}

bool detectorMatches(std::string_view entry, std::string_view detector,
                     std::string_view category) {
  if (entry.ends_with(".*")) {
    entry.remove_suffix(1);  // keep the dot: "secret.*" covers "secret.x", not "secrets.x"
    if (detector.starts_with(entry)) return true;
    entry.remove_suffix(1);
    return !category.empty() && category == entry;
  }
  return detector == entry;
}

// The facts' JSON, parsed at most once per evaluation however many rules look at it.
//
// Both documents and their parse stacks allocate from one pool that starts in a buffer of the
// evaluation's own: a tool call's arguments and metadata are small, and a default Document
// mallocs a 64 KiB chunk for its values and 1 KiB for its stack, which on the sidecar's path
// was two large allocations and frees per call. Larger JSON spills into malloc'd chunks.
class ParsedFacts {
 public:
  explicit ParsedFacts(const RuleFacts& facts) : facts_(facts) {}

  const rapidjson::Value* args() { return get(args_, facts_.args_json); }
  const rapidjson::Value* metadata() { return get(metadata_, facts_.metadata_json); }

 private:
  using Pool = rapidjson::MemoryPoolAllocator<>;
  using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, Pool, Pool>;
  static constexpr size_t kInlineBytes = 4096;
  static constexpr size_t kStackBytes = 256;  // the parse stack's first block, grown in the pool

  struct Slot {
    bool parsed = false;
    std::optional<Document> doc;  // engaged only when it parsed to an object
  };

  const rapidjson::Value* get(Slot& slot, std::string_view json) {
    if (!slot.parsed) {
      slot.parsed = true;
      if (!json.empty()) {
        slot.doc.emplace(&pool_, kStackBytes, &pool_);
        slot.doc->Parse<kRuleJsonParseFlags>(json.data(), json.size());
        if (slot.doc->HasParseError() || !slot.doc->IsObject()) slot.doc.reset();
      }
    }
    return slot.doc ? &*slot.doc : nullptr;
  }

  const RuleFacts& facts_;
  alignas(std::max_align_t) char inline_[kInlineBytes];
  Pool pool_{inline_, sizeof inline_};  // declared before the slots: destroyed after them
  Slot args_;
  Slot metadata_;
};

// A rule's match_args / match_metadata object, parsed (null when the rule has none).
using CriterionDoc = std::unique_ptr<const rapidjson::Document>;

CriterionDoc parseCriterion(std::string_view json) {
  if (json.empty()) return nullptr;
  auto doc = std::make_unique<rapidjson::Document>();
  doc->Parse<kRuleJsonParseFlags>(json.data(), json.size());
  return doc;
}

// Whether the facts' object carries every member of the rule's object (`want` is valid JSON:
// the checker produced it).
bool jsonCriterion(const rapidjson::Document& want, const rapidjson::Value* have) {
  return have != nullptr && !want.HasParseError() && jsonContains(want, *have);
}

bool holds(const Rule& rule, const RuleFacts& facts, ParsedFacts& parsed,
           const rapidjson::Document* want_args, const rapidjson::Document* want_metadata) {
  // Cheapest criteria first: most rules fail on the tool, class or host, before any JSON work.
  if (!rule.match_class.empty() &&
      (!facts.has_class || std::find(rule.match_class.begin(), rule.match_class.end(),
                                     facts.klass) == rule.match_class.end())) {
    return false;
  }
  if (!rule.match_tool.empty() && facts.tool != rule.match_tool) return false;
  if (!rule.match_method.empty() &&
      std::none_of(rule.match_method.begin(), rule.match_method.end(),
                   [&](const std::string& m) { return sameMethod(m, facts.method); })) {
    return false;
  }
  if (!rule.match_host.empty() && !hostMatches(rule.match_host, facts.host)) return false;
  if (!rule.match_path.empty()) {
    std::string_view path = facts.path.substr(0, facts.path.find('?'));
    if (path.empty() || !globMatches(rule.match_path, path)) return false;
  }
  if (!rule.match_model.empty() &&
      (facts.model.empty() || !globMatches(rule.match_model, facts.model, GlobCase::Insensitive))) {
    return false;
  }
  if (!rule.match_pattern.empty() &&
      (!facts.scanned || std::find(facts.matched_patterns.begin(), facts.matched_patterns.end(),
                                   rule.name) == facts.matched_patterns.end())) {
    return false;
  }
  if (!rule.match_detector.empty()) {
    if (!facts.scanned) return false;
    bool any = false;
    for (const auto& entry : rule.match_detector) {
      for (size_t i = 0; i < facts.detectors.size() && !any; ++i) {
        std::string_view category =
            i < facts.detector_categories.size() ? facts.detector_categories[i] : "";
        any = detectorMatches(entry, facts.detectors[i], category);
      }
    }
    if (!any) return false;
  }
  if (want_args != nullptr && !jsonCriterion(*want_args, parsed.args())) return false;
  if (want_metadata != nullptr && !jsonCriterion(*want_metadata, parsed.metadata())) return false;
  return true;
}

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void writeString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void writeKey(JsonWriter& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

void writeOptional(JsonWriter& w, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  writeKey(w, key);
  writeString(w, value);
}

// JSON-valued fields hold compact JSON already: written as they are.
void writeRaw(JsonWriter& w, std::string_view key, std::string_view json) {
  if (json.empty()) return;
  writeKey(w, key);
  w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

template <typename T, typename F>
void writeList(JsonWriter& w, std::string_view key, const std::vector<T>& items, F name) {
  if (items.empty()) return;
  writeKey(w, key);
  w.StartArray();
  for (const auto& item : items) writeString(w, name(item));
  w.EndArray();
}

std::string_view className(RuleClass c) {
  switch (c) {
    case RuleClass::Ai:
      return "ai";
    case RuleClass::Tool:
      return "tool";
    case RuleClass::Mcp:
      return "mcp";
  }
  return "ai";
}

void writeRule(JsonWriter& w, const Rule& r) {
  auto same = [](const std::string& s) -> std::string_view { return s; };
  w.StartObject();
  writeOptional(w, "name", r.name);
  writeOptional(w, "description", r.description);
  writeOptional(w, "action", ruleActionName(r.action));
  writeKey(w, "priority");
  w.Int64(r.priority);
  writeOptional(w, "match_tool", r.match_tool);
  writeRaw(w, "match_args", r.match_args_json);
  writeRaw(w, "match_metadata", r.match_metadata_json);
  writeOptional(w, "match_pattern", r.match_pattern);
  writeOptional(w, "match_host", r.match_host);
  writeOptional(w, "match_path", r.match_path);
  writeList(w, "match_method", r.match_method, same);
  writeOptional(w, "match_model", r.match_model);
  writeList(w, "match_detector", r.match_detector, same);
  writeList(w, "match_class", r.match_class, className);
  writeOptional(w, "block_reason", r.block_reason);
  writeRaw(w, "param_overrides", r.param_overrides_json);
  writeRaw(w, "response_override", r.response_override_json);
  if (r.redact) {
    writeKey(w, "redact");
    w.Bool(true);
  }
  w.EndObject();
}

}  // namespace

std::string_view ruleActionName(RuleAction a) {
  switch (a) {
    case RuleAction::Allow:
      return "allow";
    case RuleAction::Block:
      return "block";
    case RuleAction::Modify:
      return "modify";
    case RuleAction::Log:
      return "log";
  }
  return "allow";
}

struct RuleSet::ParsedCriteria {
  CriterionDoc args;
  CriterionDoc metadata;
};

RuleSet::RuleSet() = default;
RuleSet::~RuleSet() = default;

void RuleSet::prepare() {
  criteria_.clear();
  criteria_.reserve(rules_.size());
  for (const Rule& rule : rules_) {
    criteria_.push_back(
        {parseCriterion(rule.match_args_json), parseCriterion(rule.match_metadata_json)});
  }
}

bool RuleSet::matches(const Rule& rule, const RuleFacts& facts) {
  ParsedFacts parsed(facts);
  CriterionDoc args = parseCriterion(rule.match_args_json);
  CriterionDoc metadata = parseCriterion(rule.match_metadata_json);
  return holds(rule, facts, parsed, args.get(), metadata.get());
}

const Rule* RuleSet::evaluate(const RuleFacts& facts) const {
  ParsedFacts parsed(facts);
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (holds(rules_[i], facts, parsed, criteria_[i].args.get(), criteria_[i].metadata.get())) {
      return &rules_[i];
    }
  }
  return nullptr;
}

std::string RuleSet::toJson() const {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeKey(w, "rules");
  w.StartArray();
  for (const Rule& rule : rules_) writeRule(w, rule);
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace aiw
