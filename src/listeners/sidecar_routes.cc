#include "listeners/sidecar_routes.h"

namespace aiw {

namespace {

constexpr std::string_view kToolsPrefix = "/proxy/v1/tools/";

// "https://api.openai.com/" + "/v1/chat" → "https://api.openai.com/v1/chat": exactly one slash
// where the base and the rest meet.
std::string joinUrl(std::string_view base, std::string_view rest) {
  std::string out(base);
  const bool base_slash = !out.empty() && out.back() == '/';
  const bool rest_slash = !rest.empty() && rest.front() == '/';
  if (base_slash && rest_slash) {
    rest.remove_prefix(1);
  } else if (!base_slash && !rest_slash && !rest.empty() && rest.front() != '?') {
    out += '/';
  }
  out += rest;
  return out;
}

// The query of the client's target goes on to the upstream URL (which may have one already).
std::string withQuery(std::string url, std::string_view query) {
  if (query.empty()) return url;
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += query;
  return url;
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
    out.upstream_url = tool->second;
    return out;
  }
  if (listener.admin_routes && isAdminPath(path)) {
    out.kind = SidecarKind::Admin;
    return out;
  }
  for (const McpRoute& mcp : listener.mcp) {
    if (path == mcp.path) {
      out.kind = SidecarKind::Mcp;
      out.upstream_url = withQuery(mcp.upstream, query);
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
    out.upstream_url = withQuery(joinUrl(best->upstream, path.substr(best->prefix.size())), query);
    return out;
  }
  return makeError("not_found", "no tool, MCP server or route for '" + std::string(path) +
                                    "' on listener '" + listener.name + "'");
}

}  // namespace aiw
