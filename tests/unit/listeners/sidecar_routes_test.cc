// routeSidecarRequest: where an agent's request to the sidecar goes (SPEC §4).
#include "listeners/sidecar_routes.h"

#include <doctest/doctest.h>

namespace aiw {
namespace {

ListenerConfig makeAgentListener() {
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

// The routing results point into the listener's configuration, as they do into a running one.
const ListenerConfig& agentListener() {
  static const ListenerConfig listener = makeAgentListener();
  return listener;
}

TEST_CASE("a tool call goes to the tool's configured URL") {
  auto t = routeSidecarRequest(agentListener(), "POST", "/proxy/v1/tools/python_exec");
  REQUIRE(t.ok());
  CHECK(t->kind == SidecarKind::Tool);
  CHECK(t->tool == "python_exec");
  CHECK(t->upstreamUrl() == "http://127.0.0.1:7001/run");
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
  CHECK(t->upstreamUrl() == "http://127.0.0.1:7002/mcp?x=1");
  CHECK_FALSE(routeSidecarRequest(agentListener(), "POST", "/mcp/extra").ok());
}

TEST_CASE("routes join the rest of the path to the base URL, longest prefix first") {
  auto chat = routeSidecarRequest(agentListener(), "POST", "/openai/v1/chat/completions?a=b");
  REQUIRE(chat.ok());
  CHECK(chat->kind == SidecarKind::Route);
  CHECK(chat->upstreamUrl() == "https://api.openai.com/v1/chat/completions?a=b");
  auto emb = routeSidecarRequest(agentListener(), "POST", "/openai/v1/embeddings");
  REQUIRE(emb.ok());
  CHECK(emb->upstreamUrl() == "http://127.0.0.1:9000/emb");
  auto claude = routeSidecarRequest(agentListener(), "POST", "/anthropic/v1/messages");
  REQUIRE(claude.ok());
  CHECK(claude->upstreamUrl() == "https://api.anthropic.com/v1/messages");
}

TEST_CASE("a prefix matches whole path segments only") {
  CHECK_FALSE(routeSidecarRequest(agentListener(), "GET", "/anthropicx/v1").ok());
  auto exact = routeSidecarRequest(agentListener(), "GET", "/anthropic");
  REQUIRE(exact.ok());
  CHECK(exact->upstreamUrl() == "https://api.anthropic.com");
}

TEST_CASE("the admin API is routed only when the listener mounts it") {
  ListenerConfig l = makeAgentListener();
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

TEST_CASE("the tool's URL ignores the client's query") {
  auto t = routeSidecarRequest(agentListener(), "POST", "/proxy/v1/tools/search?debug=1");
  REQUIRE(t.ok());
  CHECK(t->upstreamUrl() == "https://tools.local/s");
}

void checkSameAsParsingTheText(const SidecarTarget& target) {
  const std::string text = target.upstreamUrl();
  INFO("url: " << text);
  auto fast = sidecarUpstreamUrl(target);
  auto slow = parseAbsoluteUrl(text);
  REQUIRE(fast.ok() == slow.ok());
  if (!slow.ok()) {
    CHECK(fast.error().code == slow.error().code);
    CHECK(fast.error().message == slow.error().message);
    return;
  }
  CHECK(fast->scheme == slow->scheme);
  CHECK(fast->authority.host == slow->authority.host);
  CHECK(fast->authority.port == slow->authority.port);
  CHECK(fast->port_explicit == slow->port_explicit);
  CHECK(fast->path == slow->path);
  CHECK(fast->hostHeader() == slow->hostHeader());
}

TEST_CASE("the parsed upstream URL is the one parseAbsoluteUrl finds in the joined text") {
  // Every configured base shape (path or none, trailing slash or not, a query of its own, a
  // port, IP literals, a bad one) against every client rest and query, including bytes a URL
  // may not carry: each parsed twice, once through the per-thread cache.
  const char* bases[] = {"https://h",           "https://h/",          "http://h:8080",
                         "https://h/v1",        "https://h/v1/",       "https://h?k=1",
                         "https://h/v1?k=1",    "HTTPS://H.Example/",   "http://127.0.0.1:9000/emb",
                         "https://[::1]:8443/x", "ftp://h/",            "https://",
                         "https://u@h/",        "https://h:0/"};
  const char* rests[] = {"", "/", "/x", "x", "/x/y", "x/", "/x y", "/x#f", "/\x01", "/\xc3\xa9",
                         "//x"};
  const char* queries[] = {"", "a=b", "a=b&c", "a b", "a#b"};
  for (int round = 0; round < 2; ++round) {
    for (const char* base : bases) {
      for (const char* rest : rests) {
        for (const char* query : queries) {
          SidecarTarget t;
          t.kind = SidecarKind::Route;
          t.upstream = base;
          t.rest = rest;
          t.query = query;
          checkSameAsParsingTheText(t);
        }
      }
    }
  }
}

TEST_CASE("routed requests are parsed as their joined text would be") {
  for (const char* target : {"/openai/v1/chat/completions?a=b", "/openai/", "/anthropic",
                             "/anthropic/v1/messages?x", "/mcp?x=1", "/proxy/v1/tools/search",
                             "/openai/v1/embeddings/x?y=z"}) {
    INFO(target);
    auto t = routeSidecarRequest(agentListener(), "POST", target);
    REQUIRE(t.ok());
    checkSameAsParsingTheText(*t);
  }
}

}  // namespace
}  // namespace aiw
