// FilterRegistry, FilterBuildContext and buildFilterChain: names, located config errors.
#include "filters/registry.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "filters/builtin_filters.h"
#include "filters/chain.h"
#include "probe_filter.h"

namespace aiw {
namespace {

using test::Harness;
using test::specsFromYaml;

std::string chainError(Harness& h, const std::string& yaml) {
  auto built = buildFilterChain(specsFromYaml(yaml), h.registry);
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().code == "config");
  return built.error().message;
}

// A registry with one builder, for tests of the context helpers.
Result<std::shared_ptr<FilterFactory>> buildWith(FilterRegistry::Builder builder,
                                                 const std::string& yaml) {
  FilterRegistry registry;
  REQUIRE(registry.add("custom", std::move(builder)));
  auto specs = specsFromYaml(yaml);
  REQUIRE(specs.size() == 1);
  return registry.build(specs[0]);
}

std::shared_ptr<FilterFactory> emptyFactory() { return std::make_shared<FilterFactory>(); }

TEST_CASE("builds a chain of the enabled entries in their order with name, file and line") {
  Harness h;
  auto chain = h.chain(R"(- filter: probe
  config: {tag: a}
- filter: guard
  enabled: false
  config: {tag: b}
- filter: guard
  config: {tag: c})");
  REQUIRE(chain->size() == 2);
  CHECK(chain->entry(0).name() == "probe");
  CHECK(chain->entry(0).file() == "filters.yaml");
  CHECK(chain->entry(0).line() == 1);
  CHECK(chain->entry(1).name() == "guard");
  CHECK(chain->entry(1).line() == 6);
}

TEST_CASE("a disabled entry is not built, so its unknown name or bad config is no error") {
  Harness h;
  auto chain = h.chain(R"(- filter: no_such_filter
  enabled: false
- filter: probe
  enabled: false
  config: {bogus: 1}
- filter: probe
  config: {tag: a})");
  CHECK(chain->size() == 1);
}

TEST_CASE("an unknown filter name is reported with file, line, the known names and a hint") {
  Harness h;
  std::string message = chainError(h, R"(- filter: probe
  config: {tag: a}
- filter: prob)");
  CHECK(message ==
        "filters.yaml:3: unknown filter 'prob' (known: guard, probe); "
        "did you mean 'probe'?");
}

TEST_CASE("an unknown filter name far from every known one gets no hint") {
  Harness h;
  std::string message = chainError(h, "- filter: rate_limiter\n");
  CHECK(message == "filters.yaml:1: unknown filter 'rate_limiter' (known: guard, probe)");
}

TEST_CASE("every error of every entry is collected, one line each, in chain order") {
  Harness h;
  std::string message = chainError(h, R"(- filter: probe
  config: {tag: a, request_body: blok}
- filter: gaurd
- filter: probe
  config:
    tag: c
    until_bytes: lots
    stauts: 404)");
  CHECK(message ==
        "filters.yaml:2: unknown value 'blok' for 'request_body' (expected continue, block, "
        "bypass, need_more_data), did you mean 'block'?\n"
        "filters.yaml:3: unknown filter 'gaurd' (known: guard, probe); did you mean 'guard'?\n"
        "filters.yaml:8: unknown key 'stauts' in probe config, did you mean 'status'?\n"
        "filters.yaml:7: 'until_bytes' must be a whole number, got 'lots'");
}

TEST_CASE("an unknown key in a filter's config is reported at its own line") {
  Harness h;
  std::string message = chainError(h, R"(# a comment line
- filter: probe
  config:
    tag: a

    until_byte: 3)");
  CHECK(message ==
        "filters.yaml:6: unknown key 'until_byte' in probe config, "
        "did you mean 'until_bytes'?");
}

TEST_CASE("an unknown key with no close match lists the expected keys") {
  Harness h;
  std::string message = chainError(h, R"(- filter: probe
  config:
    tag: a
    replace: {from: x, too_far_off: y})");
  CHECK(message ==
        "filters.yaml:4: unknown key 'too_far_off' in replace "
        "(expected one of: from, to)");
}

TEST_CASE("a missing required key is reported at the config") {
  Harness h;
  std::string message = chainError(h, R"(- filter: probe
  config:
    request_body: block)");
  CHECK(message == "filters.yaml:2: missing 'tag' in probe config");
  message = chainError(h, "- filter: probe\n");
  CHECK(message == "filters.yaml:1: missing 'tag' in probe config");
}

TEST_CASE("numbers out of range name the range") {
  Harness h;
  std::string message = chainError(h, "- filter: probe\n  config: {tag: a, status: 99}\n");
  CHECK(message == "filters.yaml:2: 'status' must be between 100 and 599, got 99");
  message = chainError(h, "- filter: probe\n  config: {tag: a, until_bytes: -1}\n");
  CHECK(message == "filters.yaml:2: 'until_bytes' must be a whole number, got '-1'");
  message =
      chainError(h, "- filter: probe\n  config: {tag: a, until_bytes: 99999999999999999999}\n");
  CHECK(message == "filters.yaml:2: 'until_bytes' is too large: 99999999999999999999");
}

TEST_CASE("a value of the wrong shape is reported at the value") {
  Harness h;
  std::string message = chainError(h, R"(- filter: probe
  config:
    tag: [a, b]
    stream_filter: maybe
    replace: nope)");
  CHECK(message ==
        "filters.yaml:3: 'tag' must be a string\n"
        "filters.yaml:4: 'stream_filter' must be true or false\n"
        "filters.yaml:5: replace must be a map");
}

TEST_CASE("a config that is not a map is rejected") {
  Harness h;
  std::string message = chainError(h, "- filter: probe\n  config: [1, 2]\n");
  CHECK(message == "filters.yaml:2: probe config must be a map");
}

TEST_CASE("duplicate keys are reported at the second one") {
  Harness h;
  std::string message = chainError(h, R"(- filter: probe
  config:
    tag: a
    tag: b)");
  CHECK(message == "filters.yaml:4: duplicate key 'tag' in probe config");
}

TEST_CASE("a yaml-cpp exception thrown inside a builder is caught and located") {
  auto built = buildWith(
      [](FilterBuildContext& ctx) -> Result<std::shared_ptr<FilterFactory>> {
        int n = ctx.config()["n"].as<int>();  // throws on "abc"
        (void)n;
        return emptyFactory();
      },
      "- filter: custom\n  config:\n    n: abc\n");
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().message == "filters.yaml:3: custom config: bad conversion");
}

TEST_CASE("a builder that reports an error fails even if it returns a factory") {
  auto built = buildWith(
      [](FilterBuildContext& ctx) -> Result<std::shared_ptr<FilterFactory>> {
        ctx.error(ctx.child(ctx.config(), "x"), "x is not acceptable");
        return emptyFactory();
      },
      "- filter: custom\n  config:\n    x: 1\n");
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().message == "filters.yaml:3: x is not acceptable");
}

TEST_CASE("a bare error from a builder is located at its config") {
  auto built = buildWith(
      [](FilterBuildContext&) -> Result<std::shared_ptr<FilterFactory>> {
        return makeError("config", "database failed to compile");
      },
      "- filter: custom\n  config:\n    x: 1\n");
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().message == "filters.yaml:2: database failed to compile");
}

TEST_CASE("a builder returning no factory is an error, not a crash later") {
  auto built = buildWith(
      [](FilterBuildContext&) -> Result<std::shared_ptr<FilterFactory>> {
        return std::shared_ptr<FilterFactory>();
      },
      "- filter: custom\n");
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().message == "filters.yaml:1: filter 'custom' built no factory");
}

TEST_CASE("typed readers accept good values and leave defaults for absent or null keys") {
  std::string s = "default";
  bool b = false;
  uint64_t u = 7;
  int64_t i = 0;
  double d = 0;
  std::vector<std::string> list;
  std::string mode = "bypass";
  auto built = buildWith(
      [&](FilterBuildContext& ctx) -> Result<std::shared_ptr<FilterFactory>> {
        const YAML::Node& cfg = ctx.config();
        CHECK(ctx.read(cfg, "absent", s));
        CHECK(ctx.read(cfg, "nothing", u));
        CHECK(ctx.read(cfg, "flag", b));
        CHECK(ctx.read(cfg, "delta", i, FilterBuildContext::Presence::Required, -10, 10));
        CHECK(ctx.read(cfg, "rate", d, FilterBuildContext::Presence::Optional, 0, 100));
        CHECK(ctx.read(cfg, "domains", list));
        CHECK(ctx.readEnum(cfg, "default", mode, {"bypass", "intercept", "block"}));
        CHECK(ctx.has(cfg, "flag"));
        CHECK_FALSE(ctx.has(cfg, "nothing"));
        CHECK(ctx.items(cfg, "domains").size() == 2);
        CHECK(ctx.items(cfg, "absent").empty());
        return emptyFactory();
      },
      R"(- filter: custom
  config:
    nothing: ~
    flag: yes
    delta: -3
    rate: 2.5
    domains: [.openai.com, api.anthropic.com]
    default: intercept)");
  CHECK(built.ok());
  CHECK(s == "default");
  CHECK(u == 7);
  CHECK(b);
  CHECK(i == -3);
  CHECK(d == 2.5);
  CHECK(list == std::vector<std::string>{".openai.com", "api.anthropic.com"});
  CHECK(mode == "intercept");
}

TEST_CASE("typed readers reject bad values, each at its line") {
  auto built = buildWith(
      [&](FilterBuildContext& ctx) -> Result<std::shared_ptr<FilterFactory>> {
        const YAML::Node& cfg = ctx.config();
        double d = 0;
        int64_t i = 0;
        std::vector<std::string> list;
        CHECK_FALSE(ctx.read(cfg, "rate", d, FilterBuildContext::Presence::Optional, 0, 100));
        CHECK_FALSE(ctx.read(cfg, "delta", i));
        CHECK_FALSE(ctx.read(cfg, "domains", list));
        CHECK_FALSE(ctx.read(cfg, "single", list));
        CHECK(ctx.items(cfg, "single").empty());
        return ctx.fail();
      },
      R"(- filter: custom
  config:
    rate: 200
    delta: 1.5
    domains: [a, [b]]
    single: just-one)");
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().message ==
        "filters.yaml:3: 'rate' must be between 0 and 100, got 200\n"
        "filters.yaml:4: 'delta' must be a whole number, got '1.5'\n"
        "filters.yaml:5: items of 'domains' must be strings\n"
        "filters.yaml:6: 'single' must be a list of strings\n"
        "filters.yaml:6: 'single' must be a list");
}

TEST_CASE("where() falls back to the config line, then the entry line, for nodes without marks") {
  auto specs = specsFromYaml("- filter: custom\n  config:\n    x: 1\n");
  FilterBuildContext ctx(specs[0]);
  CHECK(ctx.where(ctx.child(ctx.config(), "x")) == "filters.yaml:3");
  CHECK(ctx.where(YAML::Node()) == "filters.yaml:2");
  FilterSpec bare;
  bare.filter = "custom";
  bare.line = 9;
  FilterBuildContext bare_ctx(bare);  // a spec built in code: config is null
  CHECK(bare_ctx.config().IsNull());
  CHECK(bare_ctx.where(bare_ctx.config()) == "<config>:9");
}

TEST_CASE("add refuses a name already taken, and names() is sorted") {
  FilterRegistry registry;
  auto builder = [](FilterBuildContext&) -> Result<std::shared_ptr<FilterFactory>> {
    return emptyFactory();
  };
  CHECK(registry.add("zeta", builder));
  CHECK(registry.add("alpha", builder));
  CHECK_FALSE(registry.add("zeta", builder));
  CHECK(registry.has("alpha"));
  CHECK_FALSE(registry.has("beta"));
  CHECK(registry.names() == std::vector<std::string>{"alpha", "zeta"});
}

TEST_CASE("closestName suggests plausible typos only") {
  std::vector<std::string> known{"domain_classifier", "rate_limiter", "reporter", "tls"};
  CHECK(closestName("domian_classifier", known) == "domain_classifier");  // transposition
  CHECK(closestName("rate_limitr", known) == "rate_limiter");
  CHECK(closestName("reportr", known) == "reporter");
  CHECK(closestName("tsl", known) == "tls");
  CHECK(closestName("pattern_matcher", known).empty());
  CHECK(closestName("x", known).empty());
}

TEST_CASE("the builtin registry holds each builtin filter once") {
  FilterRegistry registry;
  registerBuiltinFilters(registry);
  std::vector<std::string> names = registry.names();
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
  CHECK(builtinFilterRegistry().names() == names);
}

TEST_CASE("every builtin filter rejects an unknown key in its config") {
  FilterRegistry registry = builtinFilterRegistry();
  for (const std::string& name : registry.names()) {
    CAPTURE(name);
    auto specs = specsFromYaml("- filter: " + name + "\n  config:\n    no_such_key: 1\n");
    auto built = registry.build(specs[0]);
    REQUIRE_FALSE(built.ok());
    CHECK(built.error().message.find("filters.yaml:3: unknown key 'no_such_key'") !=
          std::string::npos);
  }
}

}  // namespace
}  // namespace aiw
