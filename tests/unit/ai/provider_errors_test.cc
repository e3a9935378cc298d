// blockedBody and blockedStreamEvent: refusals in each provider's own error shape.
#include "ai/provider_errors.h"

#include <doctest/doctest.h>

#include <string>

#include "ai_test_helpers.h"

namespace aiw::ai {
namespace {

using testing::isValidJson;

TEST_CASE("shapes a refusal as each provider's error body") {
  CHECK(blockedBody(Provider::OpenAi, "high risk", "block python") ==
        R"({"error":{"message":"high risk","type":"policy_violation","code":"blocked",)"
        R"("param":null}})");
  CHECK(blockedBody(Provider::Anthropic, "high risk", "block python") ==
        R"({"type":"error","error":{"type":"permission_error","message":"high risk"}})");
  CHECK(blockedBody(Provider::Gemini, "high risk", "block python") ==
        R"({"error":{"code":403,"message":"high risk","status":"PERMISSION_DENIED"}})");
  CHECK(blockedBody(Provider::Mcp, "high risk", "block python", "7") ==
        R"({"jsonrpc":"2.0","id":7,"error":{"code":-32001,"message":"high risk",)"
        R"("data":{"rule":"block python"}}})");
  CHECK(blockedBody(Provider::None, "high risk", "block python") ==
        R"({"error":"blocked","reason":"high risk","rule":"block python"})");
}

TEST_CASE("writes null for an empty rule and an absent JSON-RPC id") {
  CHECK(blockedBody(Provider::None, "no", "") ==
        R"({"error":"blocked","reason":"no","rule":null})");
  CHECK(
      blockedBody(Provider::Mcp, "no", "") ==
      R"({"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"no","data":{"rule":null}}})");
  CHECK(blockedBody(Provider::Mcp, "no", "r", R"("req-1")") ==
        R"({"jsonrpc":"2.0","id":"req-1","error":{"code":-32001,"message":"no",)"
        R"("data":{"rule":"r"}}})");
  // An id that is not a JSON scalar would break the reply: it becomes null.
  CHECK(blockedBody(Provider::Mcp, "no", "r", R"(1,"x":2)").find(R"("id":null)") !=
        std::string::npos);
  CHECK(blockedBody(Provider::Mcp, "no", "r", "{}").find(R"("id":null)") != std::string::npos);
}

TEST_CASE("escapes reason and rule so the body stays JSON") {
  const std::string reason = "say \"no\"\\\n\ttab \x01 caf\xC3\xA9";
  for (Provider p :
       {Provider::OpenAi, Provider::Anthropic, Provider::Gemini, Provider::Mcp, Provider::None}) {
    const std::string body = blockedBody(p, reason, "rule \"q\"\n", "1");
    INFO(body);
    CHECK(isValidJson(body));
    CHECK(body.find('\n') == std::string::npos);
  }
  CHECK(blockedBody(Provider::OpenAi, reason, "").find(R"(say \"no\"\\\n\ttab \u0001 caf)") !=
        std::string::npos);
}

TEST_CASE("ends a cut stream with each provider's error event, blank line included") {
  CHECK(blockedStreamEvent(Provider::OpenAi, "stop", "r") ==
        "data: " + blockedBody(Provider::OpenAi, "stop", "r") + "\n\n");
  CHECK(blockedStreamEvent(Provider::Anthropic, "stop", "r") ==
        "event: error\ndata: "
        R"({"type":"error","error":{"type":"permission_error","message":"stop"}})"
        "\n\n");
  CHECK(blockedStreamEvent(Provider::Gemini, "stop", "r") ==
        "data: " + blockedBody(Provider::Gemini, "stop", "r") + "\n\n");
  CHECK(blockedStreamEvent(Provider::Mcp, "stop", "r", "3") ==
        "event: error\ndata: " + blockedBody(Provider::Mcp, "stop", "r", "3") + "\n\n");
  CHECK(blockedStreamEvent(Provider::None, "multi\nline", "") ==
        "event: error\ndata: " + blockedBody(Provider::None, "multi\nline", "") + "\n\n");
}

}  // namespace
}  // namespace aiw::ai
