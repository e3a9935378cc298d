// Where a request to a sidecar listener goes (SPEC §4, sidecar listener): a tool, an MCP
// server, an LLM route, or the admin API mounted with `admin_routes: true`. Pure: the session
// (forward_sidecar.cc) does the I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/result.h"
#include "http/message_utils.h"

namespace aiw {

enum class SidecarKind : uint8_t {
  None,   // not a sidecar exchange (forward listener)
  Admin,  // the admin API (AdminRoutes authorizes it itself)
  Tool,   // POST /proxy/v1/tools/{tool}: an envelope in, the tool's answer wrapped out
  Mcp,    // MCP streamable HTTP, forwarded; tools/call goes through the rules
  Route,  // path prefix → upstream base URL, forwarded as it is
};

std::string_view sidecarKindName(SidecarKind kind);  // "tool", "mcp", "route", "admin", ""

// Tool, Mcp, Route: the request goes to `upstream` (the configured URL) joined with `rest` (the
// part of the path after a route's prefix) and `query` (the client's). Views into the listener's
// configuration and the request target, valid as long as both.
struct SidecarTarget {
  SidecarKind kind = SidecarKind::None;
  std::string tool;  // Tool: the tool's name
  std::string_view upstream;
  std::string_view rest;
  std::string_view query;
  // The absolute URL the request goes to, as text.
  std::string upstreamUrl() const;
};

// True for the admin paths a sidecar with `admin_routes: true` hands to the admin API.
bool isAdminPath(std::string_view path);

// Routes `method` + `target` (origin-form, query included) on `listener`. In order: tool calls
// (/proxy/v1/tools/), the admin API (when mounted), MCP paths (exact), then the longest route
// prefix that ends at a path segment boundary. Errors: "not_found" (404: no such tool, path or
// route), "method_not_allowed" (405: a tool call that is not a POST).
Result<SidecarTarget> routeSidecarRequest(const ListenerConfig& listener, std::string_view method,
                                          std::string_view target);
// The target's views would outlive a temporary listener.
Result<SidecarTarget> routeSidecarRequest(ListenerConfig&& listener, std::string_view method,
                                          std::string_view target) = delete;

// target.upstreamUrl() parsed, exactly as parseAbsoluteUrl would (its errors included), without
// parsing the configured part again on every request: each thread keeps the configured URLs it
// met parsed, and the request's own part is checked as parseAbsoluteUrl checks it.
Result<AbsoluteUrl> sidecarUpstreamUrl(const SidecarTarget& target);

}  // namespace aiw
