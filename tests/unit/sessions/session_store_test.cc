// SessionStore: bounds, eviction order, resize, and the JSON the admin routes serve, parsed back.
#include "sessions/session_store.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace aiw {
namespace {

constexpr int64_t kT0 = 1795255200123;  // 2026-11-21T10:00:00.123Z

CallRecord call(std::string call_id, CallStatus status = CallStatus::Ok, int64_t time_ms = kT0) {
  CallRecord c;
  c.time_ms = time_ms;
  c.call_id = std::move(call_id);
  c.kind = "tool";
  c.tool = "python_exec";
  c.method = "POST";
  c.host = "127.0.0.1:7001";
  c.path = "/run";
  c.status = status;
  c.http_status = status == CallStatus::Ok ? 200 : 403;
  c.latency_ms = 12.5;
  return c;
}

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  REQUIRE_MESSAGE(!d.HasParseError(), body);
  REQUIRE(d.IsObject());
  return d;
}

bool has(const SessionStore& s, std::string_view id) { return s.sessionJson(id).has_value(); }

std::string str(const rapidjson::Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// Ids that share the shard of `anchor` when there are 16 shards, found by behaviour alone: with
// 16 shards of one session each, recording an id evicts `anchor` only if they share its shard.
std::vector<std::string> idsSharingShardWith(const std::string& anchor, size_t wanted) {
  std::vector<std::string> out;
  for (int i = 0; out.size() < wanted && i < 100000; ++i) {
    SessionStore probe(16, 1);
    probe.record(anchor, call("c"));
    std::string id = "id-" + std::to_string(i);
    probe.record(id, call("c"));
    if (!has(probe, anchor)) out.push_back(id);
  }
  REQUIRE(out.size() == wanted);
  return out;
}

TEST_CASE("the store holds exactly max_sessions sessions and counts the evictions") {
  for (size_t max : {1u, 3u, 16u, 17u, 37u, 100u}) {
    CAPTURE(max);
    SessionStore s(max, 5);
    for (int i = 0; i < 1000; ++i) {
      s.record("s" + std::to_string(i), call("c"));
      REQUIRE(s.size() <= max);
    }
    CHECK(s.size() == max);
    CHECK(s.evicted() == 1000 - max);
    CHECK(s.maxSessions() == max);
    CHECK(has(s, "s999"));  // the most recent always stays
    auto d = parse(s.listJson(10000));
    CHECK(d["sessions"].Size() == max);
    CHECK(d["count"].GetUint64() == max);
    CHECK(d["max_sessions"].GetUint64() == max);
  }
}

TEST_CASE("a full shard evicts its least recently active session, and activity keeps one") {
  const std::vector<std::string> same = idsSharingShardWith("anchor", 2);
  SUBCASE("oldest first") {
    SessionStore s(32, 5);  // 16 shards of 2
    s.record("anchor", call("1"));
    s.record(same[0], call("2"));
    s.record(same[1], call("3"));
    CHECK_FALSE(has(s, "anchor"));
    CHECK(has(s, same[0]));
    CHECK(has(s, same[1]));
    CHECK(s.evicted() == 1);
  }
  SUBCASE("a call makes its session the most recent") {
    SessionStore s(32, 5);
    s.record("anchor", call("1"));
    s.record(same[0], call("2"));
    s.record("anchor", call("3"));  // touched: same[0] is now the least recent
    s.record(same[1], call("4"));
    CHECK(has(s, "anchor"));
    CHECK_FALSE(has(s, same[0]));
    CHECK(has(s, same[1]));
  }
  SUBCASE("reading a session does not make it more recent") {
    SessionStore s(32, 5);
    s.record("anchor", call("1"));
    s.record(same[0], call("2"));
    CHECK(s.sessionJson("anchor"));
    s.record(same[1], call("3"));
    CHECK_FALSE(has(s, "anchor"));
  }
}

TEST_CASE("a session touched between many new ones is never evicted") {
  SessionStore s(32, 5);  // shards of 2: the touched one is never its shard's least recent
  for (int i = 0; i < 500; ++i) {
    s.record("keep", call("k" + std::to_string(i)));
    s.record("other-" + std::to_string(i), call("o"));
  }
  CHECK(has(s, "keep"));
  CHECK(s.size() == 32);
}

TEST_CASE("an empty session id is ignored, and max_sessions 0 keeps nothing") {
  SessionStore s(10, 5);
  s.record("", call("c"));
  CHECK(s.size() == 0);
  CHECK_FALSE(s.sessionJson(""));
  SessionStore none(0, 5);
  none.record("a", call("c"));
  CHECK(none.size() == 0);
  CHECK_FALSE(none.sessionJson("a"));
  auto d = parse(none.listJson(100));
  CHECK(d["sessions"].Size() == 0);
  CHECK(d["count"].GetUint64() == 0);
}

TEST_CASE("a session keeps its last `history` calls and whole totals") {
  SessionStore s(10, 3);
  const CallStatus statuses[] = {CallStatus::Ok, CallStatus::Blocked, CallStatus::RateLimited,
                                 CallStatus::Error, CallStatus::Blocked};
  for (int i = 0; i < 10; ++i) {
    s.record("a", call("c" + std::to_string(i), statuses[i % 5], kT0 + i));
  }
  auto d = parse(*s.sessionJson("a"));
  CHECK(str(d["session_id"]) == "a");
  CHECK(d["calls"].IsArray());
  REQUIRE(d["calls"].Size() == 3);
  CHECK(str(d["calls"][0]["call_id"]) == "c7");  // oldest kept first
  CHECK(str(d["calls"][2]["call_id"]) == "c9");
  // The totals count every call, also those no longer kept.
  auto list = parse(s.listJson(10));
  const auto& a = list["sessions"][0];
  CHECK(a["calls"].GetUint64() == 10);
  CHECK(a["blocked"].GetUint64() == 4);
  CHECK(a["rate_limited"].GetUint64() == 2);
  CHECK(a["errors"].GetUint64() == 2);
  CHECK(str(a["first_seen"]) == "2026-11-21T10:00:00.123Z");
  CHECK(str(a["last_seen"]) == "2026-11-21T10:00:00.132Z");
  CHECK(d["total_calls"].GetUint64() == 10);  // "calls" is the timeline in this shape
  CHECK(d["blocked"].GetUint64() == 4);
  CHECK(d["rate_limited"].GetUint64() == 2);
  CHECK(d["errors"].GetUint64() == 2);
  CHECK(str(d["first_seen"]) == "2026-11-21T10:00:00.123Z");
}

TEST_CASE("history 0 keeps the totals and no calls") {
  SessionStore s(10, 0);
  s.record("a", call("1", CallStatus::Error));
  auto d = parse(*s.sessionJson("a"));
  CHECK(d["calls"].IsArray());
  CHECK(d["calls"].Size() == 0);
  CHECK(d["errors"].GetUint64() == 1);
}

TEST_CASE("the list shows the last ten calls of each session, oldest first") {
  SessionStore s(10, 50);
  for (int i = 0; i < 25; ++i) s.record("a", call("c" + std::to_string(i)));
  auto d = parse(s.listJson(100));
  const auto& recent = d["sessions"][0]["recent"];
  REQUIRE(recent.Size() == SessionStore::kRecentCalls);
  CHECK(str(recent[0]["call_id"]) == "c15");
  CHECK(str(recent[9]["call_id"]) == "c24");
  CHECK(parse(*s.sessionJson("a"))["calls"].Size() == 25);
}

TEST_CASE("the list is most recently active first and cut at the limit") {
  SessionStore s(100, 5);
  for (int i = 0; i < 30; ++i) s.record("s" + std::to_string(i), call("c"));
  s.record("s3", call("again"));
  auto d = parse(s.listJson(5));
  REQUIRE(d["sessions"].Size() == 5);
  CHECK(str(d["sessions"][0]["session_id"]) == "s3");
  CHECK(str(d["sessions"][1]["session_id"]) == "s29");
  CHECK(str(d["sessions"][2]["session_id"]) == "s28");
  CHECK(str(d["sessions"][4]["session_id"]) == "s26");
  CHECK(d["count"].GetUint64() == 30);  // held, not shown
  CHECK(d["max_sessions"].GetUint64() == 100);
}

TEST_CASE("a call renders with every field, a null rule, and no empty tool or reason") {
  SessionStore s(10, 10);
  CallRecord route;
  route.time_ms = kT0;
  route.call_id = "r1";
  route.kind = "route";
  route.method = "POST";
  route.host = "api.openai.com";
  route.path = "/v1/chat/completions";
  route.status = CallStatus::Ok;
  route.http_status = 200;
  route.latency_ms = 812.4;
  s.record("sess", route);
  CallRecord blocked = call("t1", CallStatus::Blocked, kT0 + 1000);
  blocked.rule = "no-shell";
  blocked.reason = "tool \"python_exec\" is blocked";
  s.record("sess", blocked);
  CallRecord limited = call("t2", CallStatus::RateLimited);
  limited.http_status = 429;
  limited.latency_ms = std::numeric_limits<double>::quiet_NaN();  // never breaks the document
  s.record("sess", limited);

  auto d = parse(*s.sessionJson("sess"));
  const auto& calls = d["calls"];
  REQUIRE(calls.Size() == 3);
  const auto& r = calls[0];
  CHECK(str(r["time"]) == "2026-11-21T10:00:00.123Z");
  CHECK(str(r["call_id"]) == "r1");
  CHECK(str(r["kind"]) == "route");
  CHECK_FALSE(r.HasMember("tool"));
  CHECK(str(r["method"]) == "POST");
  CHECK(str(r["host"]) == "api.openai.com");
  CHECK(str(r["path"]) == "/v1/chat/completions");
  CHECK(str(r["status"]) == "ok");
  CHECK(r["http_status"].GetUint() == 200);
  CHECK(r["latency_ms"].GetDouble() == doctest::Approx(812.4));
  CHECK(r["rule"].IsNull());
  CHECK_FALSE(r.HasMember("reason"));

  const auto& b = calls[1];
  CHECK(str(b["time"]) == "2026-11-21T10:00:01.123Z");
  CHECK(str(b["tool"]) == "python_exec");
  CHECK(str(b["status"]) == "blocked");
  CHECK(str(b["rule"]) == "no-shell");
  CHECK(str(b["reason"]) == "tool \"python_exec\" is blocked");
  CHECK(str(calls[2]["status"]) == "rate_limited");
  CHECK(calls[2]["latency_ms"].GetDouble() == 0.0);
  CHECK(str(d["first_seen"]) == "2026-11-21T10:00:00.123Z");
  CHECK(str(d["last_seen"]) == "2026-11-21T10:00:01.123Z");
}

TEST_CASE("status names are the JSON spellings") {
  CHECK(callStatusName(CallStatus::Ok) == "ok");
  CHECK(callStatusName(CallStatus::Blocked) == "blocked");
  CHECK(callStatusName(CallStatus::RateLimited) == "rate_limited");
  CHECK(callStatusName(CallStatus::Error) == "error");
  SessionStore s(10, 10);
  s.record("e", call("x", CallStatus::Error));
  CHECK(str(parse(*s.sessionJson("e"))["calls"][0]["status"]) == "error");
}

TEST_CASE("session ids with quotes, backslashes and control characters round-trip") {
  const std::string id = std::string("he said \"hi\"\\\n\t\x01 end") + '\0' + "nul";
  SessionStore s(10, 10);
  CallRecord c = call("c\"1");
  c.path = "/run?q=\"x\"&\x1f";
  s.record(id, c);
  auto one = parse(*s.sessionJson(id));
  CHECK(str(one["session_id"]) == id);
  CHECK(str(one["calls"][0]["call_id"]) == "c\"1");
  CHECK(str(one["calls"][0]["path"]) == c.path);
  auto list = parse(s.listJson(10));
  CHECK(str(list["sessions"][0]["session_id"]) == id);
}

TEST_CASE("bytes that are not UTF-8 become U+FFFD, valid UTF-8 stays") {
  SessionStore s(10, 10);
  s.record("bad\xff\xc0\x80id", call("c"));
  s.record("caf\xc3\xa9-\xf0\x9f\x98\x80", call("c"));
  auto list = parse(s.listJson(10));  // parses: the document is valid UTF-8
  std::vector<std::string> ids;
  for (const auto& v : list["sessions"].GetArray()) ids.push_back(str(v["session_id"]));
  CHECK(std::find(ids.begin(), ids.end(), "bad\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDid") != ids.end());
  CHECK(std::find(ids.begin(), ids.end(), "caf\xc3\xa9-\xf0\x9f\x98\x80") != ids.end());
  CHECK(toValidUtf8("ok") == "ok");
  CHECK(toValidUtf8("\xed\xa0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  CHECK(toValidUtf8("\xe2\x82") == "\xEF\xBF\xBD\xEF\xBF\xBD");                   // cut short
}

TEST_CASE("times before 1970 still render as valid ISO times") {
  SessionStore s(10, 10);
  s.record("old", call("c", CallStatus::Ok, -1));
  CHECK(str(parse(*s.sessionJson("old"))["calls"][0]["time"]) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("resize keeps the most recently active sessions that fit and trims histories") {
  SessionStore s(1000, 10);  // room for all 50 in any shard
  for (int i = 0; i < 50; ++i) {
    for (int k = 0; k < 5; ++k) s.record("s" + std::to_string(i), call("c" + std::to_string(k)));
  }
  s.record("s7", call("latest"));  // the most recently active of all

  SUBCASE("to a single session: the most recent one stays") {
    s.resize(1, 2);
    CHECK(s.size() == 1);
    CHECK(s.maxSessions() == 1);
    CHECK(s.evicted() == 49);
    auto d = parse(*s.sessionJson("s7"));
    CHECK(d["calls"].Size() == 2);
    CHECK(str(d["calls"][1]["call_id"]) == "latest");
    CHECK(d["calls"][0]["call_id"].GetString() == std::string("c4"));
    auto list = parse(s.listJson(10));
    CHECK(list["sessions"][0]["calls"].GetUint64() == 6);  // totals survive the trim
  }
  SUBCASE("smaller: exactly the new bound, the most recent kept") {
    s.resize(10, 3);
    CHECK(s.size() == 10);
    CHECK(s.evicted() == 40);
    CHECK(has(s, "s7"));
    CHECK(parse(*s.sessionJson("s7"))["calls"].Size() == 3);
    for (int i = 0; i < 100; ++i) s.record("n" + std::to_string(i), call("c"));
    CHECK(s.size() == 10);  // and the new bound holds afterwards
  }
  SUBCASE("larger: everything stays and more fits") {
    s.resize(5000, 20);
    CHECK(s.size() == 50);
    CHECK(s.evicted() == 0);
    for (int i = 0; i < 100; ++i) s.record("n" + std::to_string(i), call("c"));
    CHECK(s.size() == 150);
    CHECK(parse(*s.sessionJson("s7"))["calls"].Size() == 6);
  }
  SUBCASE("the same bounds change nothing") {
    s.resize(1000, 10);
    CHECK(s.size() == 50);
    CHECK(parse(*s.sessionJson("s7"))["calls"].Size() == 6);
    CHECK(str(parse(s.listJson(1))["sessions"][0]["session_id"]) == "s7");
  }
  SUBCASE("to zero: nothing kept, nothing recorded") {
    s.resize(0, 10);
    CHECK(s.size() == 0);
    s.record("x", call("c"));
    CHECK(s.size() == 0);
    s.resize(5, 10);
    s.record("x", call("c"));
    CHECK(s.size() == 1);
  }
}

TEST_CASE("clear forgets every session without counting evictions") {
  SessionStore s(5, 10);
  for (int i = 0; i < 8; ++i) s.record("s" + std::to_string(i), call("c"));
  const uint64_t evicted = s.evicted();
  s.clear();
  CHECK(s.size() == 0);
  CHECK(s.evicted() == evicted);
  CHECK_FALSE(s.sessionJson("s7"));
  CHECK(parse(s.listJson(10))["sessions"].Size() == 0);
  s.record("s1", call("c"));
  CHECK(s.size() == 1);
  CHECK(parse(*s.sessionJson("s1"))["calls"].Size() == 1);
}

TEST_CASE("concurrent writers, readers and resizes keep the bound and consistent totals") {
  constexpr int kThreads = 4;
  constexpr int kRecords = 20000;
  constexpr int kSessions = 500;
  SessionStore s(100, 5);
  std::atomic<int> writers_left{kThreads};
  std::atomic<bool> over_bound{false};
  std::atomic<bool> bad_json{false};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRecords; ++i) {
        int k = (i * 7 + t * 131) % kSessions;
        // Every call of session k has the same status: its totals must agree exactly.
        s.record("s" + std::to_string(k),
                 call("t" + std::to_string(t) + "-" + std::to_string(i),
                      static_cast<CallStatus>(k % 4), kT0 + i));
      }
      writers_left.fetch_sub(1);
    });
  }
  threads.emplace_back([&] {  // reader: the bound holds at every moment, the JSON is whole
    while (writers_left.load() > 0) {
      if (s.size() > 100) over_bound = true;
      std::string list = s.listJson(20);
      rapidjson::Document d;
      d.Parse(list.c_str(), list.size());
      if (d.HasParseError() || d["sessions"].Size() > 20) bad_json = true;
      if (auto one = s.sessionJson("s1")) {
        rapidjson::Document o;
        o.Parse(one->c_str(), one->size());
        if (o.HasParseError()) bad_json = true;
      }
    }
  });
  threads.emplace_back([&] {  // reloads: the shard count changes under the writers (16 ↔ 7)
    for (int i = 0; i < 200 && writers_left.load() > 0; ++i) {
      s.resize(i % 2 == 0 ? 7 : 100, 5);
      if (s.size() > 100) over_bound = true;
    }
    s.resize(100, 5);
  });
  for (auto& th : threads) th.join();

  CHECK_FALSE(over_bound.load());
  CHECK_FALSE(bad_json.load());
  CHECK(s.size() <= 100);
  // The last resize may have left shards short: one more call per session fills them again.
  for (int k = 0; k < kSessions; ++k) {
    s.record("s" + std::to_string(k), call("last", static_cast<CallStatus>(k % 4)));
  }
  CHECK(s.size() == 100);

  auto d = parse(s.listJson(10000));
  const auto& sessions = d["sessions"];
  CHECK(sessions.Size() == 100);
  for (const auto& v : sessions.GetArray()) {
    const std::string id = str(v["session_id"]);
    CAPTURE(id);
    const uint64_t calls = v["calls"].GetUint64();
    CHECK(calls >= 1);
    CHECK(calls <= static_cast<uint64_t>(kThreads) * kRecords);
    const int k = std::stoi(id.substr(1));
    CHECK(v["blocked"].GetUint64() == (k % 4 == 1 ? calls : 0));
    CHECK(v["rate_limited"].GetUint64() == (k % 4 == 2 ? calls : 0));
    CHECK(v["errors"].GetUint64() == (k % 4 == 3 ? calls : 0));
    CHECK(v["recent"].Size() == std::min<uint64_t>(calls, 5));
    CHECK(str(v["first_seen"]) <= str(v["last_seen"]));
  }
}

}  // namespace
}  // namespace aiw
