// AdminRoutes' session routes (SPEC §7): GET /proxy/v1/sessions[/{session}] and the sessions part
// of POST /proxy/v1/reset, over a Runtime built by hand with a real SessionStore.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>

#include "admin/admin_routes.h"
#include "sessions/session_store.h"

namespace aiw {
namespace {

constexpr const char* kToken = "fedcba9876543210fedcba9876543210";

struct SessionsAdmin {
  Runtime runtime{1};
  AdminRoutes routes{runtime, []() -> Result<void> { return {}; }};

  explicit SessionsAdmin(bool with_store = true) {
    auto snap = std::make_shared<Snapshot>();
    snap->generation = 1;
    runtime.snapshot.set(snap);
    runtime.admin_token = kToken;
    if (with_store) runtime.sessions = std::make_shared<SessionStore>(1000, 20);
  }

  AdminResponse call(const std::string& method, const std::string& path,
                     const std::string& query = "", const char* token = kToken) {
    AdminRequest req;
    req.method = method;
    req.path = path;
    req.query = query;
    if (token != nullptr) req.headers.add("X-Proxy-Token", token);
    return routes.handle(req);
  }

  void record(const std::string& session, const std::string& call_id,
              CallStatus status = CallStatus::Ok) {
    CallRecord c;
    c.time_ms = 1795255200123;
    c.call_id = call_id;
    c.kind = "tool";
    c.tool = "python_exec";
    c.method = "POST";
    c.host = "127.0.0.1:7001";
    c.path = "/run";
    c.status = status;
    c.http_status = status == CallStatus::Blocked ? 403 : 200;
    c.latency_ms = 3.25;
    if (status == CallStatus::Blocked) c.rule = "no-exec";
    runtime.sessions->record(session, std::move(c));
  }
};

rapidjson::Document parseJson(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  REQUIRE_MESSAGE(!d.HasParseError(), body);
  REQUIRE(d.IsObject());
  return d;
}

std::string str(const rapidjson::Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

TEST_CASE("GET /proxy/v1/sessions lists the sessions, most recently active first") {
  SessionsAdmin a;
  a.record("alpha", "a1");
  a.record("beta", "b1", CallStatus::Blocked);
  a.record("alpha", "a2");
  auto r = a.call("GET", "/proxy/v1/sessions");
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  auto d = parseJson(r.body);
  REQUIRE(d["sessions"].Size() == 2);
  CHECK(d["count"].GetUint64() == 2);
  CHECK(d["max_sessions"].GetUint64() == 1000);
  const auto& alpha = d["sessions"][0];
  CHECK(str(alpha["session_id"]) == "alpha");
  CHECK(alpha["calls"].GetUint64() == 2);
  REQUIRE(alpha["recent"].Size() == 2);
  CHECK(str(alpha["recent"][1]["call_id"]) == "a2");
  const auto& beta = d["sessions"][1];
  CHECK(beta["blocked"].GetUint64() == 1);
  CHECK(str(beta["recent"][0]["status"]) == "blocked");
  CHECK(str(beta["recent"][0]["rule"]) == "no-exec");
}

TEST_CASE("the session list honours limit, defaults to 100 and ignores other parameters") {
  SessionsAdmin a;
  for (int i = 0; i < 150; ++i) a.record("s" + std::to_string(i), "c");
  auto d = parseJson(a.call("GET", "/proxy/v1/sessions").body);
  CHECK(d["sessions"].Size() == 100);
  CHECK(d["count"].GetUint64() == 150);
  d = parseJson(a.call("GET", "/proxy/v1/sessions", "limit=3").body);
  REQUIRE(d["sessions"].Size() == 3);
  CHECK(str(d["sessions"][0]["session_id"]) == "s149");
  d = parseJson(a.call("GET", "/proxy/v1/sessions", "pretty=1&limit=1").body);
  CHECK(d["sessions"].Size() == 1);
  CHECK(a.call("GET", "/proxy/v1/sessions", "limit=10000").status == 200);
}

TEST_CASE("a bad limit answers 400 naming the problem") {
  SessionsAdmin a;
  for (const char* q : {"limit=0", "limit=10001", "limit=abc", "limit=", "limit=-1", "limit=1.5",
                        "limit=99999999999999999999", "limit=5&limit=x"}) {
    CAPTURE(q);
    auto r = a.call("GET", "/proxy/v1/sessions", q);
    CHECK(r.status == 400);
    auto d = parseJson(r.body);
    CHECK(str(d["error"]) == "bad_limit");
    const std::string message = str(d["message"]);
    CHECK(message.find("limit") != std::string::npos);
    CHECK(message.find("10000") != std::string::npos);
  }
  auto d = parseJson(a.call("GET", "/proxy/v1/sessions", "limit=abc").body);
  CHECK(str(d["message"]).find("'abc'") != std::string::npos);
}

TEST_CASE("GET /proxy/v1/sessions/{session} returns the whole timeline of one session") {
  SessionsAdmin a;
  for (int i = 0; i < 15; ++i) a.record("agent-1", "c" + std::to_string(i));
  a.record("agent-1", "blocked", CallStatus::Blocked);
  auto r = a.call("GET", "/proxy/v1/sessions/agent-1");
  CHECK(r.status == 200);
  auto d = parseJson(r.body);
  CHECK(str(d["session_id"]) == "agent-1");
  CHECK(d["total_calls"].GetUint64() == 16);
  CHECK(d["blocked"].GetUint64() == 1);
  REQUIRE(d["calls"].Size() == 16);  // the whole history (20 kept), not the list's last ten
  CHECK(str(d["calls"][0]["call_id"]) == "c0");
  CHECK(str(d["calls"][15]["rule"]) == "no-exec");
  CHECK(d["calls"][0]["rule"].IsNull());
  CHECK(str(d["calls"][0]["time"]) == "2026-11-21T10:00:00.123Z");
}

TEST_CASE("the session id in the path is percent-decoded") {
  SessionsAdmin a;
  a.record("a b/c\"d", "c1");
  auto r = a.call("GET", "/proxy/v1/sessions/a%20b%2Fc%22d");
  CHECK(r.status == 200);
  CHECK(str(parseJson(r.body)["session_id"]) == "a b/c\"d");
  a.record("x+y", "c2");  // '+' is not a space in a path
  CHECK(a.call("GET", "/proxy/v1/sessions/x+y").status == 200);
  for (const char* bad : {"/proxy/v1/sessions/a%2", "/proxy/v1/sessions/a%zz", "/proxy/v1/sessions/%"}) {
    CAPTURE(bad);
    auto e = a.call("GET", bad);
    CHECK(e.status == 400);
    CHECK(str(parseJson(e.body)["error"]) == "bad_session_id");
  }
}

TEST_CASE("an unknown session answers 404 naming it") {
  SessionsAdmin a;
  a.record("known", "c");
  auto r = a.call("GET", "/proxy/v1/sessions/x");
  CHECK(r.status == 404);
  auto d = parseJson(r.body);
  CHECK(str(d["error"]) == "not_found");
  CHECK(str(d["message"]) == "no session 'x'");
  CHECK(a.call("GET", "/proxy/v1/sessions/").status == 404);  // the empty id is no session
  // An id that is not UTF-8 is echoed as valid JSON text.
  auto bad = a.call("GET", "/proxy/v1/sessions/%FF%22");
  CHECK(bad.status == 404);
  CHECK(str(parseJson(bad.body)["message"]) == "no session '\xEF\xBF\xBD\"'");
}

TEST_CASE("without a session store the routes answer an empty list and 404") {
  SessionsAdmin a(false);
  auto r = a.call("GET", "/proxy/v1/sessions");
  CHECK(r.status == 200);
  auto d = parseJson(r.body);
  CHECK(d["sessions"].Size() == 0);
  CHECK(d["count"].GetUint64() == 0);
  CHECK(a.call("GET", "/proxy/v1/sessions/x").status == 404);
  CHECK(a.call("GET", "/proxy/v1/sessions", "limit=0").status == 400);
  CHECK(a.call("POST", "/proxy/v1/reset").status == 200);
}

TEST_CASE("the session routes answer only GET, with an Allow header") {
  SessionsAdmin a;
  a.record("s", "c");
  for (const char* path : {"/proxy/v1/sessions", "/proxy/v1/sessions/s"}) {
    for (const char* m : {"POST", "PUT", "DELETE", "PATCH"}) {
      CAPTURE(path);
      CAPTURE(m);
      auto r = a.call(m, path);
      CHECK(r.status == 405);
      CHECK(str(parseJson(r.body)["error"]) == "method_not_allowed");
      const std::string* allow = r.extra_headers.find("allow");
      REQUIRE(allow != nullptr);
      CHECK(*allow == "GET");
    }
  }
  CHECK(a.runtime.sessions->size() == 1);
}

TEST_CASE("the session routes need the token") {
  SessionsAdmin a;
  a.record("secret-session", "c");
  for (const char* path : {"/proxy/v1/sessions", "/proxy/v1/sessions/secret-session"}) {
    CAPTURE(path);
    for (const char* token : {static_cast<const char*>(nullptr), "wrong"}) {
      auto r = a.call("GET", path, "", token);
      CHECK(r.status == 401);
      CHECK(r.body.find("secret-session") == std::string::npos);
    }
  }
}

TEST_CASE("POST /proxy/v1/reset forgets every session") {
  SessionsAdmin a;
  for (int i = 0; i < 5; ++i) a.record("s" + std::to_string(i), "c");
  a.runtime.metrics.shard(0).calls = 4;
  auto r = a.call("POST", "/proxy/v1/reset");
  CHECK(r.status == 200);
  CHECK(a.runtime.sessions->size() == 0);
  CHECK(a.runtime.metrics.totals().calls == 0);
  auto d = parseJson(a.call("GET", "/proxy/v1/sessions").body);
  CHECK(d["sessions"].Size() == 0);
  CHECK(d["count"].GetUint64() == 0);
  CHECK(a.call("GET", "/proxy/v1/sessions/s1").status == 404);
  a.record("after", "c");  // and the store keeps working
  CHECK(a.call("GET", "/proxy/v1/sessions/after").status == 200);
}

}  // namespace
}  // namespace aiw
