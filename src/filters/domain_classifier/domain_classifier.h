// domain_classifier (SPEC.md §4, §5): names the traffic class of a connection's target (ai,
// chatty, unknown) and whether it is to be intercepted; refuses what the policy must not let
// through. It never bypasses anything itself: chatty_bypass, after it, turns every connection
// not to be intercepted into a blind tunnel.
//
// Config (filters.d/20-domain_classifier.yaml):
//   patterns:        [{pattern, proxy: true|false}]   Proxy Patterns: intercept, or not
//   ai_domains:      [pattern, ...]                     intercepted, class ai
//   chatty_domains:  [pattern, ...]                     not intercepted, class chatty
//   default:         bypass | intercept | block         hosts none of the above names (bypass)
// Patterns are domain patterns (domain_patterns.h). Proxy Patterns are consulted first; only a
// host no Proxy Pattern names goes on to the two lists. Within each tier the most specific
// match wins; a pattern that is in both ai_domains and chatty_domains (the only way two list
// entries can match one host equally specifically) counts as ai. A `proxy: true` pattern makes
// the class ai, a `proxy: false` one unknown (the pattern says what to do, not what the host is).
// The same pattern twice in one list is an error, even with the same value.
//
// The name classified is the CONNECT (or absolute-form) host, except when that is an IP literal
// and the TLS ClientHello carried an SNI: then the SNI. On each connection it refuses (Block
// 403):
//   * a CONNECT host name and an SNI that differ (case-insensitively, one trailing dot ignored):
//     domain fronting would let one name's policy carry another name's traffic;
//   * a host no pattern names when `default: block`;
//   * a connection to be intercepted whose ClientHello tls_inspector could not parse
//     (ConnectionInfo::tls_error): it must never become a tunnel nobody looked into.
// Otherwise it sets ConnectionInfo::traffic_class and ::intercept and continues.
// Plain HTTP requests (no CONNECT) are classified per request by its stream phase, which sets
// StreamInfo::traffic_class and ::inspect (the guardrails look only at inspected exchanges) and
// refuses hosts no pattern names under `default: block`.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "filters/domain_classifier/domain_patterns.h"
#include "filters/filter.h"
#include "filters/registry.h"

namespace aiw {

struct ProxyPattern {
  std::string pattern;
  bool proxy = false;
};

enum class DefaultAction : uint8_t { Bypass, Intercept, Block };

// The classifier's configuration as written (not normalized): what GET /proxy/v1/patterns
// shows and PUT replaces.
struct DomainClassifierConfig {
  std::vector<ProxyPattern> patterns;
  std::vector<std::string> ai_domains;
  std::vector<std::string> chatty_domains;
  DefaultAction default_action = DefaultAction::Bypass;
};

// What the classifier says about one host name.
struct Classification {
  enum class Source : uint8_t { ProxyPattern, AiDomains, ChattyDomains, Default };
  TrafficClass traffic_class = TrafficClass::Unknown;
  bool intercept = false;
  Source source = Source::Default;
  // The normalized pattern that decided; empty when the default did. Points into the
  // classifier, which outlives every use (the snapshot holds it).
  std::string_view pattern;
};

// The compiled configuration: immutable once built, shared by every worker, matched per
// connection without locks or allocation.
class DomainClassifier {
 public:
  enum class Field : uint8_t { Patterns, AiDomains, ChattyDomains };
  // Receives one problem with the `index`-th entry of `field` (message without location).
  using ErrorSink = std::function<void(Field field, size_t index, std::string_view message)>;

  // Validates every entry (each error goes to `error`); nullptr when there was any.
  static std::shared_ptr<const DomainClassifier> compile(DomainClassifierConfig config,
                                                         const ErrorSink& error);
  // For callers without a YAML document (PUT /proxy/v1/patterns): Error{"config", lines
  // "patterns[1].pattern: ..." / "ai_domains[0]: ..." joined by "\n"}.
  static Result<std::shared_ptr<const DomainClassifier>> compile(DomainClassifierConfig config);

  Classification classify(std::string_view host) const;
  const DomainClassifierConfig& config() const { return config_; }

 private:
  DomainClassifierConfig config_;
  DomainMatcher proxy_patterns_;  // value: 1 = proxy, 0 = not
  DomainMatcher domains_;         // value: a TrafficClass (Ai or Chatty)
};

// Plain copies of the classifier's counters (for /proxy/v1/filters and /metrics).
struct DomainClassifierCounts {
  uint64_t ai = 0;                      // connections classified ai
  uint64_t chatty = 0;                  // ... chatty
  uint64_t unknown = 0;                 // ... unknown (default, or a proxy: false pattern)
  uint64_t fronting_refused = 0;        // CONNECT host and SNI named different hosts
  uint64_t default_blocked = 0;         // no pattern named the host, `default: block`
  uint64_t unparsed_hello_refused = 0;  // to be intercepted, but the ClientHello was unreadable
};

class DomainClassifierFactory : public FilterFactory {
 public:
  explicit DomainClassifierFactory(std::shared_ptr<const DomainClassifier> classifier)
      : classifier_(std::move(classifier)) {}

  std::unique_ptr<ConnectionFilter> createConnectionFilter() override;
  // Classifies plain HTTP requests (StreamInfo::inspect, traffic_class; default block).
  std::unique_ptr<StreamFilter> createStreamFilter() override;

  const DomainClassifier& classifier() const { return *classifier_; }
  DomainClassifierCounts counts() const;
  // counts() as "domain_classifier.<thing>" (ai, chatty, unknown, fronting_refused, ...).
  std::vector<FilterStat> stats() const override;

 private:
  friend class DomainClassifierFilter;
  friend class DomainClassifierStreamFilter;

  std::shared_ptr<const DomainClassifier> classifier_;  // never null
  // Bumped by every worker; relaxed: statistics, not synchronization.
  mutable std::atomic<uint64_t> ai_{0}, chatty_{0}, unknown_{0};
  mutable std::atomic<uint64_t> fronting_refused_{0}, default_blocked_{0},
      unparsed_hello_refused_{0};
};

// The registry builder of `domain_classifier` (builtin_filters.cc).
Result<std::shared_ptr<FilterFactory>> buildDomainClassifier(FilterBuildContext& ctx);

}  // namespace aiw
