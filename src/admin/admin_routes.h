// The admin API's routes (SPEC §7), independent of sockets: a parsed request in, a response
// out. The AdminServer (admin_server.h) does the HTTP/1 I/O around it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/headers.h"
#include "core/result.h"
#include "core/runtime.h"

namespace aiw {

struct AdminRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // after '?', may be empty
  Headers headers;
  std::string body;
};

struct AdminResponse {
  uint16_t status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers extra_headers;
};

class AdminRoutes {
 public:
  using ReloadFn = std::function<Result<void>()>;
  AdminRoutes(Runtime& runtime, ReloadFn reload) : runtime_(runtime), reload_(std::move(reload)) {}

  AdminResponse handle(const AdminRequest& req);

 private:
  bool authorized(const AdminRequest& req) const;
  AdminResponse metricsJson() const;
  AdminResponse metricsPrometheus() const;

  Runtime& runtime_;
  ReloadFn reload_;
};

// Compares two secrets in time that depends only on their lengths, never on where they differ.
bool constantTimeEquals(std::string_view a, std::string_view b);

// {"error": code, "message": message}
std::string jsonError(std::string_view code, std::string_view message);

}  // namespace aiw
