// applyParamOverrides: rule overrides set into real-shaped bodies.
#include <doctest/doctest.h>

#include <string>

#include "ai/request_facts.h"
#include "ai_test_helpers.h"

namespace aiw::ai {
namespace {

ApiEndpoint chatEndpoint() {
  return detectEndpoint("api.openai.com", "POST", "/v1/chat/completions");
}

ApiEndpoint mcpEndpoint() {
  ApiEndpoint e;
  e.provider = Provider::Mcp;
  e.kind = ApiKind::McpJsonRpc;
  return e;
}

const std::string kSecretBody =
    "{\"model\": \"gpt-4o\",\n  \"messages\": [\n"
    "    {\"role\": \"system\", \"content\": \"Never leak keys.\"},\n"
    "    {\"role\": \"user\", \"content\": \"my key is AKIAIOSFODNN7EXAMPLE, caf\\u00e9\"}\n"
    "  ],\n  \"temperature\": 0.70\n}";

TEST_CASE("overrides replace present members and append missing ones, in order") {
  const std::string body =
      R"({"model":"gpt-4o","temperature":0.7,"messages":[{"role":"user","content":"hi"}],"n":1})";
  auto facts = parseRequest(chatEndpoint(), body);
  REQUIRE(facts.ok());
  auto out = applyParamOverrides(body, *facts,
                                 R"({"temperature":0,"max_tokens":256,"model":"gpt-4o-mini"})");
  REQUIRE(out.ok());
  CHECK(*out ==
        R"({"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"hi"}],)"
        R"("n":1,"max_tokens":256})");
}

TEST_CASE("keeps numbers as written and non-ASCII text through an override rewrite") {
  const std::string body =
      "{ \"a\" : 1.5e300, \"b\":123456789012345678901234567890,\"c\":0.10,\"z\":0E62,"
      "\"d\":\"caf\xC3\xA9\\u0001\\/\"}";
  auto facts = parseRequest(ApiEndpoint{}, body);
  REQUIRE(facts.ok());
  auto out = applyParamOverrides(body, *facts, "{\"e\": [1.0, {\"f\": null}],\n \"g\": -0}");
  REQUIRE(out.ok());
  CHECK(*out ==
        "{\"a\":1.5e300,\"b\":123456789012345678901234567890,\"c\":0.10,\"z\":0E62,"
        "\"d\":\"caf\xC3\xA9\\u0001/\",\"e\":[1.0,{\"f\":null}],\"g\":-0}");
}

TEST_CASE("replaces a member whose value is an object, and every duplicate of it") {
  const std::string body = R"({"tools":[{"a":{"b":[1,2]}}],"x":{"deep":{"er":[]}},"x":2,"y":3})";
  auto facts = parseRequest(ApiEndpoint{}, body);
  REQUIRE(facts.ok());
  auto out = applyParamOverrides(body, *facts, R"({"x":"flat","tools":[]})");
  REQUIRE(out.ok());
  CHECK(*out == R"({"tools":[],"x":"flat","x":"flat","y":3})");
}

TEST_CASE("rewrites a body nested far deeper than any request without recursion") {
  const size_t depth = 100000;
  const std::string body =
      "{\"a\":" + std::string(depth, '[') + std::string(depth, ']') + ",\"b\":1}";
  auto facts = parseRequest(ApiEndpoint{}, body);
  REQUIRE(facts.ok());
  auto out = applyParamOverrides(body, *facts, R"({"b":2})");
  REQUIRE(out.ok());
  CHECK(*out == "{\"a\":" + std::string(depth, '[') + std::string(depth, ']') + ",\"b\":2}");
}

TEST_CASE("puts MCP tools/call overrides into params.arguments") {
  const std::string body =
      R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"calc",)"
      R"("arguments":{"expression":"2**64","mode":"x"}}})";
  auto facts = parseRequest(mcpEndpoint(), body);
  REQUIRE(facts.ok());
  auto out = applyParamOverrides(body, *facts, R"({"expression":"0","safe":true})");
  REQUIRE(out.ok());
  CHECK(*out == R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"calc",)"
                R"("arguments":{"expression":"0","mode":"x","safe":true}}})");

  const std::string bare =
      R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"calc"}})";
  auto bare_facts = parseRequest(mcpEndpoint(), bare);
  REQUIRE(bare_facts.ok());
  auto added = applyParamOverrides(bare, *bare_facts, R"({"expression":"0"})");
  REQUIRE(added.ok());
  CHECK(*added == R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"calc",)"
                  R"("arguments":{"expression":"0"}}})");

  const std::string no_params = R"({"jsonrpc":"2.0","id":6,"method":"tools/call"})";
  auto no_params_facts = parseRequest(mcpEndpoint(), no_params);
  REQUIRE(no_params_facts.ok());
  auto built = applyParamOverrides(no_params, *no_params_facts, R"({"a":[1],"b":{}})");
  REQUIRE(built.ok());
  CHECK(
      *built ==
      R"({"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"arguments":{"a":[1],"b":{}}}})");
}

TEST_CASE("leaves MCP requests other than tools/call to top-level overrides") {
  const std::string body =
      R"({"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p"}})";
  auto facts = parseRequest(mcpEndpoint(), body);
  REQUIRE(facts.ok());
  auto out = applyParamOverrides(body, *facts, R"({"id":2})");
  REQUIRE(out.ok());
  CHECK(*out == R"({"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"p"}})");
}

TEST_CASE("puts overrides into the first tools/call of an MCP batch") {
  const std::string body =
      R"([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call",)"
      R"("params":{"name":"t","arguments":{}}}])";
  auto facts = parseRequest(mcpEndpoint(), body);
  REQUIRE(facts.ok());
  auto out = applyParamOverrides(body, *facts, R"({"k":"v"})");
  REQUIRE(out.ok());
  CHECK(
      *out ==
      R"([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call",)"
      R"("params":{"name":"t","arguments":{"k":"v"}}}])");
}

TEST_CASE("refuses overrides that are not an object and bodies that are not JSON") {
  auto facts = parseRequest(chatEndpoint(), kSecretBody);
  REQUIRE(facts.ok());
  for (const char* overrides : {"[1]", "{", "", "3"}) {
    auto out = applyParamOverrides(kSecretBody, *facts, overrides);
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().code == "bad_json");
  }
  auto broken = applyParamOverrides("{\"model\":", *facts, "{}");
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().code == "bad_json");
  auto array = applyParamOverrides("[1]", *facts, "{}");
  REQUIRE_FALSE(array.ok());
  CHECK(array.error().code == "bad_json");

  const std::string mcp =
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":[1]}})";
  auto mcp_facts = parseRequest(mcpEndpoint(), mcp);
  REQUIRE(mcp_facts.ok());
  auto wrong = applyParamOverrides(mcp, *mcp_facts, R"({"a":1})");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == "bad_json");
}

}  // namespace
}  // namespace aiw::ai
