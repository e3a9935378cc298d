// FilterChain::inheritStateFrom: a rebuilt chain hands each stage the one it replaces — the same
// filter at the same rank among that filter's stages — whatever moved around it.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "filters/chain.h"

namespace aiw {
namespace {

// A stage that remembers which stage it inherited from.
class TaggedFactory : public FilterFactory {
 public:
  explicit TaggedFactory(std::string tag) : tag(std::move(tag)) {}
  void inheritState(FilterFactory& previous) override {
    inherited_from = static_cast<TaggedFactory&>(previous).tag;
  }
  std::string tag;
  std::string inherited_from;
};

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

}  // namespace
}  // namespace aiw
