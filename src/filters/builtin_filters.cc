#include "filters/builtin_filters.h"

namespace aiw {

void registerBuiltinFilters(FilterRegistry& registry) {
  // One line per filter, in the order of SPEC.md §5. Each filter lives in its own folder,
  // src/filters/<name>/, and exposes a builder from its header, for instance
  //   registry.add("tls_inspector", buildTlsInspector);      // tls_inspector/tls_inspector.h
  //   registry.add("domain_classifier", buildDomainClassifier);
  //   registry.add("chatty_bypass", buildChattyBypass);
  //   registry.add("pattern_matcher", buildPatternMatcher);
  //   registry.add("rule_evaluator", buildRuleEvaluator);
  //   registry.add("rate_limiter", buildRateLimiter);
  //   registry.add("reporter", buildReporter);
  // No filter exists yet: each lands with its own issue, and its line here.
  (void)registry;
}

FilterRegistry builtinFilterRegistry() {
  FilterRegistry registry;
  registerBuiltinFilters(registry);
  return registry;
}

}  // namespace aiw
