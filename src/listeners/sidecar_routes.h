// Where a request to a sidecar listener goes (SPEC §4, sidecar listener): a tool, an MCP
// server, an LLM route, or the admin API mounted with `admin_routes: true`. Pure: the session
// (forward_sidecar.cc) does the I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/result.h"

namespace aiw {

enum class SidecarKind : uint8_t {
  None,   // not a sidecar exchange (forward listener)
  Admin,  // the admin API (AdminRoutes authorizes it itself)
  Tool,   // POST /proxy/v1/tools/{tool}: an envelope in, the tool's answer wrapped out
  Mcp,    // MCP streamable HTTP, forwarded; tools/call goes through the rules
  Route,  // path prefix → upstream base URL, forwarded as it is
};

std::string_view sidecarKindName(SidecarKind kind);  // "tool", "mcp", "route", "admin", ""

struct SidecarTarget {
  SidecarKind kind = SidecarKind::None;
  std::string tool;          // Tool: the tool's name
  std::string upstream_url;  // Tool, Mcp, Route: the absolute URL the request goes to
};

// True for the admin paths a sidecar with `admin_routes: true` hands to the admin API.
bool isAdminPath(std::string_view path);

// Routes `method` + `target` (origin-form, query included) on `listener`. In order: tool calls
// (/proxy/v1/tools/), the admin API (when mounted), MCP paths (exact), then the longest route
// prefix that ends at a path segment boundary. Errors: "not_found" (404: no such tool, path or
// route), "method_not_allowed" (405: a tool call that is not a POST).
Result<SidecarTarget> routeSidecarRequest(const ListenerConfig& listener, std::string_view method,
                                          std::string_view target);

}  // namespace aiw
