// rate_limiter: buckets per key value with a hand-moved clock (no sleeps, no timed assertions),
// what an exchange without a value or outside `match` gets, config errors with their lines, the
// LRU bound, exactness across threads, and the decision through a real StreamFilterChain.
#include "filters/rate_limiter/rate_limiter.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/config_loader.h"
#include "filters/builtin_filters.h"
#include "filters/chain.h"
#include "filters/pattern_matcher/pattern_matcher.h"
#include "probe_filter.h"

namespace aiw {
namespace {

using namespace std::chrono_literals;
using test::specsFromYaml;

// Time as the tests move it. Read by the buckets from any thread; only written while no
// exchange runs.
struct FakeClock {
  TokenBuckets::TimePoint now{std::chrono::hours(1000)};
  TokenBuckets::Clock fn() {
    return [this] { return now; };
  }
  void advance(std::chrono::nanoseconds d) { now += d; }
};

Result<std::shared_ptr<FilterFactory>> buildWith(FakeClock& clock, const std::string& yaml) {
  FilterRegistry registry;
  registry.add("rate_limiter", [&clock](FilterBuildContext& ctx) {
    return buildRateLimiterWithClock(ctx, clock.fn());
  });
  auto specs = specsFromYaml(yaml);
  REQUIRE(specs.size() == 1);
  return registry.build(specs[0]);
}

// The factory of `buckets_yaml` (the items of `buckets:`, indented 6) on `clock`.
std::shared_ptr<RateLimiterFactory> limiter(FakeClock& clock, const std::string& buckets_yaml,
                                            const std::string& extra = "") {
  auto built = buildWith(clock,
                         "- filter: rate_limiter\n"
                         "  config:\n" +
                             extra + "    buckets:\n" + buckets_yaml);
  REQUIRE_MESSAGE(built.ok(), (built.ok() ? std::string() : built.error().message));
  auto factory = std::dynamic_pointer_cast<RateLimiterFactory>(built.value());
  REQUIRE(factory != nullptr);
  return factory;
}

std::string configErrors(const std::string& yaml) {
  FakeClock clock;
  auto built = buildWith(clock, yaml);
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().code == "config");
  return built.error().message;
}

StreamInfo exchange(std::string session = "s1") {
  StreamInfo s;
  s.inspect = true;
  s.method = "POST";
  s.host = "api.openai.com";
  s.path = "/v1/chat/completions";
  s.session_id = std::move(session);
  return s;
}

// One exchange without a body, decided on its headers by a fresh filter (as each exchange gets).
Verdict call(RateLimiterFactory& factory, StreamInfo s) {
  auto filter = factory.createStreamFilter();
  REQUIRE(filter != nullptr);
  Headers h;
  return filter->onRequestHeaders(s, h, /*end_stream=*/true);
}

bool allowed(const Verdict& v) { return v.action == Action::Continue; }
bool limited(const Verdict& v) { return v.action == Action::Block && v.status == 429; }

uint64_t stat(const FilterFactory& f, const std::string& name) {
  for (const FilterStat& s : f.stats()) {
    if (s.name == name) return s.value;
  }
  FAIL("no stat " << name);
  return 0;
}

TEST_CASE("blocks with 429 once the bucket is empty, and refills with time") {
  FakeClock clock;
  auto f = limiter(clock, "      - key: session\n        rate: 5\n        burst: 5\n");
  for (int i = 0; i < 5; ++i) CHECK(allowed(call(*f, exchange())));
  Verdict v = call(*f, exchange());
  REQUIRE(limited(v));
  CHECK(v.retry_after_s == 1);
  CHECK(v.reason == "rate limited: session s1 (5 per second, burst 5)");
  CHECK(limited(call(*f, exchange())));  // a refused call gives nothing back early

  clock.advance(200ms);  // one token
  CHECK(allowed(call(*f, exchange())));
  CHECK(limited(call(*f, exchange())));

  clock.advance(1s);  // the whole burst, no more
  for (int i = 0; i < 5; ++i) CHECK(allowed(call(*f, exchange())));
  CHECK(limited(call(*f, exchange())));

  clock.advance(1h);  // capped at burst
  for (int i = 0; i < 5; ++i) CHECK(allowed(call(*f, exchange())));
  CHECK(limited(call(*f, exchange())));

  CHECK(stat(*f, "rate_limiter.allowed") == 16);
  CHECK(stat(*f, "rate_limiter.limited") == 5);
  CHECK(stat(*f, "rate_limiter.buckets") == 1);
}

TEST_CASE("a rebuilt stage with the same buckets keeps their tokens; a changed one starts full") {
  FakeClock clock;
  const std::string five = "      - key: session\n        rate: 5\n        burst: 5\n";
  auto before = limiter(clock, five);
  for (int i = 0; i < 5; ++i) CHECK(allowed(call(*before, exchange())));
  REQUIRE(limited(call(*before, exchange())));

  // A reload or a rules update builds a new stage from the same config: still empty.
  auto same = limiter(clock, five);
  same->inheritState(*before);
  CHECK(limited(call(*same, exchange())));
  clock.advance(200ms);  // one token, seen by both (one store)
  CHECK(allowed(call(*same, exchange())));
  CHECK(limited(call(*before, exchange())));

  // Another burst is another limit: its buckets start full.
  auto changed = limiter(clock, "      - key: session\n        rate: 5\n        burst: 6\n");
  changed->inheritState(*before);
  for (int i = 0; i < 6; ++i) CHECK(allowed(call(*changed, exchange())));
  CHECK(limited(call(*changed, exchange())));
  // So does a different max_keys, and nothing is taken from a stage of another filter.
  auto wider = limiter(clock, five, "    max_keys: 10\n");
  wider->inheritState(*before);
  CHECK(allowed(call(*wider, exchange())));
}

TEST_CASE("each session has its own bucket") {
  FakeClock clock;
  auto f = limiter(clock, "      - key: session\n        rate: 5\n        burst: 5\n");
  for (int i = 0; i < 5; ++i) CHECK(allowed(call(*f, exchange("alice"))));
  CHECK(limited(call(*f, exchange("alice"))));
  for (int i = 0; i < 5; ++i) CHECK(allowed(call(*f, exchange("bob"))));
  CHECK(limited(call(*f, exchange("bob"))));
  CHECK(stat(*f, "rate_limiter.buckets") == 2);
}

TEST_CASE("a fractional rate refills one token every 1/rate seconds") {
  FakeClock clock;
  auto f = limiter(clock, "      - key: session\n        rate: 0.5\n        burst: 1\n");
  CHECK(allowed(call(*f, exchange())));
  Verdict v = call(*f, exchange());
  REQUIRE(limited(v));
  CHECK(v.retry_after_s == 2);
  clock.advance(1s);
  v = call(*f, exchange());
  REQUIRE(limited(v));
  CHECK(v.retry_after_s == 1);
  clock.advance(500ms);
  v = call(*f, exchange());
  REQUIRE(limited(v));
  CHECK(v.retry_after_s == 1);  // half a second left, rounded up
  clock.advance(500ms);
  CHECK(allowed(call(*f, exchange())));
  CHECK(limited(call(*f, exchange())));
}

TEST_CASE("an exchange without a session id is not limited by a session bucket") {
  FakeClock clock;
  auto f = limiter(clock, "      - key: session\n        rate: 1\n        burst: 1\n");
  for (int i = 0; i < 10; ++i) CHECK(allowed(call(*f, exchange(""))));
  CHECK(stat(*f, "rate_limiter.allowed") == 0);  // no bucket applied: not counted
  CHECK(stat(*f, "rate_limiter.buckets") == 0);
  CHECK(allowed(call(*f, exchange("s1"))));
  CHECK(limited(call(*f, exchange("s1"))));
}

TEST_CASE("exchanges that are not inspected pass unlimited") {
  FakeClock clock;
  auto f = limiter(clock, "      - key: session\n        rate: 1\n        burst: 1\n");
  StreamInfo s = exchange();
  s.inspect = false;
  for (int i = 0; i < 3; ++i) CHECK(allowed(call(*f, s)));
  CHECK(allowed(call(*f, exchange())));
}

TEST_CASE("the client key is the peer's IP, whatever its port") {
  CHECK(clientIp("10.0.0.1:5555") == "10.0.0.1");
  CHECK(clientIp("[::1]:8080") == "::1");
  CHECK(clientIp("[2001:db8::7]:443") == "2001:db8::7");
  CHECK(clientIp("10.0.0.1") == "10.0.0.1");
  CHECK(clientIp("2001:db8::7") == "2001:db8::7");
  CHECK(clientIp("").empty());

  FakeClock clock;
  auto f = limiter(clock, "      - key: client\n        rate: 1\n        burst: 2\n");
  ConnectionInfo a1, a2, b, none;
  a1.client = "10.0.0.1:5555";
  a2.client = "10.0.0.1:6666";
  b.client = "[::1]:7777";
  auto from = [](const ConnectionInfo* conn) {
    StreamInfo s = exchange("");
    s.connection = conn;
    return s;
  };
  CHECK(allowed(call(*f, from(&a1))));
  CHECK(allowed(call(*f, from(&a2))));
  Verdict v = call(*f, from(&a1));
  REQUIRE(limited(v));
  CHECK(v.reason.find("rate limited: client 10.0.0.1 ") == 0);
  CHECK(allowed(call(*f, from(&b))));
  CHECK(allowed(call(*f, from(nullptr))));  // no connection, no client: no limit
  CHECK(allowed(call(*f, from(&none))));
  CHECK(f->buckets().tokens(0, "::1").value_or(-1) == doctest::Approx(1.0));
}

TEST_CASE("match limits only the exchanges with those facts") {
  FakeClock clock;
  auto f = limiter(clock,
                   "      - key: session\n        rate: 1\n        burst: 1\n"
                   "        match: { tool: 'python_*' }\n"
                   "      - key: session\n        rate: 1\n        burst: 2\n"
                   "        match: { host: .anthropic.com, model: 'CLAUDE-*' }\n"
                   "      - key: session\n        rate: 1\n        burst: 1\n"
                   "        match: { class: [mcp] }\n");
  CHECK(f->needsBody());
  auto withTool = [](std::string tool) {
    StreamInfo s = exchange();
    s.tool = std::move(tool);
    return s;
  };
  CHECK(allowed(call(*f, withTool("python_exec"))));
  CHECK(limited(call(*f, withTool("python_eval"))));  // same session, same entry
  CHECK(allowed(call(*f, withTool("read_file"))));    // the glob does not hold
  CHECK(allowed(call(*f, exchange())));               // no tool: the glob cannot hold

  auto claude = [](std::string host, std::string model) {
    StreamInfo s = exchange();
    s.host = std::move(host);
    s.model = std::move(model);
    return s;
  };
  CHECK(allowed(call(*f, claude("api.anthropic.com", "claude-sonnet-4"))));
  CHECK(allowed(call(*f, claude("anthropic.com", "Claude-Opus"))));  // model: case-insensitive
  CHECK(limited(call(*f, claude("api.anthropic.com", "claude-3"))));
  CHECK(allowed(call(*f, claude("api.anthropic.com.evil.net", "claude-3"))));  // host fails
  CHECK(allowed(call(*f, claude("api.anthropic.com", "gpt-5"))));              // model fails

  StreamInfo mcp = exchange();
  mcp.endpoint.kind = ai::ApiKind::McpJsonRpc;
  mcp.endpoint.provider = ai::Provider::Mcp;
  CHECK(allowed(call(*f, mcp)));
  CHECK(limited(call(*f, mcp)));
  CHECK(allowed(call(*f, exchange())));  // class unknown: `class` does not hold
}

TEST_CASE("the rule key limits per deciding rule, and not the default allow") {
  FakeClock clock;
  auto f = limiter(clock, "      - key: rule\n        rate: 1\n        burst: 1\n");
  CHECK(f->needsBody());
  auto decidedBy = [](std::string rule) {
    StreamInfo s = exchange("");
    s.rule = std::move(rule);
    return s;
  };
  CHECK(allowed(call(*f, decidedBy("report secrets"))));
  Verdict v = call(*f, decidedBy("report secrets"));
  REQUIRE(limited(v));
  CHECK(v.reason.find("rate limited: rule report secrets") == 0);
  CHECK(allowed(call(*f, decidedBy("other rule"))));
  for (int i = 0; i < 3; ++i) CHECK(allowed(call(*f, decidedBy(""))));
}

TEST_CASE("a refused exchange takes no token from any bucket") {
  FakeClock clock;
  auto f = limiter(clock,
                   "      - key: session\n        rate: 1\n        burst: 3\n"
                   "      - key: tool\n        rate: 0.25\n        burst: 1\n");
  StreamInfo s = exchange();
  s.tool = "python_exec";
  CHECK(allowed(call(*f, s)));
  CHECK(f->buckets().tokens(0, "s1").value_or(-1) == doctest::Approx(2.0));
  Verdict v = call(*f, s);
  REQUIRE(limited(v));
  CHECK(v.reason.find("rate limited: tool python_exec") == 0);
  CHECK(v.retry_after_s == 4);
  CHECK(f->buckets().tokens(0, "s1").value_or(-1) == doctest::Approx(2.0));  // given back
  CHECK(allowed(call(*f, exchange())));  // no tool: only the session bucket
  CHECK(allowed(call(*f, exchange())));
  // Both empty now: Retry-After is the longest wait of the two.
  v = call(*f, s);
  REQUIRE(limited(v));
  CHECK(v.reason.find("rate limited: session s1") == 0);  // the first empty one is named
  CHECK(v.retry_after_s == 4);
}

TEST_CASE("the least recently used bucket is evicted past max_keys") {
  FakeClock clock;
  // One shard, so the eviction order is exact.
  TokenBuckets store({{/*rate=*/1, /*burst=*/1, /*max_keys=*/2}}, clock.fn(), /*shards=*/1);
  auto take = [&store](std::string_view key) {
    TokenBuckets::Want want{0, key};
    return store.acquire({&want, 1}).allowed;
  };
  CHECK(take("a"));
  CHECK(take("b"));
  CHECK_FALSE(take("a"));  // a is now the most recently used
  CHECK(take("c"));        // evicts b
  CHECK(store.size() == 2);
  CHECK(store.size(0) == 2);
  CHECK_FALSE(store.tokens(0, "b").has_value());
  CHECK_FALSE(take("a"));  // kept, still empty
  CHECK(take("b"));        // came back with a full bucket (evicts c)
  CHECK_FALSE(store.tokens(0, "c").has_value());
}

TEST_CASE("max_keys bounds the live buckets of each entry") {
  FakeClock clock;
  auto f = limiter(clock,
                   "      - key: session\n        rate: 1\n        burst: 1\n"
                   "      - key: host\n        rate: 1\n        burst: 1\n",
                   "    max_keys: 20\n");
  for (int i = 0; i < 200; ++i) call(*f, exchange("session-" + std::to_string(i)));
  CHECK(f->buckets().size(0) <= 20);
  CHECK(f->buckets().size(0) >= 1);
  CHECK(f->buckets().size(1) == 1);  // one host
  CHECK(stat(*f, "rate_limiter.buckets") == f->buckets().size(0) + 1);
  CHECK(stat(*f, "rate_limiter.allowed") == 1);  // the host bucket: one token for everyone
  CHECK(stat(*f, "rate_limiter.limited") == 199);
}

TEST_CASE("four threads hammering one key get exactly burst tokens in total") {
  FakeClock clock;  // frozen: nothing refills while they run
  auto f = limiter(clock, "      - key: session\n        rate: 1\n        burst: 100\n");
  constexpr int kThreads = 4;
  constexpr int kCalls = 2000;
  std::atomic<int> passed{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&] {
      // Each worker's own filters, as each worker creates its own per exchange.
      for (int i = 0; i < kCalls; ++i) {
        auto filter = f->createStreamFilter();
        StreamInfo s = exchange("shared");
        Headers h;
        Verdict v = filter->onRequestHeaders(s, h, true);
        (v.action == Action::Continue ? passed : refused).fetch_add(1);
      }
    });
  }
  for (auto& w : workers) w.join();
  CHECK(passed.load() == 100);
  CHECK(refused.load() == kThreads * kCalls - 100);
  CHECK(stat(*f, "rate_limiter.allowed") == 100);
}

TEST_CASE("every config error is reported at its line") {
  std::string e = configErrors(
      "- filter: rate_limiter\n"                    // 1
      "  config:\n"                                 // 2
      "    max_keys: 0\n"                           // 3
      "    bucket: []\n"                            // 4
      "    buckets:\n"                              // 5
      "      - key: sesion\n"                       // 6
      "        rate: 0\n"                           // 7
      "        burst: 0\n"                          // 8
      "      - key: tool\n"                         // 9
      "        rate: fast\n"                        // 10
      "        burst: 1\n"                          // 11
      "        match: { toll: x, class: robot }\n"  // 12
      "      - key: host\n"                         // 13
      "        rate: -2\n"                          // 14
      "        burst: 2\n"                          // 15
      "        match:\n"                            // 16
      "          host: 'a..b'\n"                    // 17
      "          class: [ai, tol]\n"                // 18
      "      - key: model\n"                        // 19
      "        rat: 1\n"                            // 20
      "        burst: 1\n"                          // 21
      "      - session\n");                         // 22
  CAPTURE(e);
  auto has = [&e](const std::string& text) { return e.find(text) != std::string::npos; };
  CHECK(has("filters.yaml:3: 'max_keys' must be between 1 and"));
  CHECK(
      has("filters.yaml:4: unknown key 'bucket' in rate_limiter config, did you mean 'buckets'?"));
  CHECK(has("filters.yaml:6: unknown value 'sesion' for 'key'"));
  CHECK(has("did you mean 'session'?"));
  CHECK(has("filters.yaml:7: 'rate' must be greater than 0"));
  CHECK(has("filters.yaml:8: 'burst' must be between 1 and"));
  CHECK(has("filters.yaml:10: 'rate' must be a number, got 'fast'"));
  CHECK(has("filters.yaml:12: unknown key 'toll' in match, did you mean 'tool'?"));
  CHECK(has("filters.yaml:12: unknown value 'robot' for 'class' (expected ai, tool, mcp)"));
  CHECK(has("filters.yaml:14: 'rate' must be greater than 0 (tokens per second), got -2"));
  CHECK(has("filters.yaml:17: 'host': domain pattern 'a..b'"));
  CHECK(
      has("filters.yaml:18: unknown value 'tol' for 'class' (expected ai, tool, mcp), did you "
          "mean 'tool'?"));
  CHECK(has("filters.yaml:20: unknown key 'rat' in rate_limiter bucket, did you mean 'rate'?"));
  CHECK(has("filters.yaml:19: missing 'rate'"));
  CHECK(has("filters.yaml:22: each item of 'buckets' must be a map"));
}

TEST_CASE("a config that is not a map, or buckets that are not a list, are refused") {
  CHECK(configErrors("- filter: rate_limiter\n  config: [1]\n")
            .find("filters.yaml:2: rate_limiter config must be a map") != std::string::npos);
  CHECK(configErrors("- filter: rate_limiter\n  config:\n    buckets: 5\n")
            .find("filters.yaml:3: 'buckets' must be a list") != std::string::npos);
  CHECK(configErrors("- filter: rate_limiter\n  config:\n    buckets:\n      - key: tool\n"
                     "        rate: 1\n        burst: 1\n        match: { tool: '' }\n")
            .find("filters.yaml:7: 'tool' must not be empty") != std::string::npos);
}

TEST_CASE("no bucket configured: the stage stays out of every exchange") {
  FakeClock clock;
  auto built = buildWith(clock, "- filter: rate_limiter\n  config: { buckets: [] }\n");
  REQUIRE(built.ok());
  CHECK(built.value()->createStreamFilter() == nullptr);
  auto absent = buildWith(clock, "- filter: rate_limiter\n");
  REQUIRE(absent.ok());
  CHECK(absent.value()->createStreamFilter() == nullptr);
}

TEST_CASE("entries on session, client and host alone decide on the headers") {
  FakeClock clock;
  auto f = limiter(clock,
                   "      - key: session\n        rate: 1\n        burst: 1\n"
                   "      - key: host\n        rate: 1\n        burst: 5\n"
                   "        match: { host: api.openai.com }\n");
  CHECK_FALSE(f->needsBody());
  auto filter = f->createStreamFilter();
  StreamInfo s = exchange();
  Headers h;
  CHECK(filter->onRequestHeaders(s, h, /*end_stream=*/false).action == Action::Continue);
  Buffer body = test::bytes("{}");
  CHECK(filter->onRequestBody(s, body, true).action == Action::Continue);  // decided already
  CHECK(body.toString() == "{}");
  CHECK(stat(*f, "rate_limiter.allowed") == 1);
}

// Fills in the tool on the last request body call, as pattern_matcher does for an MCP
// tools/call (without holding anything itself).
class ToolSetter : public StreamFilter {
 public:
  Verdict onRequestBody(StreamInfo& s, Buffer&, bool end_stream) override {
    if (end_stream) s.tool = "python_exec";
    return Verdict::next();
  }
};

class ToolSetterFactory : public FilterFactory {
 public:
  std::unique_ptr<StreamFilter> createStreamFilter() override {
    return std::make_unique<ToolSetter>();
  }
};

TEST_CASE(
    "through the chain, a tool key holds the headers and decides once at the end of the body") {
  FakeClock clock;
  FilterRegistry registry;
  registry.add("tool_setter", [](FilterBuildContext&) -> Result<std::shared_ptr<FilterFactory>> {
    return std::shared_ptr<FilterFactory>(std::make_shared<ToolSetterFactory>());
  });
  registry.add("rate_limiter", [&clock](FilterBuildContext& ctx) {
    return buildRateLimiterWithClock(ctx, clock.fn());
  });
  auto chain = buildFilterChain(specsFromYaml("- filter: tool_setter\n"
                                              "- filter: rate_limiter\n"
                                              "  config:\n"
                                              "    buckets:\n"
                                              "      - key: tool\n"
                                              "        rate: 1\n"
                                              "        burst: 2\n"),
                                registry);
  REQUIRE_MESSAGE(chain.ok(), (chain.ok() ? std::string() : chain.error().message));
  const FilterChain::Entry& stage = chain.value()->entry(1);
  auto& factory = dynamic_cast<RateLimiterFactory&>(stage.factory());

  for (int round = 1; round <= 3; ++round) {
    CAPTURE(round);
    StreamFilterChain ex(chain.value(), 1 << 20, FailMode::Closed);
    StreamInfo s = exchange("");
    Headers h;
    h.add("Content-Type", "application/json");
    CHECK(ex.requestHeaders(s, h, false).action == Action::NeedMoreData);
    CHECK(ex.requestHeadersHeld());

    std::string forwarded;
    for (std::string_view part : {R"({"method":"tools/call",)", R"("params":{"name":)"}) {
      Buffer chunk = test::bytes(part);
      Verdict v = ex.requestBody(s, chunk, false);
      CHECK(v.action == Action::NeedMoreData);  // the chain keeps them with the held headers
      forwarded += chunk.toString();
    }
    CHECK(forwarded.empty());
    // Nothing decided before the end: the bucket holds what the earlier exchanges left.
    CHECK(factory.buckets().tokens(0, "python_exec").value_or(2.0) == doctest::Approx(3.0 - round));
    CHECK(stat(factory, "rate_limiter.allowed") + stat(factory, "rate_limiter.limited") ==
          static_cast<uint64_t>(round - 1));

    Buffer last = test::bytes(R"("python_exec"}})");
    Verdict v = ex.requestBody(s, last, true);
    CHECK(stat(factory, "rate_limiter.allowed") + stat(factory, "rate_limiter.limited") ==
          static_cast<uint64_t>(round));  // exactly one decision per exchange
    if (round <= 2) {
      CHECK(v.action == Action::Continue);
      CHECK_FALSE(ex.requestHeadersHeld());
      // The whole body goes on, unchanged, with the released headers.
      CHECK(forwarded + last.toString() ==
            R"({"method":"tools/call","params":{"name":"python_exec"}})");
      CHECK(factory.buckets().tokens(0, "python_exec").value_or(-1) ==
            doctest::Approx(2.0 - round));
    } else {
      REQUIRE(v.action == Action::Block);
      CHECK(v.status == 429);
      CHECK(v.retry_after_s == 1);
      CHECK(s.blocked_by == "rate_limiter");
      CHECK(last.empty());  // nothing reaches the origin
    }
    ex.complete(s);
  }
  // Per exchange: NeedMoreData on the headers, Continue on the two early chunks, the decision on
  // the last one; the body was never buffered for this stage.
  FilterCounterValues c = stage.counters();
  CHECK(c.need_more_data == 3);
  CHECK(c.invocations == 3 * 4);
  CHECK(c.blocks == 1);
  CHECK(c.over_limit == 0);
}

TEST_CASE("behind the pattern_matcher, an MCP tools/call is limited per tool") {
  FakeClock clock;
  FilterRegistry registry;
  registry.add("pattern_matcher", buildPatternMatcher);
  registry.add("rate_limiter", [&clock](FilterBuildContext& ctx) {
    return buildRateLimiterWithClock(ctx, clock.fn());
  });
  auto chain = buildFilterChain(specsFromYaml("- filter: pattern_matcher\n"
                                              "- filter: rate_limiter\n"
                                              "  config:\n"
                                              "    buckets:\n"
                                              "      - key: session\n"
                                              "        rate: 1\n"
                                              "        burst: 1\n"
                                              "        match: { tool: python_exec, class: mcp }\n"),
                                registry);
  REQUIRE_MESSAGE(chain.ok(), (chain.ok() ? std::string() : chain.error().message));
  auto send = [&](const std::string& tool) {
    StreamFilterChain ex(chain.value(), 1 << 20, FailMode::Closed);
    StreamInfo s = exchange("s1");
    s.host = "tools.internal";
    s.path = "/mcp";
    Headers h;
    h.add("Content-Type", "application/json");
    Verdict v = ex.requestHeaders(s, h, false);
    REQUIRE(v.action == Action::NeedMoreData);
    Buffer body =
        test::bytes(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":")" + tool +
                    R"js(","arguments":{"code":"print(1)"}}})js");
    v = ex.requestBody(s, body, true);
    CHECK(s.tool == tool);
    ex.complete(s);
    return v;
  };
  CHECK(send("python_exec").action == Action::Continue);
  Verdict v = send("python_exec");
  CHECK(v.action == Action::Block);
  CHECK(v.status == 429);
  CHECK(send("read_file").action == Action::Continue);
}

std::string sourceDir() {
  const char* env = std::getenv("AIWARDEN_SRC");
  if (env != nullptr && env[0] != '\0') return env;
  return AIW_SOURCE_DIR;
}

TEST_CASE(
    "the shipped filters.d/60-rate_limiter.yaml loads, limits nothing, and sits after the rules") {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(sourceDir()) / "filters.d";
  REQUIRE(fs::exists(dir / "60-rate_limiter.yaml"));
  Result<Config> config = loadConfigText("filters_dir: " + dir.string() + "\n", "test.yaml", "");
  REQUIRE_MESSAGE(config.ok(), (config.ok() ? std::string() : config.error().message));
  size_t rules = SIZE_MAX, limiter_at = SIZE_MAX;
  for (size_t i = 0; i < config->filters.size(); ++i) {
    if (config->filters[i].filter == "rule_evaluator") rules = i;
    if (config->filters[i].filter == "rate_limiter") limiter_at = i;
  }
  REQUIRE(limiter_at != SIZE_MAX);
  CHECK(rules < limiter_at);
  CHECK(config->filters[limiter_at].enabled);
  auto built = builtinFilterRegistry().build(config->filters[limiter_at]);
  REQUIRE_MESSAGE(built.ok(), (built.ok() ? std::string() : built.error().message));
  CHECK(built.value()->createStreamFilter() == nullptr);

  Result<Config> embedded = loadEmbeddedDefaultConfig();
  REQUIRE(embedded.ok());
  auto whole = buildFilterChain(embedded->filters, builtinFilterRegistry());
  REQUIRE_MESSAGE(whole.ok(), (whole.ok() ? std::string() : whole.error().message));
  bool found = false;
  for (const auto& entry : whole.value()->entries())
    found = found || entry.name() == "rate_limiter";
  CHECK(found);
}

}  // namespace
}  // namespace aiw
