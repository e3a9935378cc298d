// AdminRoutes: the admin API's routes (SPEC §7) without sockets — a Runtime with a hand-built
// snapshot, requests in, responses out.
#include "admin/admin_routes.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/log.h"

namespace aiw {
namespace {

constexpr const char* kToken = "0123456789abcdef0123456789abcdef";

std::shared_ptr<const Snapshot> makeSnapshot(uint64_t generation, const std::string& config_token) {
  auto s = std::make_shared<Snapshot>();
  s->generation = generation;
  Config& c = s->config;
  c.source = "/etc/aiwarden/aiwarden.yaml";
  c.workers = 2;
  c.state_dir = "/var/lib/aiwarden";
  c.admin.token = config_token;
  ListenerConfig l;
  l.name = "system";
  l.type = ListenerType::Forward;
  l.address = HostPort{"127.0.0.1", 8080};
  c.listeners.push_back(l);
  c.upstream.resolve["api.openai.com:443"] = HostPort{"127.0.0.1", 9443};
  return s;
}

struct Admin {
  Runtime runtime{2};
  int reloads = 0;
  Result<void> next_reload;  // what the reload function returns
  AdminRoutes routes{runtime, [this]() -> Result<void> {
                       ++reloads;
                       if (next_reload.ok()) {
                         runtime.snapshot.set(
                             makeSnapshot(runtime.snapshot.get()->generation + 1, "s3cret"));
                       }
                       return next_reload;
                     }};

  Admin() {
    runtime.snapshot.set(makeSnapshot(1, "s3cret-config-token"));
    runtime.admin_token = kToken;
  }

  AdminResponse call(const std::string& method, const std::string& path,
                     const char* token = kToken) {
    AdminRequest req;
    req.method = method;
    req.path = path;
    if (token != nullptr) req.headers.add("X-Proxy-Token", token);
    return routes.handle(req);
  }
};

rapidjson::Document parseJson(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  REQUIRE_MESSAGE(!d.HasParseError(), body);
  return d;
}

std::string errorCode(const AdminResponse& r) {
  auto d = parseJson(r.body);
  REQUIRE(d.IsObject());
  REQUIRE(d.HasMember("error"));
  REQUIRE(d.HasMember("message"));
  return d["error"].GetString();
}

// ---- /ready ------------------------------------------------------------------------------

TEST_CASE("/ready answers 200 ready without a token") {
  Admin a;
  auto r = a.call("GET", "/ready", nullptr);
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  auto d = parseJson(r.body);
  CHECK(std::string(d["status"].GetString()) == "ready");
  CHECK(a.call("HEAD", "/ready", nullptr).status == 200);
  CHECK(a.call("GET", "/ready", "wrong").status == 200);  // a wrong token does not matter here
}

TEST_CASE("/ready answers 503 while draining") {
  Admin a;
  a.runtime.draining = true;
  auto r = a.call("GET", "/ready", nullptr);
  CHECK(r.status == 503);
  CHECK(std::string(parseJson(r.body)["status"].GetString()) == "draining");
  a.runtime.draining = false;
  CHECK(a.call("GET", "/ready", nullptr).status == 200);
}

TEST_CASE("/ready refuses methods that could change state with 405") {
  Admin a;
  for (const char* m : {"POST", "PUT", "DELETE"}) {
    CAPTURE(m);
    auto r = a.call(m, "/ready", nullptr);
    CHECK(r.status == 405);
    CHECK(errorCode(r) == "method_not_allowed");
  }
}

// ---- authentication ----------------------------------------------------------------------

TEST_CASE("every other route answers 401 without X-Proxy-Token, and does nothing") {
  Admin a;
  a.runtime.metrics.shard(0).calls = 7;
  for (const auto& [m, p] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/proxy/v1/metrics"},
           {"GET", "/metrics"},
           {"GET", "/config_dump"},
           {"POST", "/proxy/v1/reload"},
           {"GET", "/no/such/route"}}) {
    CAPTURE(p);
    auto r = a.call(m, p, nullptr);
    CHECK(r.status == 401);
    CHECK(errorCode(r) == "unauthorized");
    CHECK(r.body.find("required") != std::string::npos);
    CHECK(r.body.find("\"calls\"") == std::string::npos);
    CHECK(r.body.find("system") == std::string::npos);
  }
  CHECK(a.reloads == 0);
}

TEST_CASE("a wrong X-Proxy-Token answers 401") {
  Admin a;
  std::string almost = kToken;
  almost.back() = almost.back() == 'f' ? 'e' : 'f';
  std::string prefix = std::string(kToken).substr(0, 31);
  std::string longer = std::string(kToken) + "0";
  std::string upper = kToken;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& t : {almost, prefix, longer, upper, std::string()}) {
    CAPTURE(t);
    auto r = a.call("POST", "/proxy/v1/reload", t.c_str());
    CHECK(r.status == 401);
    CHECK(errorCode(r) == "unauthorized");
    CHECK(r.body.find("wrong") != std::string::npos);
  }
  CHECK(a.reloads == 0);
}

TEST_CASE("the token header name is case-insensitive") {
  Admin a;
  AdminRequest req;
  req.method = "GET";
  req.path = "/proxy/v1/metrics";
  req.headers.add("x-proxy-token", kToken);
  CHECK(a.routes.handle(req).status == 200);
  req.headers.clear();
  req.headers.add("X-PROXY-TOKEN", kToken);
  CHECK(a.routes.handle(req).status == 200);
}

TEST_CASE("with no admin token configured every request but /ready is refused") {
  Admin a;
  a.runtime.admin_token.clear();
  CHECK(a.call("GET", "/proxy/v1/metrics", "").status == 401);
  CHECK(a.call("GET", "/proxy/v1/metrics", nullptr).status == 401);
  CHECK(a.call("GET", "/proxy/v1/metrics", kToken).status == 401);
}

// ---- metrics -----------------------------------------------------------------------------

void fillMetrics(Runtime& rt) {
  auto& s0 = rt.metrics.shard(0);
  auto& s1 = rt.metrics.shard(1);
  s0.calls = 3;
  s1.calls = 1;
  s0.blocked = 2;
  s1.modified = 1;
  s0.errors = 1;
  s1.rate_limited = 1;
  s0.bypassed = 5;
  s1.tunnels_active = 2;
  s0.connections_accepted = 10;
  s1.connections_accepted = 1;
  s0.connections_refused = 3;
  s1.bad_requests = 4;
  s0.header_timeouts = 6;
  s1.upstream_connects = 7;
  s0.upstream_reused = 8;
  s1.tunnel_bytes = 123456;
  // Four latencies: 1 ms, 1 ms, 1.5 s, 2 s.
  s0.recordLatency(std::chrono::microseconds(1000));
  s0.recordLatency(std::chrono::microseconds(1000));
  s1.recordLatency(std::chrono::microseconds(1500000));
  s1.recordLatency(std::chrono::microseconds(2000000));
  rt.open_connections = 9;
}

TEST_CASE("/proxy/v1/metrics returns the totals with the keys SPEC §7 lists") {
  Admin a;
  fillMetrics(a.runtime);
  auto r = a.call("GET", "/proxy/v1/metrics");
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  auto d = parseJson(r.body);
  for (const char* k : {"calls", "blocked", "modified", "errors", "rate_limited", "bypassed",
                        "latency_ms", "throughput_rps", "uptime_s"}) {
    CAPTURE(k);
    CHECK(d.HasMember(k));
  }
  CHECK(d["calls"].GetUint64() == 4);
  CHECK(d["blocked"].GetUint64() == 2);
  CHECK(d["modified"].GetUint64() == 1);
  CHECK(d["errors"].GetUint64() == 1);
  CHECK(d["rate_limited"].GetUint64() == 1);
  CHECK(d["bypassed"].GetUint64() == 5);
  const auto& lat = d["latency_ms"];
  CHECK(lat["total"].GetDouble() == doctest::Approx(3502.0));
  CHECK(lat["avg"].GetDouble() == doctest::Approx(3502.0 / 4).epsilon(0.001));
  CHECK(lat["p50"].GetDouble() == doctest::Approx(1.0));     // the 1 ms bucket
  CHECK(lat["p99"].GetDouble() == doctest::Approx(2000.0));  // the 2 s bucket
  CHECK(d["throughput_rps"].GetDouble() >= 0.0);
  CHECK(d["uptime_s"].GetDouble() >= 0.0);
  CHECK(d["connections"]["open"].GetUint64() == 9);
  CHECK(d["connections"]["accepted"].GetUint64() == 11);
  CHECK(d["connections"]["refused"].GetUint64() == 3);
  CHECK(d["tunnels"]["active"].GetUint64() == 2);
  CHECK(d["tunnels"]["bytes"].GetUint64() == 123456);
  CHECK(d["upstream"]["connects"].GetUint64() == 7);
  CHECK(d["upstream"]["reused"].GetUint64() == 8);
}

TEST_CASE("/proxy/v1/metrics with no traffic reports zeros, not NaN") {
  Admin a;
  auto r = a.call("GET", "/proxy/v1/metrics");
  REQUIRE(r.status == 200);
  auto d = parseJson(r.body);
  CHECK(d["calls"].GetUint64() == 0);
  CHECK(d["latency_ms"]["avg"].GetDouble() == 0.0);
  CHECK(d["latency_ms"]["p50"].GetDouble() == 0.0);
  CHECK(d["latency_ms"]["p99"].GetDouble() == 0.0);
}

TEST_CASE("the metrics routes answer only GET") {
  Admin a;
  for (const char* p : {"/proxy/v1/metrics", "/metrics", "/config_dump"}) {
    CAPTURE(p);
    auto r = a.call("POST", p);
    CHECK(r.status == 405);
    CHECK(errorCode(r) == "method_not_allowed");
  }
}

// The samples of a Prometheus text body: name{labels} -> value.
std::map<std::string, std::string> samples(const std::string& body) {
  std::map<std::string, std::string> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.rfind(' ');
    REQUIRE(sp != std::string::npos);
    out[line.substr(0, sp)] = line.substr(sp + 1);
  }
  return out;
}

TEST_CASE("/metrics is Prometheus text with the aiwarden_ prefix and every counter") {
  Admin a;
  fillMetrics(a.runtime);
  auto r = a.call("GET", "/metrics");
  CHECK(r.status == 200);
  CHECK(r.content_type.rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(r.body.back() == '\n');

  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    CAPTURE(line);
    REQUIRE_FALSE(line.empty());
    if (line[0] == '#') {
      CHECK((line.rfind("# HELP aiwarden_", 0) == 0 || line.rfind("# TYPE aiwarden_", 0) == 0));
    } else {
      CHECK(line.rfind("aiwarden_", 0) == 0);
    }
  }

  auto s = samples(r.body);
  const std::map<std::string, std::string> want = {
      {"aiwarden_calls_total", "4"},
      {"aiwarden_blocked_total", "2"},
      {"aiwarden_modified_total", "1"},
      {"aiwarden_errors_total", "1"},
      {"aiwarden_rate_limited_total", "1"},
      {"aiwarden_bypassed_total", "5"},
      {"aiwarden_connections_accepted_total", "11"},
      {"aiwarden_connections_refused_total", "3"},
      {"aiwarden_bad_requests_total", "4"},
      {"aiwarden_header_timeouts_total", "6"},
      {"aiwarden_upstream_connects_total", "7"},
      {"aiwarden_upstream_reused_total", "8"},
      {"aiwarden_tunnel_bytes_total", "123456"},
      {"aiwarden_connections_open", "9"},
      {"aiwarden_tunnels_active", "2"},
  };
  for (const auto& [name, value] : want) {
    CAPTURE(name);
    REQUIRE(s.count(name) == 1);
    CHECK(s[name] == value);
    const bool counter = name.ends_with("_total");
    CHECK(r.body.find("# TYPE " + name + (counter ? " counter\n" : " gauge\n")) !=
          std::string::npos);
    CHECK(r.body.find("# HELP " + name + " ") != std::string::npos);
  }
}

TEST_CASE("/metrics has a cumulative latency histogram in seconds") {
  Admin a;
  fillMetrics(a.runtime);
  auto r = a.call("GET", "/metrics");
  CHECK(r.body.find("# TYPE aiwarden_latency_seconds histogram\n") != std::string::npos);
  auto s = samples(r.body);
  // One bucket per bound plus +Inf, cumulative: never decreasing.
  std::vector<uint64_t> counts;
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("aiwarden_latency_seconds_bucket{", 0) == 0) {
      counts.push_back(std::stoull(line.substr(line.rfind(' ') + 1)));
    }
  }
  CHECK(counts.size() == kLatencyBucketsUs.size() + 1);
  for (size_t i = 1; i < counts.size(); ++i) CHECK(counts[i] >= counts[i - 1]);
  // 1 ms, 1 ms, 1.5 s, 2 s recorded.
  CHECK(s["aiwarden_latency_seconds_bucket{le=\"0.0001\"}"] == "0");
  CHECK(s["aiwarden_latency_seconds_bucket{le=\"0.0005\"}"] == "0");
  CHECK(s["aiwarden_latency_seconds_bucket{le=\"0.001\"}"] == "2");
  CHECK(s["aiwarden_latency_seconds_bucket{le=\"0.002\"}"] == "2");
  CHECK(s["aiwarden_latency_seconds_bucket{le=\"1\"}"] == "2");
  CHECK(s["aiwarden_latency_seconds_bucket{le=\"2\"}"] == "4");
  CHECK(s["aiwarden_latency_seconds_bucket{le=\"300\"}"] == "4");
  CHECK(s["aiwarden_latency_seconds_bucket{le=\"+Inf\"}"] == "4");
  CHECK(s["aiwarden_latency_seconds_count"] == "4");
  CHECK(std::strtod(s["aiwarden_latency_seconds_sum"].c_str(), nullptr) ==
        doctest::Approx(3.502));
}

TEST_CASE("/metrics counts a latency above the last bound only in +Inf") {
  Admin a;
  a.runtime.metrics.shard(0).recordLatency(std::chrono::seconds(301));
  auto s = samples(a.call("GET", "/metrics").body);
  CHECK(s["aiwarden_latency_seconds_bucket{le=\"300\"}"] == "0");
  CHECK(s["aiwarden_latency_seconds_bucket{le=\"+Inf\"}"] == "1");
  CHECK(s["aiwarden_latency_seconds_count"] == "1");
}

// ---- /config_dump ------------------------------------------------------------------------

TEST_CASE("/config_dump returns the effective configuration with the token masked") {
  Admin a;
  auto r = a.call("GET", "/config_dump");
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  auto d = parseJson(r.body);
  CHECK(std::string(d["source"].GetString()) == "/etc/aiwarden/aiwarden.yaml");
  REQUIRE(d["listeners"].IsArray());
  REQUIRE(d["listeners"].Size() == 1);
  CHECK(std::string(d["listeners"][0]["name"].GetString()) == "system");
  CHECK(std::string(d["upstream"]["resolve"]["api.openai.com:443"].GetString()) ==
        "127.0.0.1:9443");
  CHECK(std::string(d["admin"]["token"].GetString()) == "***");
  CHECK(r.body.find("s3cret-config-token") == std::string::npos);
  CHECK(r.body.find(kToken) == std::string::npos);
}

TEST_CASE("/config_dump shows the snapshot published last") {
  Admin a;
  auto s = std::make_shared<Snapshot>(*makeSnapshot(5, ""));
  s->config.listeners[0].name = "after-reload";
  a.runtime.snapshot.set(s);
  auto d = parseJson(a.call("GET", "/config_dump").body);
  CHECK(std::string(d["listeners"][0]["name"].GetString()) == "after-reload");
}

// ---- /proxy/v1/reload --------------------------------------------------------------------

TEST_CASE("POST /proxy/v1/reload reloads and reports the new generation") {
  Admin a;
  auto r = a.call("POST", "/proxy/v1/reload");
  CHECK(r.status == 200);
  CHECK(a.reloads == 1);
  auto d = parseJson(r.body);
  CHECK(std::string(d["status"].GetString()) == "reloaded");
  CHECK(d["generation"].GetUint64() == 2);
  r = a.call("POST", "/proxy/v1/reload");
  CHECK(parseJson(r.body)["generation"].GetUint64() == 3);
}

TEST_CASE("a failed reload answers 400 with the loader's errors and keeps the snapshot") {
  Admin a;
  const std::string errors =
      "/etc/aiwarden/aiwarden.yaml:3: unknown key \"listners\" (did you mean \"listeners\"?)\n"
      "/etc/aiwarden/filters.d/20-x.yaml:1: bad\tvalue \\ here";
  a.next_reload = makeError("config", errors);
  auto before = a.runtime.snapshot.get();
  log::setLevel(LogLevel::Error);  // the route logs the refusal as a warning; keep output quiet
  auto r = a.call("POST", "/proxy/v1/reload");
  log::setLevel(LogLevel::Info);
  CHECK(r.status == 400);
  CHECK(a.reloads == 1);
  auto d = parseJson(r.body);
  CHECK(std::string(d["error"].GetString()) == "invalid_configuration");
  CHECK(std::string(d["message"].GetString()) == errors);
  CHECK(a.runtime.snapshot.get() == before);
}

TEST_CASE("/proxy/v1/reload answers only POST") {
  Admin a;
  for (const char* m : {"GET", "PUT", "HEAD"}) {
    CAPTURE(m);
    auto r = a.call(m, "/proxy/v1/reload");
    CHECK(r.status == 405);
    CHECK(errorCode(r) == "method_not_allowed");
  }
  CHECK(a.reloads == 0);
}

TEST_CASE("an unknown route answers 404 with a JSON error naming it") {
  Admin a;
  auto r = a.call("GET", "/proxy/v1/nope");
  CHECK(r.status == 404);
  CHECK(errorCode(r) == "not_found");
  CHECK(std::string(parseJson(r.body)["message"].GetString()).find("/proxy/v1/nope") !=
        std::string::npos);
  // Close relatives of real routes are not aliases.
  CHECK(a.call("GET", "/proxy/v1/metrics/").status == 404);
  CHECK(a.call("GET", "/METRICS").status == 404);
}

// ---- helpers -----------------------------------------------------------------------------

TEST_CASE("constantTimeEquals compares whole secrets") {
  CHECK(constantTimeEquals("", ""));
  CHECK(constantTimeEquals("abc", "abc"));
  CHECK_FALSE(constantTimeEquals("abc", "abd"));
  CHECK_FALSE(constantTimeEquals("abc", "xbc"));
  CHECK_FALSE(constantTimeEquals("abc", "ab"));
  CHECK_FALSE(constantTimeEquals("ab", "abc"));
  CHECK_FALSE(constantTimeEquals("", "a"));
  CHECK_FALSE(constantTimeEquals("abc", "ABC"));
  // Bytes past a NUL count too, and so do bytes with the high bit set.
  CHECK_FALSE(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
  CHECK(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  CHECK_FALSE(constantTimeEquals("\x80", "\x00"));
  CHECK(constantTimeEquals("\xff\xfe", "\xff\xfe"));
}

TEST_CASE("jsonError builds an object that round-trips any code and message") {
  const std::string message = "line 1\nline \"2\"\t\\ \x01 end \xc3\xa9";
  auto d = parseJson(jsonError("bad_thing", message));
  REQUIRE(d.IsObject());
  CHECK(d.MemberCount() == 2);
  CHECK(std::string(d["error"].GetString()) == "bad_thing");
  CHECK(std::string(d["message"].GetString(), d["message"].GetStringLength()) == message);
  auto e = parseJson(jsonError("", ""));
  CHECK(std::string(e["error"].GetString()).empty());
}

}  // namespace
}  // namespace aiw
