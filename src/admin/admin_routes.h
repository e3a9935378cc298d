// The admin API's routes (SPEC §7), independent of sockets: a parsed request in, a response
// out. The AdminServer (admin_server.h) does the HTTP/1 I/O around it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/headers.h"
#include "core/result.h"
#include "core/runtime.h"
#include "filters/domain_classifier/domain_classifier.h"

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
  // Publishes (and persists) new domain_classifier lists, already validated; errors with code
  // "no_domain_classifier" are a 404, others a 500. Injected by the server (patterns_store.h)
  // like the reload; empty: PUT /proxy/v1/patterns answers 503.
  using PatternsFn = std::function<Result<void>(const DomainClassifierConfig&)>;
  // How the chain a rules change rebuilds starts: Carried — each stage takes over the counters
  // and rate-limit buckets of the one it replaces (an update); Fresh — as at start-up (POST
  // /proxy/v1/reset).
  enum class ChainState : uint8_t { Carried, Fresh };
  // Replaces the active rules with a validated ruleset (JSON), or with nullopt restores the
  // configured ones (rules_store.h); errors with code "config" are a 409, others a 500. Empty:
  // PUT /proxy/v1/rules and the rules part of POST /proxy/v1/reset answer 503.
  using RulesFn = std::function<Result<void>(std::optional<std::string>, ChainState)>;
  AdminRoutes(Runtime& runtime, ReloadFn reload, PatternsFn patterns = {}, RulesFn rules = {})
      : runtime_(runtime),
        reload_(std::move(reload)),
        patterns_(std::move(patterns)),
        rules_(std::move(rules)) {}

  AdminResponse handle(const AdminRequest& req);

 private:
  bool authorized(const AdminRequest& req) const;
  AdminResponse metricsJson() const;
  AdminResponse metricsPrometheus() const;
  AdminResponse patterns(const AdminRequest& req);
  AdminResponse rules(const AdminRequest& req);
  AdminResponse filters() const;
  AdminResponse events(const AdminRequest& req) const;
  AdminResponse sessionList(const AdminRequest& req) const;
  AdminResponse session(std::string_view encoded_id) const;
  void appendFilterMetrics(std::string& out) const;
  AdminResponse reset();
  AdminResponse proxyPac(const AdminRequest& req) const;

  Runtime& runtime_;
  ReloadFn reload_;
  PatternsFn patterns_;
  RulesFn rules_;
};

// Compares two secrets in time that depends only on their lengths, never on where they differ.
bool constantTimeEquals(std::string_view a, std::string_view b);

// {"error": code, "message": message}
std::string jsonError(std::string_view code, std::string_view message);

}  // namespace aiw
