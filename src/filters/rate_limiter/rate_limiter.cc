#include "filters/rate_limiter/rate_limiter.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "ai/provider.h"
#include "filters/rule_evaluator/glob.h"

namespace aiw {
namespace {

using Presence = FilterBuildContext::Presence;

constexpr double kMaxRate = 1e9;
constexpr uint32_t kMaxBurst = 1000000000;
constexpr uint64_t kMaxMaxKeys = 100000000;
// A key value quoted in a 429 reason is cut here: it comes from the client (a session header, a
// tool name) and the reason is echoed into error bodies and events.
constexpr size_t kMaxShownValue = 128;

constexpr std::array<std::string_view, 6> kKeyNames = {"session", "client", "tool",
                                                       "host",    "model",  "rule"};

void bump(std::atomic<uint64_t>& counter) { counter.fetch_add(1, std::memory_order_relaxed); }

// The same reading of an exchange as the rule_evaluator's match_class (rule_evaluator.cc,
// factsFor), so `class: tool` means the same thing in a rule and in a bucket.
std::optional<RateClass> classOf(const StreamInfo& s) {
  if (s.endpoint.kind == ai::ApiKind::McpJsonRpc) return RateClass::Mcp;
  if (!s.tool.empty()) return RateClass::Tool;
  if (s.endpoint.known() || s.traffic_class == TrafficClass::Ai) return RateClass::Ai;
  return std::nullopt;
}

bool matches(const RateMatch& m, const StreamInfo& s) {
  if (!m.tool.empty() && (s.tool.empty() || !globMatches(m.tool, s.tool))) return false;
  if (!m.model.empty() &&
      (s.model.empty() || !globMatches(m.model, s.model, GlobCase::Insensitive))) {
    return false;
  }
  if (m.host && !m.host->matches(s.host)) return false;
  if (!m.classes.empty()) {
    std::optional<RateClass> c = classOf(s);
    if (!c || std::find(m.classes.begin(), m.classes.end(), *c) == m.classes.end()) return false;
  }
  return true;
}

// The exchange's value for `key`; "" when it has none (then the entry does not apply).
std::string_view keyValue(RateKey key, const StreamInfo& s) {
  switch (key) {
    case RateKey::Session:
      return s.session_id;
    case RateKey::Client:
      return s.connection != nullptr ? clientIp(s.connection->client) : std::string_view();
    case RateKey::Tool:
      return s.tool;
    case RateKey::Host:
      return s.host;
    case RateKey::Model:
      return s.model;
    case RateKey::Rule:
      return s.rule;
  }
  return {};
}

std::string formatRate(double rate) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), rate);
  return ec == std::errc() ? std::string(buf, end) : std::string("?");
}

std::string shownValue(std::string_view value) {
  std::string out(value.substr(0, kMaxShownValue));
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  if (value.size() > kMaxShownValue) out += "...";
  return out;
}

class RateLimiterFilter : public StreamFilter {
 public:
  // `factory` outlives the filter: the chain that created it keeps the factory alive.
  explicit RateLimiterFilter(const RateLimiterFactory& factory) : factory_(factory) {}

  Verdict onRequestHeaders(StreamInfo& s, Headers& /*h*/, bool end_stream) override {
    if (!s.inspect) return Verdict::next();
    if (end_stream || !factory_.needsBody()) return factory_.decide(s);
    // The chain holds the headers until the whole body has been through this filter, which is
    // when the filters before it have filled in tool, model and rule.
    holding_ = true;
    return Verdict::needMoreData();
  }

  Verdict onRequestBody(StreamInfo& s, Buffer& /*chunk*/, bool end_stream) override {
    // Continue, never NeedMoreData, on the chunks before the last: the held headers already keep
    // them from going upstream, and NeedMoreData would make the chain buffer the body for this
    // filter and hand it over again on every chunk, for nothing (it never reads the body).
    if (!holding_ || !end_stream) return Verdict::next();
    holding_ = false;
    return factory_.decide(s);
  }

 private:
  const RateLimiterFactory& factory_;
  bool holding_ = false;  // headers held, the decision waits for the end of the body
};

// ---- config ----

std::optional<RateClass> parseClass(std::string_view v) {
  if (v == "ai") return RateClass::Ai;
  if (v == "tool") return RateClass::Tool;
  if (v == "mcp") return RateClass::Mcp;
  return std::nullopt;
}

// `class`: one name or a list of names.
void readClasses(FilterBuildContext& ctx, const YAML::Node& node, std::vector<RateClass>& out) {
  std::vector<YAML::Node> items;
  if (node.IsSequence()) {
    if (node.size() == 0) ctx.error(node, "'class' must not be an empty list");
    for (auto it = node.begin(); it != node.end(); ++it) items.push_back(*it);
  } else {
    items.push_back(node);
  }
  static const std::vector<std::string> kNames = {"ai", "tool", "mcp"};
  for (const YAML::Node& item : items) {
    std::string v;
    if (!ctx.asString(item, "class", v)) continue;
    if (auto c = parseClass(v)) {
      out.push_back(*c);
      continue;
    }
    std::string message = "unknown value '" + v + "' for 'class' (expected ai, tool, mcp)";
    std::string hint = closestName(v, kNames);
    if (!hint.empty()) message += ", did you mean '" + hint + "'?";
    ctx.error(item, message);
  }
}

// A glob of `match` (tool, model): present means non-empty.
void readGlob(FilterBuildContext& ctx, const YAML::Node& match, std::string_view key,
              std::string& out) {
  if (ctx.read(match, key, out) && ctx.has(match, key) && out.empty()) {
    ctx.error(ctx.child(match, key), "'" + std::string(key) + "' must not be empty");
  }
}

void readMatch(FilterBuildContext& ctx, const YAML::Node& match, RateMatch& out) {
  if (!ctx.expectMap(match, "match")) return;
  ctx.rejectUnknownKeys(match, {"tool", "host", "model", "class"}, "match");
  readGlob(ctx, match, "tool", out.tool);
  readGlob(ctx, match, "model", out.model);
  std::string host;
  if (ctx.read(match, "host", host) && ctx.has(match, "host")) {
    auto pattern = DomainPattern::parse(host);
    if (pattern.ok()) {
      out.host = std::move(pattern).value();
    } else {
      ctx.error(ctx.child(match, "host"), "'host': " + pattern.error().message);
    }
  }
  YAML::Node classes = ctx.child(match, "class");
  if (classes.IsDefined() && !classes.IsNull()) readClasses(ctx, classes, out.classes);
}

void readBucket(FilterBuildContext& ctx, const YAML::Node& item, RateLimiterConfig& config) {
  if (!item.IsMap()) {
    ctx.error(item, "each item of 'buckets' must be a map (key, rate, burst, match)");
    return;
  }
  ctx.rejectUnknownKeys(item, {"key", "rate", "burst", "match"}, "rate_limiter bucket");
  RateBucketSpec b;
  bool ok = true;
  std::string key;
  if (ctx.readEnum(item, "key", key, {"session", "client", "tool", "host", "model", "rule"},
                   Presence::Required)) {
    auto at = std::find(kKeyNames.begin(), kKeyNames.end(), key);
    b.key = static_cast<RateKey>(at - kKeyNames.begin());
  } else {
    ok = false;
  }
  if (ctx.read(item, "rate", b.rate, Presence::Required)) {
    if (b.rate <= 0) {
      ctx.error(ctx.child(item, "rate"),
                "'rate' must be greater than 0 (tokens per second), got " + formatRate(b.rate));
      ok = false;
    } else if (b.rate > kMaxRate) {
      ctx.error(ctx.child(item, "rate"), "'rate' must be at most " + formatRate(kMaxRate) +
                                             " tokens per second, got " + formatRate(b.rate));
      ok = false;
    }
  } else {
    ok = false;
  }
  ok = ctx.read(item, "burst", b.burst, Presence::Required, 1, kMaxBurst) && ok;
  YAML::Node match = ctx.child(item, "match");
  if (match.IsDefined() && !match.IsNull()) readMatch(ctx, match, b.match);
  if (ok) config.buckets.push_back(std::move(b));
}

}  // namespace

std::string_view rateKeyName(RateKey key) { return kKeyNames[static_cast<size_t>(key)]; }

std::string_view clientIp(std::string_view peer) {
  if (peer.starts_with('[')) {
    size_t close = peer.find(']');
    return close == std::string_view::npos ? peer.substr(1) : peer.substr(1, close - 1);
  }
  size_t colon = peer.find(':');
  // Two colons or more, no brackets: a bare IPv6 address, no port to strip.
  if (colon == std::string_view::npos || peer.find(':', colon + 1) != std::string_view::npos) {
    return peer;
  }
  return peer.substr(0, colon);
}

RateLimiterFactory::RateLimiterFactory(RateLimiterConfig config, TokenBuckets::Clock clock)
    : config_(std::move(config)) {
  std::vector<TokenBuckets::Limits> limits;
  for (const RateBucketSpec& b : config_.buckets) {
    limits.push_back({b.rate, b.burst, config_.max_keys});
    if (b.key == RateKey::Tool || b.key == RateKey::Model || b.key == RateKey::Rule ||
        !b.match.tool.empty() || !b.match.model.empty() || !b.match.classes.empty()) {
      needs_body_ = true;
    }
  }
  buckets_ = std::make_shared<TokenBuckets>(std::move(limits), std::move(clock));
}

bool RateMatch::operator==(const RateMatch& o) const {
  auto hostText = [](const std::optional<DomainPattern>& h) {
    return h ? std::string(h->text()) : std::string();
  };
  return tool == o.tool && model == o.model && classes == o.classes &&
         hostText(host) == hostText(o.host);
}

void RateLimiterFactory::inheritState(FilterFactory& previous) {
  auto* before = dynamic_cast<RateLimiterFactory*>(&previous);
  if (before == nullptr || !(before->config_ == config_)) return;
  buckets_ = before->buckets_;
}

std::unique_ptr<StreamFilter> RateLimiterFactory::createStreamFilter() {
  if (config_.buckets.empty()) return nullptr;
  return std::make_unique<RateLimiterFilter>(*this);
}

std::vector<FilterStat> RateLimiterFactory::stats() const {
  return {{"rate_limiter.allowed", allowed.load(std::memory_order_relaxed)},
          {"rate_limiter.limited", limited.load(std::memory_order_relaxed)},
          {"rate_limiter.buckets", buckets_->size(), /*gauge=*/true}};
}

Verdict RateLimiterFactory::decide(const StreamInfo& s) const {
  std::vector<TokenBuckets::Want> wants;
  wants.reserve(config_.buckets.size());
  for (size_t i = 0; i < config_.buckets.size(); ++i) {
    const RateBucketSpec& b = config_.buckets[i];
    if (!matches(b.match, s)) continue;
    std::string_view value = keyValue(b.key, s);
    if (!value.empty()) wants.push_back({i, value});
  }
  if (wants.empty()) return Verdict::next();
  TokenBuckets::Outcome out = buckets_->acquire(wants);
  if (out.allowed) {
    bump(allowed);
    return Verdict::next();
  }
  bump(limited);
  const TokenBuckets::Want& empty = wants[out.refused];
  const RateBucketSpec& b = config_.buckets[empty.table];
  Verdict v = Verdict::block(429, "rate limited: " + std::string(rateKeyName(b.key)) + " " +
                                      shownValue(empty.key) + " (" + formatRate(b.rate) +
                                      " per second, burst " + std::to_string(b.burst) + ")");
  v.retry_after_s = out.retry_after_s;
  return v;
}

Result<std::shared_ptr<FilterFactory>> buildRateLimiterWithClock(FilterBuildContext& ctx,
                                                                 TokenBuckets::Clock clock) {
  const YAML::Node& cfg = ctx.config();
  if (!ctx.expectMap(cfg)) return ctx.fail();
  ctx.rejectUnknownKeys(cfg, {"buckets", "max_keys"});
  RateLimiterConfig config;
  ctx.read(cfg, "max_keys", config.max_keys, Presence::Optional, 1, kMaxMaxKeys);
  for (const YAML::Node& item : ctx.items(cfg, "buckets")) readBucket(ctx, item, config);
  if (ctx.hasErrors()) return ctx.fail();
  return std::shared_ptr<FilterFactory>(
      std::make_shared<RateLimiterFactory>(std::move(config), std::move(clock)));
}

Result<std::shared_ptr<FilterFactory>> buildRateLimiter(FilterBuildContext& ctx) {
  return buildRateLimiterWithClock(ctx, [] { return std::chrono::steady_clock::now(); });
}

}  // namespace aiw
