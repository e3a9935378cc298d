#include "filters/builtin_filters.h"

#include "filters/chatty_bypass/chatty_bypass.h"
#include "filters/domain_classifier/domain_classifier.h"
#include "filters/pattern_matcher/pattern_matcher.h"
#include "filters/rate_limiter/rate_limiter.h"
#include "filters/reporter/reporter_filter.h"
#include "filters/rule_evaluator/rule_evaluator.h"
#include "filters/tls_inspector/tls_inspector.h"

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
  // The others land with their issues, each with its line here.
  registry.add("tls_inspector", buildTlsInspector);
  registry.add("domain_classifier", buildDomainClassifier);
  registry.add("chatty_bypass", buildChattyBypass);
  registry.add("pattern_matcher", buildPatternMatcher);
  registry.add("rule_evaluator", buildRuleEvaluator);
  registry.add("rate_limiter", buildRateLimiter);
  registry.add("reporter", buildReporter);
}

FilterRegistry builtinFilterRegistry() {
  FilterRegistry registry;
  registerBuiltinFilters(registry);
  return registry;
}

}  // namespace aiw
