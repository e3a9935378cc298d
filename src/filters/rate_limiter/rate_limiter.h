// rate_limiter (SPEC.md §5): token buckets keyed by a fact of the exchange. Each inspected
// exchange takes one token from every configured bucket entry it matches, from the bucket of
// that entry's key value (one bucket per session, per client address, per tool...). When one of
// them is empty the exchange is refused with 429 and Retry-After (Verdict::retry_after_s: whole
// seconds until a token is back), and takes no token from any bucket. The listener turns that
// Block into the HTTP answer.
//
// Config:
//   buckets:
//     - key: session          # session | client | tool | host | model | rule
//       rate: 5               # tokens added per second, > 0 (fractional allowed: 0.5)
//       burst: 5              # bucket size, a whole number >= 1
//       match: { tool: python_exec }  # optional: only exchanges with these facts
//   max_keys: 100000          # optional: most live buckets per entry (LRU evicted)
//
// Keys: session (StreamInfo::session_id), client (the downstream peer's IP, port left out),
// tool, host, model, rule (the rule that decided, from the rule_evaluator before this stage).
// An exchange that has no value for an entry's key (no session id, no tool...) is not limited by
// that entry, like Envoy's descriptors: no descriptor, no limit.
// match: `tool` and `model` are globs (rule_evaluator/glob.h; model case-insensitive, as the
// rules' match_model), `host` a domain pattern (domain_classifier/domain_patterns.h, as the rules'
// match_host), `class` one or a list of ai | tool | mcp (as the rules' match_class). Every given
// key must hold.
//
// When it decides: session, client and host are known with the request headers; tool, model,
// rule and class may only be known once the body has been parsed by the filters before this
// one. When an entry needs one of those, the filter holds the request headers until the whole
// body has gone through it (the body itself is not copied or changed) and decides on the last
// body call; otherwise it decides on the headers. Exchanges that are not inspected (plain HTTP
// to hosts nobody intercepts) pass unlimited, like the blind tunnels of the same hosts.
//
// Buckets live as long as the built stage: a rebuilt chain (reload, admin update) starts with
// full buckets.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "filters/domain_classifier/domain_patterns.h"
#include "filters/filter.h"
#include "filters/rate_limiter/token_buckets.h"
#include "filters/registry.h"

namespace aiw {

enum class RateKey : uint8_t { Session, Client, Tool, Host, Model, Rule };
// The traffic classes of `match.class`, read from the exchange the way the rule_evaluator reads
// match_class.
enum class RateClass : uint8_t { Ai, Tool, Mcp };

// The optional `match:` of a bucket entry; an empty one matches every exchange.
struct RateMatch {
  std::string tool;                   // glob; "" any
  std::string model;                  // glob, case-insensitive; "" any
  std::optional<DomainPattern> host;  // none: any
  std::vector<RateClass> classes;     // any of these; empty: any
  bool operator==(const RateMatch& o) const;
};

struct RateBucketSpec {
  RateKey key = RateKey::Session;
  double rate = 1;     // tokens per second
  uint32_t burst = 1;  // bucket size
  RateMatch match;
  bool operator==(const RateBucketSpec&) const = default;
};

struct RateLimiterConfig {
  static constexpr uint64_t kDefaultMaxKeys = 100000;
  std::vector<RateBucketSpec> buckets;
  uint64_t max_keys = kDefaultMaxKeys;
  bool operator==(const RateLimiterConfig&) const = default;
};

// "session", "client", ... as the config spells them.
std::string_view rateKeyName(RateKey key);
// The IP of a downstream peer written "ip:port" or "[ipv6]:port" (ConnectionInfo::client):
// "10.0.0.1", "::1". A value without a port comes back as it is.
std::string_view clientIp(std::string_view peer);

class RateLimiterFactory : public FilterFactory {
 public:
  RateLimiterFactory(RateLimiterConfig config, TokenBuckets::Clock clock);

  // Null when no bucket is configured: the chain then leaves the stage out of every exchange.
  std::unique_ptr<StreamFilter> createStreamFilter() override;
  // rate_limiter.allowed, rate_limiter.limited, rate_limiter.buckets (gauge: live buckets).
  std::vector<FilterStat> stats() const override;
  // A rebuilt chain (a reload, PUT /proxy/v1/rules or /patterns) keeps the buckets of the stage
  // it replaces when the buckets are configured the same: otherwise every rules update would
  // hand every client a full burst again. Changed buckets start full, as at start-up.
  void inheritState(FilterFactory& previous) override;

  const RateLimiterConfig& config() const { return config_; }
  // Some entry needs a fact known only after the request body (tool, model, rule, class).
  bool needsBody() const { return needs_body_; }
  TokenBuckets& buckets() const { return *buckets_; }

  // Decides one exchange with the facts it has now: Continue, or Block 429 with retry_after_s.
  // Takes the tokens. Called once per exchange, on any worker.
  Verdict decide(const StreamInfo& s) const;

  // Exchanges that took a token from at least one bucket / that were refused. Bumped by the
  // filters on any worker (relaxed: statistics).
  mutable std::atomic<uint64_t> allowed{0};
  mutable std::atomic<uint64_t> limited{0};

 private:
  RateLimiterConfig config_;
  bool needs_body_ = false;
  // Shared by the filters of every worker (TokenBuckets says its locking), and by the stage of
  // the next chain when its buckets are the same (inheritState): the old chain's exchanges still
  // in flight and the new chain's then draw from one store.
  std::shared_ptr<TokenBuckets> buckets_;
};

// The registry builder of `rate_limiter` (builtin_filters.cc), on steady_clock.
Result<std::shared_ptr<FilterFactory>> buildRateLimiter(FilterBuildContext& ctx);
// The same with the buckets' clock given (tests move time by hand).
Result<std::shared_ptr<FilterFactory>> buildRateLimiterWithClock(FilterBuildContext& ctx,
                                                                 TokenBuckets::Clock clock);

}  // namespace aiw
