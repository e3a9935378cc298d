// The reporter filter built from YAML through the real registry: its config
// errors, and the events a guarded exchange yields through the chain.
#include "filters/reporter/reporter_filter.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include "filters/builtin_filters.h"
#include "filters/chain.h"
#include "probe_filter.h"
#include "reporter_test_util.h"

namespace aiw {
namespace {

using test::parseJson;
using test::readLines;
using test::ScratchDir;
using test::specsFromYaml;

constexpr char kKey[] = "AKIAIOSFODNN7EXAMPLE";

Result<std::shared_ptr<const FilterChain>> build(const std::string &yaml,
                                                 std::shared_ptr<Reporter> reporter = nullptr) {
  static const FilterRegistry registry = builtinFilterRegistry();
  ChainBuildState inputs;
  inputs.reporter = std::move(reporter);
  return buildFilterChain(specsFromYaml(yaml, "90-reporter.yaml"), registry, std::move(inputs));
}

std::string errorsOf(const std::string &yaml) {
  auto r = build(yaml);
  return r.ok() ? std::string() : r.error().message;
}

TEST_CASE("reporter config: defaults and every key are accepted") {
  auto r = build("- filter: reporter\n");
  REQUIRE(r.ok());
  auto settings = reporterSettingsOf(*r.value());
  CHECK(settings.jsonl.empty());
  CHECK(settings.queue == 65536);
  CHECK(settings.ring == 1000);
  auto full = build(
      "- filter: reporter\n"
      "  config:\n"
      "    sinks: [{type: jsonl, path: e.jsonl, max_bytes: 2048, keep: 3}]\n"
      "    queue: 10\n"
      "    ring: 20\n"
      "    capture_bodies: false\n");
  REQUIRE(full.ok());
  auto s = reporterSettingsOf(*full.value());
  REQUIRE(s.jsonl.size() == 1);
  CHECK(s.jsonl[0].path == "e.jsonl");
  CHECK(s.jsonl[0].max_bytes == 2048);
  CHECK(s.jsonl[0].keep == 3);
  CHECK(s.queue == 10);
  CHECK(s.ring == 20);
}

TEST_CASE(
    "reporter config: an unknown sink type is located and names the "
    "known ones") {
  std::string e = errorsOf(
      "- filter: reporter\n"
      "  config:\n"
      "    sinks:\n"
      "      - type: jsnl\n");
  CHECK(e.find("90-reporter.yaml:4:") == 0);
  CHECK(e.find("unknown sink type 'jsnl'") != std::string::npos);
  CHECK(e.find("known sink types: jsonl, http") != std::string::npos);
  CHECK(e.find("did you mean 'jsonl'") != std::string::npos);
}

TEST_CASE("reporter config: a url of another scheme names the two it takes") {
  std::string e = errorsOf(
      "- filter: reporter\n"
      "  config:\n"
      "    sinks: [{type: http, url: 'ws://127.0.0.1:1/'}]\n");
  CHECK(e.find("90-reporter.yaml:3:") == 0);
  CHECK(e.find("must start with http:// or https://") != std::string::npos);
}

TEST_CASE("reporter config: wrong values and unknown keys are each reported") {
  std::string e = errorsOf(
      "- filter: reporter\n"
      "  config:\n"
      "    sinks: [{type: jsonl, max_bytes: 10, kep: 2}]\n"
      "    queue: 0\n"
      "    ring: lots\n"
      "    colour: red\n");
  CHECK(e.find("'kep'") != std::string::npos);
  CHECK(e.find("max_bytes") != std::string::npos);
  CHECK(e.find("90-reporter.yaml:4:") != std::string::npos);  // queue
  CHECK(e.find("90-reporter.yaml:5:") != std::string::npos);  // ring
  CHECK(e.find("'colour'") != std::string::npos);
  CHECK(errorsOf("- filter: reporter\n  config: {sinks: [jsonl]}\n").find("must be a map") !=
        std::string::npos);
  CHECK(errorsOf("- filter: reporter\n  config: {sinks: [{path: x}]}\n").find("type") !=
        std::string::npos);
}

TEST_CASE(
    "reporter config: two sinks on one file, and two reporter stages, "
    "are refused") {
  CHECK(errorsOf("- filter: reporter\n"
                 "  config: {sinks: [{type: jsonl, path: a}, {type: jsonl, "
                 "path: a}]}\n")
            .find("two jsonl sinks write a") != std::string::npos);
  CHECK(errorsOf("- filter: reporter\n- filter: reporter\n").find("only one reporter stage") !=
        std::string::npos);
}

TEST_CASE("without a Reporter (check, lone builds) the stage creates no filters") {
  auto r = build("- filter: reporter\n");
  REQUIRE(r.ok());
  CHECK(r.value()->entry(0).factory().createStreamFilter() == nullptr);
  CHECK(r.value()->entry(0).factory().createConnectionFilter() == nullptr);
}

TEST_CASE(
    "a blocked exchange yields an exchange and a security event, without "
    "the secret") {
  ScratchDir dir;
  auto reporter = std::make_shared<Reporter>(dir.path());
  auto chain = build(
      "- filter: pattern_matcher\n"
      "- filter: rule_evaluator\n"
      "  config:\n"
      "    rules:\n"
      "      - {name: no secrets, action: block, match_detector: ['secret.*'], "
      "block_reason: no credentials}\n"
      "- filter: reporter\n"
      "  config: {sinks: [{type: jsonl}]}\n",
      reporter);
  REQUIRE_MESSAGE(chain.ok(), (chain.ok() ? std::string() : chain.error().message));
  reporter->configure(reporterSettingsOf(*chain.value()));

  ConnectionInfo conn;
  conn.listener = "system";
  conn.client = "127.0.0.1:1";
  conn.intercept = true;
  StreamInfo info;
  info.connection = &conn;
  info.inspect = true;
  info.method = "POST";
  info.host = "api.openai.com";
  info.authority = "api.openai.com:443";
  info.path = "/v1/chat/completions";
  {
    StreamFilterChain run(chain.value(), 1 << 20, FailMode::Closed);
    Headers h;
    h.add("Content-Type", "application/json");
    REQUIRE(run.requestHeaders(info, h, false).action == Action::NeedMoreData);
    Buffer body;
    body.append(std::string(R"({"model":"gpt-4o","messages":[{"role":"user","content":"key )") +
                kKey + "\"}]}");
    Verdict v = run.requestBody(info, body, true);
    REQUIRE(v.action == Action::Block);
    info.verdict = v;
    info.blocked_by = "rule_evaluator";
    info.status = 403;
    run.complete(info);
  }
  reporter->flush();
  auto lines = readLines(dir.file("events.jsonl"));
  REQUIRE(lines.size() == 2);
  for (const auto &l : lines) CHECK(l.find(kKey) == std::string::npos);
  auto ex = parseJson(lines[0]);
  auto sec = parseJson(lines[1]);
  CHECK(std::string(ex["kind"].GetString()) == "exchange");
  CHECK(std::string(ex["action"].GetString()) == "block");
  CHECK(std::string(ex["rule"].GetString()) == "no secrets");
  CHECK(std::string(sec["kind"].GetString()) == "security");
  CHECK(std::string(sec["exchange_id"].GetString()) == ex["id"].GetString());
  CHECK(std::string(sec["rule"].GetString()) == "no secrets");
  CHECK(std::string(sec["reason"].GetString()) == "no credentials");
  REQUIRE(sec["detections"].Size() == 1);
  CHECK(std::string(sec["detections"][0]["detector"].GetString()) == "secret.aws_access_key");
  CHECK(reporter->recent(10).size() == 2);
}

TEST_CASE(
    "a blind tunnel's close yields one tunnel event; an intercepted "
    "connection's none") {
  ScratchDir dir;
  auto reporter = std::make_shared<Reporter>(dir.path());
  auto chain = build("- filter: reporter\n", reporter);
  REQUIRE(chain.ok());
  for (bool bypassed : {true, false}) {
    ConnectionFilterChain conn_chain(chain.value(), 1024);
    ConnectionInfo conn;
    conn.target_host = bypassed ? "cdn.example" : "api.openai.com";
    conn.target_port = 443;
    CHECK(conn_chain.run(conn, {}, true).action == Action::Continue);
    conn.bypassed = bypassed;
    conn.tunnel_bytes_up = 10;
    conn_chain.close(conn);
  }
  reporter->flush();
  auto recent = reporter->recent(10);
  REQUIRE(recent.size() == 1);
  auto d = parseJson(recent[0]);
  CHECK(std::string(d["kind"].GetString()) == "tunnel");
  CHECK(std::string(d["host"].GetString()) == "cdn.example");
}

}  // namespace
}  // namespace aiw
