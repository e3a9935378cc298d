#include "filters/rule_evaluator/rule_evaluator.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <set>

#include "ai/request_facts.h"
#include "core/log.h"

namespace aiw {
namespace {

void bump(std::atomic<uint64_t>& counter) { counter.fetch_add(1, std::memory_order_relaxed); }

bool hasContentCriteria(const Rule& r) {
  return !r.match_pattern.empty() || !r.match_detector.empty();
}

bool isJsonObject(std::string_view body) {
  size_t i = body.find_first_not_of(" \t\r\n");
  return i != std::string_view::npos && body[i] == '{';
}

// "secret.aws_access_key@messages[1].content,pii.email@response": what was found and where,
// never the matched text.
std::string describeDetections(const StreamInfo& s, bool response) {
  std::string out;
  for (const Detection& d : s.detections) {
    if (d.response != response) continue;
    if (!out.empty()) out += ',';
    out += d.detector + '@' + d.field;
  }
  return out;
}

// A security event (SPEC §8): recorded in the exchange's facts for the reporter, which turns it
// into a `security` event when the exchange completes (so the event carries the exchange's final
// facts and id), and logged as well: the log line is what an operator without a sink sees.
void reportSecurity(StreamInfo& s, const Rule& rule, RuleOutcome outcome, std::string_view action,
                    std::string_view reason, bool response) {
  s.security_decisions.push_back({outcome, rule.name, std::string(reason), response});
  log::warn("security event", {{"kind", "security"},
                               {"stream", std::to_string(s.id)},
                               {"action", action},
                               {"rule", rule.name},
                               {"reason", reason},
                               {"phase", response ? "response" : "request"},
                               {"host", s.host},
                               {"method", s.method},
                               {"path", s.path},
                               {"model", s.model},
                               {"tool", s.tool},
                               {"detections", describeDetections(s, response)}});
}

std::string blockReason(const Rule& rule) {
  return rule.block_reason.empty() ? "blocked by rule " + rule.name : rule.block_reason;
}

class RuleEvaluatorFilter : public StreamFilter {
 public:
  // `factory` outlives the filter: the chain that created it keeps the factory alive.
  explicit RuleEvaluatorFilter(const RuleEvaluatorFactory& factory) : factory_(factory) {}

  Verdict onRequestHeaders(StreamInfo& s, Headers& /*h*/, bool end_stream) override {
    if (!s.inspect || factory_.rules().empty()) return Verdict::next();
    if (end_stream || !factory_.needsBody()) return decide(s, nullptr);
    holding_ = true;
    return Verdict::needMoreData();
  }

  Verdict onRequestBody(StreamInfo& s, Buffer& chunk, bool end_stream) override {
    if (!holding_) return Verdict::next();
    if (!end_stream) return Verdict::needMoreData();
    holding_ = false;
    return decide(s, &chunk);
  }

  Verdict onResponseHeaders(StreamInfo& /*s*/, Headers& h, bool end_stream) override {
    if (!response_override_ || end_stream) return Verdict::next();
    // The body is replaced: its type and coding go with it; the length comes from the listener,
    // which sends held headers with the final body's exact length.
    h.set("Content-Type", "application/json");
    h.remove("content-encoding");
    h.remove("etag");
    return Verdict::needMoreData();
  }

  Verdict onResponseBody(StreamInfo& s, Buffer& chunk, bool end_stream) override {
    if (response_override_) {
      chunk.clear();  // dropped as it comes: nothing of the origin's body is kept
      if (end_stream) chunk.append(*response_override_);
      return Verdict::next();
    }
    if (!s.inspect || !s.response_scanned) return Verdict::next();
    size_t found = responseFindings(s);
    if (found == response_findings_) return Verdict::next();
    response_findings_ = found;
    return decideResponse(s);
  }

 private:
  // `body`: the whole request body, "" when there is none or it is not at hand.
  static RuleFacts factsFor(const StreamInfo& s, std::string_view body) {
    RuleFacts f;
    f.host = s.host;
    f.path = s.path;
    f.method = s.method;
    f.model = s.model;
    f.tool = s.tool;
    f.metadata_json = s.metadata_json;
    const ai::RequestFacts* facts = s.request_facts.get();
    if (facts != nullptr && facts->endpoint.kind == ai::ApiKind::McpJsonRpc) {
      f.args_json = facts->mcp_arguments_json;
    } else if (facts != nullptr && facts->endpoint.kind == ai::ApiKind::SidecarToolCall) {
      f.args_json = facts->envelope_args_json;
    } else if (isJsonObject(body)) {
      // An API request's arguments are its top-level JSON fields (SPEC §6 param_overrides).
      f.args_json = body;
    }
    f.scanned = s.request_scanned;
    for (const Detection& d : s.detections) {
      if (d.response) continue;
      f.detectors.push_back(d.detector);
      f.detector_categories.push_back(d.category);
    }
    for (const std::string& name : s.request_pattern_rules) f.matched_patterns.push_back(name);
    if (s.endpoint.kind == ai::ApiKind::McpJsonRpc) {
      f.klass = RuleClass::Mcp;
      f.has_class = true;
    } else if (!s.tool.empty()) {
      f.klass = RuleClass::Tool;
      f.has_class = true;
    } else if (s.endpoint.known() || s.traffic_class == TrafficClass::Ai) {
      f.klass = RuleClass::Ai;
      f.has_class = true;
    }
    return f;
  }

  Verdict decide(StreamInfo& s, Buffer* body) {
    RuleFacts facts = factsFor(s, body != nullptr ? body->view() : std::string_view());
    const Rule* rule = factory_.rules().evaluate(facts);
    if (rule == nullptr) {
      s.rule_outcome = RuleOutcome::Allow;
      bump(factory_.allowed);
      return Verdict::next();
    }
    s.rule = rule->name;
    switch (rule->action) {
      case RuleAction::Allow:
        s.rule_outcome = RuleOutcome::Allow;
        bump(factory_.allowed);
        return Verdict::next();
      case RuleAction::Log:
        s.rule_outcome = RuleOutcome::Log;
        bump(factory_.logged);
        reportSecurity(s, *rule, RuleOutcome::Log, "log", {}, /*response=*/false);
        return Verdict::next();
      case RuleAction::Block: {
        s.rule_outcome = RuleOutcome::Block;
        bump(factory_.blocked);
        std::string reason = blockReason(*rule);
        reportSecurity(s, *rule, RuleOutcome::Block, "block", reason, /*response=*/false);
        return Verdict::block(403, std::move(reason));
      }
      case RuleAction::Modify:
        break;
    }
    s.rule_outcome = RuleOutcome::Modify;
    bump(factory_.modified);
    if (body != nullptr) {
      if (auto r = modifyRequest(s, *rule, *body); !r.ok()) {
        // A modification that cannot be made must not let the original through unmodified.
        reportSecurity(s, *rule, RuleOutcome::Block, "block", r.error().message,
                       /*response=*/false);
        return Verdict::block(403, "the request could not be modified as rule " + rule->name +
                                       " requires: " + r.error().message);
      }
    }
    if (!rule->response_override_json.empty()) response_override_ = rule->response_override_json;
    reportSecurity(s, *rule, RuleOutcome::Modify, "modify", {}, /*response=*/false);
    return Verdict::next();
  }

  // Redaction first (its offsets are the original body's), then the overrides.
  static Result<void> modifyRequest(const StreamInfo& s, const Rule& rule, Buffer& body) {
    std::string text = body.toString();
    bool changed = false;
    const ai::RequestFacts* facts = s.request_facts.get();
    if (rule.redact && facts != nullptr) {
      std::vector<ai::TextEdit> edits;
      for (const Detection& d : s.detections) {
        if (d.response || d.text_index == SIZE_MAX) continue;
        edits.push_back({d.text_index, static_cast<size_t>(d.start), static_cast<size_t>(d.end),
                         "[REDACTED:" + d.detector + "]"});
      }
      if (!edits.empty()) {
        auto redacted = ai::applyTextEdits(text, *facts, std::move(edits));
        if (!redacted.ok()) return redacted.error();
        text = std::move(redacted).value();
        changed = true;
      }
    } else if (rule.redact) {
      // Raw (non-API) bodies: the detections' offsets are the body's own bytes.
      std::vector<const Detection*> found;
      for (const Detection& d : s.detections) {
        if (!d.response && d.text_index == SIZE_MAX && d.end <= text.size()) found.push_back(&d);
      }
      std::sort(found.begin(), found.end(),
                [](const Detection* a, const Detection* b) { return a->start > b->start; });
      uint64_t floor = UINT64_MAX;  // replace back to front; skip overlaps
      for (const Detection* d : found) {
        if (d->end > floor) continue;
        text.replace(d->start, d->end - d->start, "[REDACTED:" + d->detector + "]");
        floor = d->start;
        changed = true;
      }
    }
    if (!rule.param_overrides_json.empty() && isJsonObject(text)) {
      ai::RequestFacts none;
      auto overridden =
          ai::applyParamOverrides(text, facts != nullptr ? *facts : none, rule.param_overrides_json);
      if (!overridden.ok()) return overridden.error();
      text = std::move(overridden).value();
      changed = true;
    }
    if (changed) {
      body.clear();
      body.append(text);
    }
    return {};
  }

  static size_t responseFindings(const StreamInfo& s) {
    size_t n = s.response_pattern_rules.size();
    for (const Detection& d : s.detections) n += d.response ? 1 : 0;
    return n;
  }

  // Only the rules that look at content can change their answer because of what the response
  // added; the others were settled on the request.
  Verdict decideResponse(StreamInfo& s) {
    RuleFacts facts = factsFor(s, {});
    facts.detectors.clear();
    facts.detector_categories.clear();
    facts.matched_patterns.clear();
    for (const Detection& d : s.detections) {
      if (!d.response) continue;
      facts.detectors.push_back(d.detector);
      facts.detector_categories.push_back(d.category);
    }
    for (const std::string& name : s.response_pattern_rules) facts.matched_patterns.push_back(name);
    facts.scanned = true;
    for (const Rule& rule : factory_.rules().rules()) {
      if (!hasContentCriteria(rule) || !RuleSet::matches(rule, facts)) continue;
      if (rule.action == RuleAction::Block) {
        s.rule = rule.name;
        s.rule_outcome = RuleOutcome::Block;
        bump(factory_.responses_blocked);
        std::string reason = blockReason(rule);
        reportSecurity(s, rule, RuleOutcome::Block, "block", reason, /*response=*/true);
        return Verdict::block(403, std::move(reason));
      }
      if (rule.action == RuleAction::Log && reported_.insert(rule.name).second) {
        bump(factory_.logged);
        if (s.rule_outcome == RuleOutcome::None || s.rule_outcome == RuleOutcome::Allow) {
          s.rule_outcome = RuleOutcome::Log;
          s.rule = rule.name;
        }
        reportSecurity(s, rule, RuleOutcome::Log, "log", {}, /*response=*/true);
      }
      break;  // first match decides
    }
    return Verdict::next();
  }

  const RuleEvaluatorFactory& factory_;
  bool holding_ = false;
  size_t response_findings_ = 0;
  std::optional<std::string> response_override_;
  std::set<std::string> reported_;  // log rules already reported for the response
};

}  // namespace

RuleEvaluatorFactory::RuleEvaluatorFactory(std::shared_ptr<const RuleSet> rules, bool overridden)
    : rules_(std::move(rules)), overridden_(overridden) {
  for (const Rule& r : rules_->rules()) {
    if (!r.match_tool.empty() || !r.match_args_json.empty() || !r.match_model.empty() ||
        hasContentCriteria(r) || r.action == RuleAction::Modify) {
      needs_body_ = true;
    }
  }
}

std::unique_ptr<StreamFilter> RuleEvaluatorFactory::createStreamFilter() {
  return std::make_unique<RuleEvaluatorFilter>(*this);
}

std::vector<FilterStat> RuleEvaluatorFactory::stats() const {
  auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  return {{"rule_evaluator.allowed", get(allowed)},
          {"rule_evaluator.blocked", get(blocked)},
          {"rule_evaluator.modified", get(modified)},
          {"rule_evaluator.logged", get(logged)},
          {"rule_evaluator.responses_blocked", get(responses_blocked)},
          {"rule_evaluator.rules", rules_->rules().size(), /*gauge=*/true}};
}

Result<std::shared_ptr<FilterFactory>> buildRuleEvaluator(FilterBuildContext& ctx) {
  const YAML::Node& cfg = ctx.config();
  if (!ctx.expectMap(cfg)) return ctx.fail();
  ctx.rejectUnknownKeys(cfg, {"rules"});
  std::shared_ptr<const RuleSet> rules;
  YAML::Node configured = ctx.child(cfg, "rules");
  if (configured && !configured.IsNull() && !configured.IsSequence()) {
    ctx.error(configured, "rule_evaluator config: 'rules' must be a list");
  } else {
    auto parsed = RuleSet::fromYaml(configured.IsSequence() ? configured : YAML::Node(
                                                                             YAML::NodeType::Sequence),
                                    [&ctx](const YAML::Node& n) { return ctx.where(n); });
    if (!parsed.ok()) {
      // Each line already says FILE:LINE; record them as they are.
      std::string_view all = parsed.error().message;
      while (!all.empty()) {
        size_t nl = all.find('\n');
        std::string_view line = all.substr(0, nl);
        ctx.errorLocated(line);
        all = nl == std::string_view::npos ? std::string_view() : all.substr(nl + 1);
      }
    } else {
      rules = std::move(parsed).value();
    }
  }
  if (ctx.hasErrors()) return ctx.fail();

  bool overridden = false;
  const std::string& stored = ctx.state().rules_override_json;
  if (!stored.empty()) {
    auto parsed = RuleSet::fromJson(stored);
    if (!parsed.ok()) {
      ctx.error("the stored rules (PUT /proxy/v1/rules) are invalid: " + parsed.error().message);
      return ctx.fail();
    }
    rules = std::move(parsed).value();
    overridden = true;
  }
  for (const Rule& r : rules->rules()) {
    if (!r.match_pattern.empty()) {
      ctx.state().rule_patterns.push_back({r.patternDetectorId(), r.match_pattern});
    }
    if (hasContentCriteria(r)) ctx.state().rules_need_scan = true;
  }
  return std::shared_ptr<FilterFactory>(
      std::make_shared<RuleEvaluatorFactory>(std::move(rules), overridden));
}

}  // namespace aiw
