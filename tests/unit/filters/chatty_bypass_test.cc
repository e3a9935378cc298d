// chatty_bypass: what is not to be intercepted becomes a blind tunnel, counted per class; and the
// two connection filters together in a real chain.
#include "filters/chatty_bypass/chatty_bypass.h"

#include <doctest/doctest.h>

#include "filters/builtin_filters.h"
#include "filters/chain.h"
#include "probe_filter.h"

namespace aiw {
namespace {

using test::specsFromYaml;

Result<std::shared_ptr<FilterFactory>> buildEntry(const std::string& yaml) {
  static const FilterRegistry registry = builtinFilterRegistry();
  auto specs = specsFromYaml(yaml);
  REQUIRE(specs.size() == 1);
  return registry.build(specs[0]);
}

std::shared_ptr<ChattyBypassFactory> bypasser(
    const std::string& yaml = "- filter: chatty_bypass\n") {
  auto built = buildEntry(yaml);
  REQUIRE_MESSAGE(built.ok(), (built.ok() ? std::string() : built.error().message));
  auto factory = std::dynamic_pointer_cast<ChattyBypassFactory>(built.value());
  REQUIRE(factory != nullptr);
  return factory;
}

Verdict run(FilterFactory& factory, ConnectionInfo& conn) {
  auto filter = factory.createConnectionFilter();
  REQUIRE(filter != nullptr);
  return filter->onConnection(conn, {});
}

ConnectionInfo classified(TrafficClass c, bool intercept) {
  ConnectionInfo conn;
  conn.target_host = "host.example";
  conn.target_port = 443;
  conn.is_connect = true;
  conn.traffic_class = c;
  conn.intercept = intercept;
  return conn;
}

TEST_CASE("a connection not to be intercepted becomes a blind tunnel") {
  auto f = bypasser();
  for (TrafficClass c : {TrafficClass::Chatty, TrafficClass::Unknown, TrafficClass::Ai}) {
    ConnectionInfo conn = classified(c, false);
    Verdict v = run(*f, conn);
    CHECK(v.action == Action::Bypass);
    CHECK(conn.bypassed);
    CHECK(conn.traffic_class == c);  // it decides nothing else
  }
}

TEST_CASE("a connection to be intercepted continues untouched") {
  auto f = bypasser();
  ConnectionInfo conn = classified(TrafficClass::Ai, true);
  Verdict v = run(*f, conn);
  CHECK(v.action == Action::Continue);
  CHECK_FALSE(conn.bypassed);
  CHECK(conn.intercept);
  ConnectionInfo unknown = classified(TrafficClass::Unknown, true);
  CHECK(run(*f, unknown).action == Action::Continue);
  CHECK(f->counts().total() == 0);
}

TEST_CASE("bypasses are counted per traffic class across filters of one factory") {
  auto f = bypasser("- filter: chatty_bypass\n  config: {}\n");
  for (int i = 0; i < 3; ++i) {
    ConnectionInfo conn = classified(TrafficClass::Chatty, false);
    run(*f, conn);
  }
  ConnectionInfo unknown = classified(TrafficClass::Unknown, false);
  run(*f, unknown);
  ConnectionInfo ai = classified(TrafficClass::Ai, true);
  run(*f, ai);
  ChattyBypassCounts c = f->counts();
  CHECK(c.chatty == 3);
  CHECK(c.unknown == 1);
  CHECK(c.ai == 0);
  CHECK(c.total() == 4);
  std::vector<FilterStat> stats = f->stats();
  REQUIRE(stats.size() == 3);
  CHECK(stats[0].name == "chatty_bypass.bypassed_ai");
  CHECK(stats[1].name == "chatty_bypass.bypassed_chatty");
  CHECK(stats[1].value == 3);
  CHECK(stats[2].name == "chatty_bypass.bypassed_unknown");
  CHECK(stats[2].value == 1);
}

TEST_CASE("chatty_bypass takes no configuration") {
  auto built = buildEntry(R"(- filter: chatty_bypass
  config:
    mode: fast
    count: true)");
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().message ==
        "filters.yaml:3: unknown key 'mode' in chatty_bypass config (it takes no configuration)\n"
        "filters.yaml:4: unknown key 'count' in chatty_bypass config (it takes no "
        "configuration)");
  built = buildEntry("- filter: chatty_bypass\n  config: [a]\n");
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().message == "filters.yaml:2: chatty_bypass config must be a map");
  built = buildEntry("- filter: chatty_bypass\n  config: off\n");
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().message == "filters.yaml:2: chatty_bypass config must be a map");
}

TEST_CASE("both filters are registered builtins") {
  FilterRegistry registry = builtinFilterRegistry();
  CHECK(registry.has("domain_classifier"));
  CHECK(registry.has("chatty_bypass"));
}

// The classifier and the bypass, in their filters.d order, through the real chain runner.
TEST_CASE("in a chain, chatty and unknown hosts are tunnelled and ai hosts go on to interception") {
  auto specs = specsFromYaml(R"(- filter: domain_classifier
  config:
    ai_domains: [api.openai.com]
    chatty_domains: [registry.npmjs.org]
- filter: chatty_bypass)");
  auto chain = buildFilterChain(specs, builtinFilterRegistry());
  REQUIRE_MESSAGE(chain.ok(), (chain.ok() ? std::string() : chain.error().message));
  auto connectTo = [&](const std::string& host, const std::string& sni = "") {
    ConnectionInfo conn;
    conn.target_host = host;
    conn.target_port = 443;
    conn.is_connect = true;
    conn.sni = sni;
    ConnectionFilterChain filters(chain.value(), 16384);
    Verdict v = filters.run(conn, {}, true);
    filters.close(conn);
    return std::pair{v, conn};
  };

  auto [ai, ai_conn] = connectTo("api.openai.com");
  CHECK(ai.action == Action::Continue);
  CHECK(ai_conn.intercept);
  CHECK_FALSE(ai_conn.bypassed);

  auto [chatty, chatty_conn] = connectTo("registry.npmjs.org");
  CHECK(chatty.action == Action::Bypass);
  CHECK(chatty_conn.bypassed);
  CHECK(chatty_conn.traffic_class == TrafficClass::Chatty);

  auto [unknown, unknown_conn] = connectTo("example.com");
  CHECK(unknown.action == Action::Bypass);
  CHECK(unknown_conn.traffic_class == TrafficClass::Unknown);

  auto [fronted, fronted_conn] = connectTo("registry.npmjs.org", "api.openai.com");
  CHECK(fronted.action == Action::Block);
  CHECK(fronted.status == 403);
  CHECK_FALSE(fronted_conn.bypassed);  // the chain stopped before chatty_bypass

  FilterCounterValues bypass_stage = chain.value()->entry(1).counters();
  CHECK(bypass_stage.invocations == 3);
  CHECK(bypass_stage.bypasses == 2);
  CHECK(chain.value()->entry(0).counters().blocks == 1);
}

}  // namespace
}  // namespace aiw
