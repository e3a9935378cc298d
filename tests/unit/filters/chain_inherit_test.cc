// FilterChain::inheritStateFrom: a rebuilt chain hands each stage the one it replaces — the same
// filter at the same rank among that filter's stages — whatever moved around it.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "filters/chain.h"

namespace aiw {
namespace {

// A stream filter that lets every exchange through.
class PassFilter : public StreamFilter {};

// A stage that remembers which stage it inherited from, and reports a counter, a gauge and a
// process-wide count of its own.
class TaggedFactory : public FilterFactory {
 public:
  explicit TaggedFactory(std::string tag) : tag(std::move(tag)) {}
  void inheritState(FilterFactory& previous) override {
    inherited_from = static_cast<TaggedFactory&>(previous).tag;
  }
  std::unique_ptr<StreamFilter> createStreamFilter() override {
    return std::make_unique<PassFilter>();
  }
  std::vector<FilterStat> stats() const override {
    return {{"tagged.calls", calls}, {"tagged.loaded", loaded, /*gauge=*/true},
            {"tagged.service", service, false, /*process_wide=*/true}};
  }
  std::string tag;
  std::string inherited_from;
  uint64_t calls = 0, loaded = 0, service = 0;
};

uint64_t statOf(const FilterChain::Entry& e, const std::string& name) {
  for (const FilterStat& st : e.stats()) {
    if (st.name == name) return st.value;
  }
  FAIL("no stat " << name);
  return 0;
}

struct Built {
  std::vector<std::shared_ptr<TaggedFactory>> factories;
  std::unique_ptr<FilterChain> chain;
};

// Stages named by `names`, tagged "<name>#<rank>@<generation>".
Built chainOf(const std::vector<std::string>& names, const std::string& generation) {
  Built b;
  std::vector<FilterChain::Stage> stages;
  std::vector<std::string> seen;
  for (const std::string& name : names) {
    int rank = 0;
    for (const std::string& s : seen) rank += s == name ? 1 : 0;
    seen.push_back(name);
    auto f = std::make_shared<TaggedFactory>(name + "#" + std::to_string(rank) + "@" + generation);
    b.factories.push_back(f);
    stages.push_back({name, "filters.d/x.yaml", 1, f});
  }
  b.chain = std::make_unique<FilterChain>(std::move(stages));
  return b;
}

TEST_CASE("each stage inherits from the same filter's stage of the same rank") {
  Built old_chain = chainOf({"rate_limiter", "reporter", "rate_limiter"}, "old");
  // Reordered, one stage added in front: ranks, not positions, decide.
  Built next = chainOf({"pattern_matcher", "rate_limiter", "rate_limiter", "reporter"}, "new");
  next.chain->inheritStateFrom(*old_chain.chain);
  CHECK(next.factories[0]->inherited_from.empty());  // no pattern_matcher before
  CHECK(next.factories[1]->inherited_from == "rate_limiter#0@old");
  CHECK(next.factories[2]->inherited_from == "rate_limiter#1@old");
  CHECK(next.factories[3]->inherited_from == "reporter#0@old");
  // The previous chain's stages are left as they were.
  for (const auto& f : old_chain.factories) CHECK(f->inherited_from.empty());
}

TEST_CASE("a stage with no counterpart of its rank inherits nothing") {
  Built old_chain = chainOf({"rate_limiter"}, "old");
  Built next = chainOf({"rate_limiter", "rate_limiter"}, "new");
  next.chain->inheritStateFrom(*old_chain.chain);
  CHECK(next.factories[0]->inherited_from == "rate_limiter#0@old");
  CHECK(next.factories[1]->inherited_from.empty());
}

TEST_CASE("counters continue across rebuilds; gauges and process-wide stats do not add up") {
  Built first = chainOf({"tagged"}, "1");
  std::shared_ptr<const FilterChain> first_chain(std::move(first.chain));
  for (int i = 0; i < 3; ++i) {  // three exchanges through the first chain
    StreamFilterChain run(first_chain, 1024, FailMode::Closed);
    StreamInfo info;
    Headers headers;
    CHECK(run.requestHeaders(info, headers, true).action == Action::Continue);
  }
  first.factories[0]->calls = 7;
  first.factories[0]->loaded = 40;
  first.factories[0]->service = 100;
  REQUIRE(first_chain->entry(0).counters().invocations == 3);

  Built second = chainOf({"tagged"}, "2");
  second.chain->inheritStateFrom(*first_chain);
  second.factories[0]->calls = 2;      // counted by the new stage since
  second.factories[0]->loaded = 41;    // a level: the new one's alone
  second.factories[0]->service = 101;  // the service's running total: the new one's alone
  const FilterChain::Entry& e = second.chain->entry(0);
  CHECK(e.counters().invocations == 3);
  CHECK(e.counters().continues == 3);
  CHECK(statOf(e, "tagged.calls") == 9);
  CHECK(statOf(e, "tagged.loaded") == 41);
  CHECK(statOf(e, "tagged.service") == 101);

  // A third generation carries the running totals on.
  Built third = chainOf({"tagged"}, "3");
  third.chain->inheritStateFrom(*second.chain);
  CHECK(statOf(third.chain->entry(0), "tagged.calls") == 9);
  CHECK(third.chain->entry(0).counters().invocations == 3);
}

TEST_CASE("an exchange still running on the old chain after a rebuild counts in the new one") {
  Built first = chainOf({"tagged"}, "1");
  std::shared_ptr<const FilterChain> first_chain(std::move(first.chain));
  StreamFilterChain in_flight(first_chain, 1024, FailMode::Closed);  // began before the rebuild
  StreamInfo info;
  Headers headers;
  CHECK(in_flight.requestHeaders(info, headers, false).action == Action::Continue);

  Built second = chainOf({"tagged"}, "2");
  second.chain->inheritStateFrom(*first_chain);
  REQUIRE(second.chain->entry(0).counters().invocations == 1);
  Buffer body;
  CHECK(in_flight.requestBody(info, body, true).action == Action::Continue);
  CHECK(second.chain->entry(0).counters().invocations == 2);
  CHECK(second.chain->entry(0).counters().continues == 2);
}

}  // namespace
}  // namespace aiw
