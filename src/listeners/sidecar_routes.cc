#include "listeners/sidecar_routes.h"

#include <utility>
#include <vector>

namespace aiw {

namespace {

constexpr std::string_view kToolsPrefix = "/proxy/v1/tools/";

// "https://api.openai.com/" + "/v1/chat" → "https://api.openai.com/v1/chat": exactly one slash
// where the base and the rest meet. The same rule joins a parsed base's path and the rest.
void appendJoined(std::string& out, std::string_view rest) {
  const bool base_slash = !out.empty() && out.back() == '/';
  const bool rest_slash = !rest.empty() && rest.front() == '/';
  if (base_slash && rest_slash) {
    rest.remove_prefix(1);
  } else if (!base_slash && !rest_slash && !rest.empty() && rest.front() != '?') {
    out += '/';
  }
  out += rest;
}

// The query of the client's target goes on to the upstream URL (which may have one already).
void appendQuery(std::string& out, std::string_view query) {
  if (query.empty()) return;
  out += out.find('?') == std::string::npos ? '?' : '&';
  out += query;
}

// A byte parseAbsoluteUrl refuses anywhere in a URL.
bool refusedInUrl(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#') return true;
  }
  return false;
}

// The configured URLs this thread has parsed. Keyed by their text, so a reloaded configuration
// can never be served an old parse; bounded, as a configuration can be replaced many times.
const AbsoluteUrl* parsedBase(std::string_view url) {
  thread_local std::vector<std::pair<std::string, AbsoluteUrl>> cache;
  for (const auto& [text, parsed] : cache) {
    if (text == url) return &parsed;
  }
  auto parsed = parseAbsoluteUrl(url);
  if (!parsed.ok()) return nullptr;
  if (cache.size() >= 64) cache.clear();
  cache.emplace_back(std::string(url), std::move(parsed.value()));
  return &cache.back().second;
}

// A prefix matches whole path segments: "/openai" covers "/openai" and "/openai/x", never
// "/openaix".
bool prefixMatches(std::string_view prefix, std::string_view path) {
  if (!path.starts_with(prefix)) return false;
  if (path.size() == prefix.size() || prefix.ends_with('/')) return true;
  return path[prefix.size()] == '/';
}

}  // namespace

std::string_view sidecarKindName(SidecarKind kind) {
  switch (kind) {
    case SidecarKind::Admin:
      return "admin";
    case SidecarKind::Tool:
      return "tool";
    case SidecarKind::Mcp:
      return "mcp";
    case SidecarKind::Route:
      return "route";
    case SidecarKind::None:
      break;
  }
  return "";
}

bool isAdminPath(std::string_view path) {
  return path == "/ready" || path == "/ca.pem" || path == "/ca.crl" || path == "/proxy.pac" || path == "/metrics" ||
         path == "/proxy/v1" || path.starts_with("/proxy/v1/");
}

Result<SidecarTarget> routeSidecarRequest(const ListenerConfig& listener, std::string_view method,
                                          std::string_view target) {
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  SidecarTarget out;

  if (path.starts_with(kToolsPrefix)) {
    const std::string_view name = path.substr(kToolsPrefix.size());
    auto tool = listener.tools.find(std::string(name));
    if (tool == listener.tools.end()) {
      return makeError("not_found", "no tool '" + std::string(name) + "' on listener '" +
                                        listener.name + "'");
    }
    if (method != "POST") {
      return makeError("method_not_allowed",
                       "a tool is called with POST, not " + std::string(method));
    }
    out.kind = SidecarKind::Tool;
    out.tool = tool->first;
    out.upstream = tool->second;  // the client's query is not the tool's
    return out;
  }
  if (listener.admin_routes && isAdminPath(path)) {
    out.kind = SidecarKind::Admin;
    return out;
  }
  for (const McpRoute& mcp : listener.mcp) {
    if (path == mcp.path) {
      out.kind = SidecarKind::Mcp;
      out.upstream = mcp.upstream;
      out.query = query;
      return out;
    }
  }
  const PrefixRoute* best = nullptr;
  for (const PrefixRoute& route : listener.routes) {
    if (prefixMatches(route.prefix, path) &&
        (best == nullptr || route.prefix.size() > best->prefix.size())) {
      best = &route;
    }
  }
  if (best != nullptr) {
    out.kind = SidecarKind::Route;
    out.upstream = best->upstream;
    out.rest = path.substr(best->prefix.size());
    out.query = query;
    return out;
  }
  return makeError("not_found", "no tool, MCP server or route for '" + std::string(path) +
                                    "' on listener '" + listener.name + "'");
}

std::string SidecarTarget::upstreamUrl() const {
  std::string out(upstream);
  appendJoined(out, rest);
  appendQuery(out, query);
  return out;
}

Result<AbsoluteUrl> sidecarUpstreamUrl(const SidecarTarget& target) {
  const AbsoluteUrl* base = parsedBase(target.upstream);
  // A base that does not parse, or a byte the parser refuses: the parser says so, in its words.
  if (base == nullptr || refusedInUrl(target.rest) || refusedInUrl(target.query)) {
    return parseAbsoluteUrl(target.upstreamUrl());
  }
  // The parsed base's path is what followed its authority ("/" when nothing did), so joining
  // the rest to it gives the path the parser finds in the joined text; a '?' cannot be in the
  // authority, so the query's separator is chosen the same way too.
  AbsoluteUrl url = *base;
  appendJoined(url.path, target.rest);
  appendQuery(url.path, target.query);
  return url;
}

}  // namespace aiw
