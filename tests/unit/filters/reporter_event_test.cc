// The reporter's events (SPEC §8): the JSON of each kind field by field,
// detections aggregated without the matched text, unique ids.
#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <thread>

#include "filters/reporter/report_event.h"
#include "reporter_test_util.h"

namespace aiw {
namespace {

using test::parseJson;

constexpr char kKey[] = "AKIAIOSFODNN7EXAMPLE";

struct Sample {
  ConnectionInfo conn;
  StreamInfo s;
  Sample() {
    conn.listener = "system";
    conn.client = "127.0.0.1:50412";
    conn.intercept = true;
    s.connection = &conn;
    s.method = "POST";
    s.host = "api.openai.com";
    s.path = "/v1/chat/completions";
    s.protocol = "HTTP/2";
    s.status = 200;
    s.traffic_class = TrafficClass::Ai;
    s.endpoint.provider = ai::Provider::OpenAi;
    s.model = "gpt-4o";
    s.session_id = "sess-1";
    s.rule_outcome = RuleOutcome::Allow;
    s.bytes_in = 1532;
    s.bytes_out = 20411;
    s.usage.input_tokens = 412;
    s.usage.output_tokens = 958;
    s.started = std::chrono::steady_clock::now() - std::chrono::milliseconds(812);
    s.finished = std::chrono::steady_clock::now();
  }
  void detect(const std::string &detector, const std::string &field, bool response = false) {
    Detection d;
    d.detector = detector;
    d.category = detector.substr(0, detector.find('.'));
    d.field = field;
    d.response = response;
    d.start = 12;
    d.end = 32;
    s.detections.push_back(d);
  }
};

std::chrono::system_clock::time_point fixedTime() {
  // 2026-11-21T10:00:00.123Z
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(1795255200123LL));
}

TEST_CASE("an exchange event carries every field of SPEC §8 with its value") {
  Sample x;
  x.detect("secret.aws_access_key", "messages[1].content");
  std::string json = encodeEvent(exchangeEvent(x.s, fixedTime()));
  auto d = parseJson(json);
  REQUIRE_FALSE(d.HasParseError());
  CHECK(std::string(d["ts"].GetString()) == "2026-11-21T10:00:00.123Z");
  CHECK(std::string(d["kind"].GetString()) == "exchange");
  CHECK(d["id"].IsString());
  CHECK(std::string(d["session_id"].GetString()) == "sess-1");
  CHECK(d["call_id"].IsNull());
  CHECK(std::string(d["listener"].GetString()) == "system");
  CHECK(std::string(d["client"].GetString()) == "127.0.0.1:50412");
  CHECK(std::string(d["host"].GetString()) == "api.openai.com");
  CHECK(std::string(d["method"].GetString()) == "POST");
  CHECK(std::string(d["path"].GetString()) == "/v1/chat/completions");
  CHECK(std::string(d["protocol"].GetString()) == "HTTP/2");
  CHECK(d["status"].GetInt() == 200);
  CHECK(std::string(d["class"].GetString()) == "ai");
  CHECK(d["intercepted"].GetBool());
  CHECK(std::string(d["provider"].GetString()) == "openai");
  CHECK(std::string(d["model"].GetString()) == "gpt-4o");
  CHECK(d["tool"].IsNull());
  CHECK(std::string(d["action"].GetString()) == "allow");
  CHECK(d["rule"].IsNull());
  REQUIRE(d["detections"].Size() == 1);
  const auto &det = d["detections"][0];
  CHECK(std::string(det["detector"].GetString()) == "secret.aws_access_key");
  CHECK(std::string(det["category"].GetString()) == "secret");
  CHECK(std::string(det["field"].GetString()) == "messages[1].content");
  CHECK(det["count"].GetInt() == 1);
  CHECK(det.MemberCount() == 4);  // no offsets, no text
  CHECK(d["latency_ms"].GetDouble() >= 812.0);
  CHECK(d["latency_ms"].GetDouble() < 5000.0);
  CHECK(d["bytes_in"].GetInt() == 1532);
  CHECK(d["bytes_out"].GetInt() == 20411);
  CHECK(d["usage"]["input_tokens"].GetInt() == 412);
  CHECK(d["usage"]["output_tokens"].GetInt() == 958);
}

TEST_CASE(
    "usage is null when the API reported none, and a missing response "
    "has a null status") {
  Sample x;
  x.s.usage = {};
  x.s.status = 0;
  auto d = parseJson(encodeEvent(exchangeEvent(x.s, fixedTime())));
  CHECK(d["usage"].IsNull());
  CHECK(d["status"].IsNull());
}

TEST_CASE(
    "detections are counted per detector and field, request and response "
    "apart") {
  Sample x;
  x.detect("secret.aws_access_key", "messages[1].content");
  x.detect("secret.aws_access_key", "messages[1].content");
  x.detect("secret.aws_access_key", "messages[2].content");
  x.detect("pii.email", "response", /*response=*/true);
  auto all = aggregateDetections(x.s.detections);
  REQUIRE(all.size() == 3);
  CHECK(all[0].count == 2);
  CHECK(all[1].field == "messages[2].content");
  CHECK(all[1].count == 1);
  CHECK(aggregateDetections(x.s.detections, 0).size() == 2);
  REQUIRE(aggregateDetections(x.s.detections, 1).size() == 1);
  CHECK(aggregateDetections(x.s.detections, 1)[0].detector == "pii.email");
}

TEST_CASE(
    "a rule's block yields a security event with the rule, reason and "
    "detections") {
  Sample x;
  x.detect("secret.aws_access_key", "messages[1].content");
  x.s.verdict = Verdict::block(403, "no credentials");
  x.s.blocked_by = "rule_evaluator";
  x.s.rule_outcome = RuleOutcome::Block;
  x.s.rule = "no secrets";
  x.s.security_decisions.push_back({RuleOutcome::Block, "no secrets", "no credentials", false});
  ReportEvent ex = exchangeEvent(x.s, fixedTime());
  CHECK(ex.action == "block");
  auto sec = securityEvents(x.s, ex);
  REQUIRE(sec.size() == 1);
  std::string json = encodeEvent(sec[0]);
  CHECK(json.find(kKey) == std::string::npos);
  auto d = parseJson(json);
  REQUIRE_FALSE(d.HasParseError());
  CHECK(std::string(d["kind"].GetString()) == "security");
  CHECK(std::string(d["exchange_id"].GetString()) == ex.id.view());
  CHECK(std::string(d["id"].GetString()) != ex.id.view());
  CHECK(std::string(d["action"].GetString()) == "block");
  CHECK(std::string(d["rule"].GetString()) == "no secrets");
  CHECK(std::string(d["reason"].GetString()) == "no credentials");
  CHECK(std::string(d["phase"].GetString()) == "request");
  REQUIRE(d["detections"].Size() == 1);
  CHECK(std::string(d["detections"][0]["detector"].GetString()) == "secret.aws_access_key");
}

TEST_CASE(
    "log and modify decisions yield one security event each; a plain "
    "allow none") {
  Sample x;
  CHECK(securityEvents(x.s, exchangeEvent(x.s, fixedTime())).empty());
  x.s.security_decisions.push_back({RuleOutcome::Modify, "redact", "", false});
  x.s.security_decisions.push_back({RuleOutcome::Log, "watch", "", true});
  auto sec = securityEvents(x.s, exchangeEvent(x.s, fixedTime()));
  REQUIRE(sec.size() == 2);
  CHECK(sec[0].action == "modify");
  CHECK(sec[0].phase == "request");
  CHECK(sec[1].action == "log");
  CHECK(sec[1].phase == "response");
}

TEST_CASE("a block by another stage and unacted detections are security events too") {
  Sample x;
  x.s.verdict = Verdict::block(413, "request body too large");
  x.s.blocked_by = "pattern_matcher";
  auto sec = securityEvents(x.s, exchangeEvent(x.s, fixedTime()));
  REQUIRE(sec.size() == 1);
  CHECK(sec[0].action == "block");
  CHECK(sec[0].blocked_by == "pattern_matcher");
  CHECK(sec[0].rule.empty());

  Sample y;
  y.detect("pii.email", "messages[0].content");
  auto detected = securityEvents(y.s, exchangeEvent(y.s, fixedTime()));
  REQUIRE(detected.size() == 1);
  CHECK(detected[0].action == "detect");
}

TEST_CASE("a tunnel event names the target, the bytes both ways and the duration") {
  ConnectionInfo c;
  c.listener = "system";
  c.client = "127.0.0.1:5000";
  c.target_host = "telemetry.example";
  c.target_port = 443;
  c.traffic_class = TrafficClass::Chatty;
  c.bypassed = true;
  c.tunnel_started = std::chrono::steady_clock::now() - std::chrono::milliseconds(250);
  c.tunnel_ended = std::chrono::steady_clock::now();
  c.tunnel_bytes_up = 517;
  c.tunnel_bytes_down = 4096;
  auto d = parseJson(encodeEvent(tunnelEvent(c, fixedTime())));
  REQUIRE_FALSE(d.HasParseError());
  CHECK(std::string(d["kind"].GetString()) == "tunnel");
  CHECK(std::string(d["host"].GetString()) == "telemetry.example");
  CHECK(d["port"].GetInt() == 443);
  CHECK(std::string(d["class"].GetString()) == "chatty");
  CHECK_FALSE(d["intercepted"].GetBool());
  CHECK(d["bytes_in"].GetInt() == 517);
  CHECK(d["bytes_out"].GetInt() == 4096);
  CHECK(d["duration_ms"].GetDouble() >= 250.0);
}

TEST_CASE("strings are escaped: a hostile path cannot break the JSON line") {
  Sample x;
  x.s.path = "/a\"b\\c\n{\"kind\":\"x\"}\x01";
  std::string json = encodeEvent(exchangeEvent(x.s, fixedTime()));
  CHECK(json.find('\n') == std::string::npos);
  auto d = parseJson(json);
  REQUIRE_FALSE(d.HasParseError());
  CHECK(std::string(d["path"].GetString()) == x.s.path);
  CHECK(std::string(d["kind"].GetString()) == "exchange");
}

// The encoder sizes its buffer for the worst case up front (every string byte a six-byte
// \u escape): events made only of such bytes, in every field and of every kind, must come out
// whole and parse back to the same strings.
TEST_CASE("events whose every string escapes to the longest form encode whole") {
  std::string worst;
  for (int i = 0; i < 700; ++i) worst += static_cast<char>(1 + i % 8);  // \u0001 .. \u0008
  for (EventKind kind : {EventKind::Exchange, EventKind::Security, EventKind::Tunnel}) {
    ReportEvent e;
    e.kind = kind;
    e.ts = fixedTime();
    e.id = EventId(worst);
    e.exchange_id = EventId(worst);
    for (std::string *s : {&e.session_id, &e.call_id, &e.listener, &e.client, &e.host, &e.method,
                           &e.path, &e.protocol, &e.call_class, &e.provider, &e.model, &e.tool,
                           &e.action, &e.rule, &e.reason, &e.blocked_by, &e.phase, &e.error,
                           &e.sink, &e.request_body, &e.response_body}) {
      *s = worst;
    }
    e.has_bodies = true;
    e.dropped = UINT64_MAX;
    e.bytes_in = e.bytes_out = UINT64_MAX;
    e.latency_ms = 1e300;  // 300 digits in fixed notation
    e.usage.input_tokens = e.usage.output_tokens = INT64_MAX;
    for (int i = 0; i < 20; ++i) e.detections.push_back({worst, worst, worst, UINT64_MAX});
    std::string json = encodeEvent(e);
    auto d = parseJson(json);
    REQUIRE_FALSE(d.HasParseError());
    CHECK(std::string(d["host"].GetString()) == worst);
    CHECK(std::string(d["id"].GetString()) == std::string(e.id.view()));
    if (kind == EventKind::Tunnel) continue;
    CHECK(std::string(d["path"].GetString()) == worst);
    CHECK(d["detections"].Size() == 20);
    CHECK(std::string(d["detections"][19]["field"].GetString()) == worst);
    if (kind == EventKind::Exchange) {
      CHECK(std::string(d["response_body"].GetString()) == worst);
      CHECK(d["usage"]["output_tokens"].GetInt64() == INT64_MAX);
    } else {
      CHECK(std::string(d["sink"].GetString()) == worst);
      CHECK(d["dropped"].GetUint64() == UINT64_MAX);
    }
  }
}

TEST_CASE("timestamps are ISO-8601 UTC with milliseconds") {
  std::regex iso(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  CHECK(std::regex_match(formatTimestamp(std::chrono::system_clock::now()), iso));
  CHECK(formatTimestamp(fixedTime()) == "2026-11-21T10:00:00.123Z");
  // The second's text is reused within the second and redone for the next one.
  using std::chrono::milliseconds;
  CHECK(formatTimestamp(fixedTime() + milliseconds(876)) == "2026-11-21T10:00:00.999Z");
  CHECK(formatTimestamp(fixedTime() + milliseconds(877)) == "2026-11-21T10:00:01.000Z");
  CHECK(formatTimestamp(fixedTime() - milliseconds(123)) == "2026-11-21T10:00:00.000Z");
  CHECK(formatTimestamp(fixedTime() + milliseconds(86400000)) == "2026-11-22T10:00:00.123Z");
  CHECK(formatTimestamp(fixedTime() - milliseconds(1)) == "2026-11-21T10:00:00.122Z");
}

TEST_CASE("millisecond figures keep one decimal, rounded") {
  Sample x;
  x.s.finished = x.s.started + std::chrono::microseconds(12345);
  auto d = parseJson(encodeEvent(exchangeEvent(x.s, fixedTime())));
  REQUIRE_FALSE(d.HasParseError());
  CHECK(d["latency_ms"].GetDouble() == doctest::Approx(12.3));
  CHECK(encodeEvent(exchangeEvent(x.s, fixedTime())).find("\"latency_ms\":12.3,") != std::string::npos);
}

TEST_CASE("event ids are unique across threads") {
  constexpr int kThreads = 4, kEach = 5000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      for (int i = 0; i < kEach; ++i) ids[t].emplace_back(newEventId().view());
    });
  }
  for (auto &t : threads) t.join();
  std::set<std::string> all;
  for (const auto &v : ids) all.insert(v.begin(), v.end());
  CHECK(all.size() == static_cast<size_t>(kThreads * kEach));
  const std::regex shape("[0-9a-f]{16}-[0-9a-f]{12}");
  for (const auto &id : all) REQUIRE(std::regex_match(id, shape));
  // One process prefix; the counter part counts up.
  const std::string a(newEventId().view()), b(newEventId().view());
  CHECK(a.substr(0, 17) == b.substr(0, 17));
  CHECK(std::stoull(b.substr(17), nullptr, 16) == std::stoull(a.substr(17), nullptr, 16) + 1);
}

}  // namespace
}  // namespace aiw
