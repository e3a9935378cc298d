// routeSidecarRequest: where an agent's request to the sidecar goes (SPEC §4).
#include "listeners/sidecar_routes.h"

#include <doctest/doctest.h>

namespace aiw {
namespace {

ListenerConfig agentListener() {
  ListenerConfig l;
  l.name = "agent";
  l.type = ListenerType::Sidecar;
  l.tools = {{"python_exec", "http://127.0.0.1:7001/run"}, {"search", "https://tools.local/s"}};
  l.mcp = {McpRoute{"/mcp", "http://127.0.0.1:7002/mcp"}};
  l.routes = {PrefixRoute{"/openai/", "https://api.openai.com/"},
              PrefixRoute{"/openai/v1/embeddings", "http://127.0.0.1:9000/emb"},
              PrefixRoute{"/anthropic", "https://api.anthropic.com"}};
  return l;
}

TEST_CASE("a tool call goes to the tool's configured URL") {
  auto t = routeSidecarRequest(agentListener(), "POST", "/proxy/v1/tools/python_exec");
  REQUIRE(t.ok());
  CHECK(t->kind == SidecarKind::Tool);
  CHECK(t->tool == "python_exec");
  CHECK(t->upstream_url == "http://127.0.0.1:7001/run");
}

TEST_CASE("an unknown tool is a 404 and a tool called with GET a 405") {
  auto unknown = routeSidecarRequest(agentListener(), "POST", "/proxy/v1/tools/rm_rf");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == "not_found");
  CHECK(unknown.error().message.find("'rm_rf'") != std::string::npos);
  auto get = routeSidecarRequest(agentListener(), "GET", "/proxy/v1/tools/python_exec");
  REQUIRE_FALSE(get.ok());
  CHECK(get.error().code == "method_not_allowed");
  auto nested = routeSidecarRequest(agentListener(), "POST", "/proxy/v1/tools/python_exec/x");
  CHECK_FALSE(nested.ok());
}

TEST_CASE("an MCP path matches exactly and keeps the query") {
  auto t = routeSidecarRequest(agentListener(), "POST", "/mcp?x=1");
  REQUIRE(t.ok());
  CHECK(t->kind == SidecarKind::Mcp);
  CHECK(t->upstream_url == "http://127.0.0.1:7002/mcp?x=1");
  CHECK_FALSE(routeSidecarRequest(agentListener(), "POST", "/mcp/extra").ok());
}

TEST_CASE("routes join the rest of the path to the base URL, longest prefix first") {
  auto chat = routeSidecarRequest(agentListener(), "POST", "/openai/v1/chat/completions?a=b");
  REQUIRE(chat.ok());
  CHECK(chat->kind == SidecarKind::Route);
  CHECK(chat->upstream_url == "https://api.openai.com/v1/chat/completions?a=b");
  auto emb = routeSidecarRequest(agentListener(), "POST", "/openai/v1/embeddings");
  REQUIRE(emb.ok());
  CHECK(emb->upstream_url == "http://127.0.0.1:9000/emb");
  auto claude = routeSidecarRequest(agentListener(), "POST", "/anthropic/v1/messages");
  REQUIRE(claude.ok());
  CHECK(claude->upstream_url == "https://api.anthropic.com/v1/messages");
}

TEST_CASE("a prefix matches whole path segments only") {
  CHECK_FALSE(routeSidecarRequest(agentListener(), "GET", "/anthropicx/v1").ok());
  auto exact = routeSidecarRequest(agentListener(), "GET", "/anthropic");
  REQUIRE(exact.ok());
  CHECK(exact->upstream_url == "https://api.anthropic.com");
}

TEST_CASE("the admin API is routed only when the listener mounts it") {
  ListenerConfig l = agentListener();
  auto off = routeSidecarRequest(l, "GET", "/proxy/v1/sessions");
  REQUIRE_FALSE(off.ok());
  CHECK(off.error().code == "not_found");
  l.admin_routes = true;
  for (const char* path : {"/proxy/v1/sessions", "/proxy/v1/rules", "/metrics", "/ready",
                           "/ca.pem", "/proxy.pac"}) {
    INFO(path);
    auto on = routeSidecarRequest(l, "GET", path);
    REQUIRE(on.ok());
    CHECK(on->kind == SidecarKind::Admin);
  }
  // Tool calls stay tool calls under /proxy/v1/.
  auto tool = routeSidecarRequest(l, "POST", "/proxy/v1/tools/search");
  REQUIRE(tool.ok());
  CHECK(tool->kind == SidecarKind::Tool);
}

TEST_CASE("anything else is a 404 that names the path") {
  auto t = routeSidecarRequest(agentListener(), "GET", "/nowhere?q=1");
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().code == "not_found");
  CHECK(t.error().message.find("'/nowhere'") != std::string::npos);
}

}  // namespace
}  // namespace aiw
