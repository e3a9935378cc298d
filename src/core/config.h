// Config: the typed form of the YAML configuration of SPEC.md §3, produced by the loader
// (config_loader.h). Plain data: immutable once published inside a Snapshot.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace YAML {
class Node;
}

namespace aiw {

// "host:port" as written in the configuration; host may be a name, an IPv4 literal or a
// bracketed IPv6 literal ("[::1]:8080", stored without brackets).
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string toString() const;  // brackets IPv6 literals again
  bool operator==(const HostPort&) const = default;
};

// Parses "host:port": a non-empty host (a DNS name, an IPv4 literal or a bracketed IPv6
// literal) and a port 1-65535. Host names are lower-cased (DNS is case-insensitive, and
// `upstream.resolve` lookups compare them). The error message names what is wrong, for
// FILE:LINE reports.
Result<HostPort> parseHostPort(std::string_view text);

enum class ListenerType { Forward, Sidecar };

struct McpRoute {
  std::string path;
  std::string upstream;  // URL
};

struct PrefixRoute {
  std::string prefix;
  std::string upstream;  // base URL
};

struct ListenerConfig {
  std::string name;
  ListenerType type = ListenerType::Forward;
  HostPort address;
  bool admin_routes = false;
  std::map<std::string, std::string> tools;  // tool name -> upstream URL
  std::vector<McpRoute> mcp;
  std::vector<PrefixRoute> routes;
};

struct AdminConfig {
  HostPort address{"127.0.0.1", 9901};
  // Empty means: generate one into STATE_DIR/admin-token at start-up (SPEC §1).
  std::string token;
};

struct UpstreamConfig {
  std::string ca_file = "system";
  // "host:port" (lower-case host) -> fixed address, like curl --resolve.
  std::map<std::string, HostPort> resolve;
  uint32_t connect_timeout_ms = 5000;
  uint32_t idle_timeout_ms = 60000;
  uint32_t request_timeout_ms = 300000;
};

struct InterceptionConfig {
  std::string ca_cert;  // empty: STATE_DIR/ca/ca.pem
  std::string ca_key;   // empty: STATE_DIR/ca/ca.key
  uint32_t leaf_validity_days = 7;
  bool strip_alt_svc_h3 = true;
};

struct LimitsConfig {
  uint32_t max_header_bytes = 65536;
  uint64_t max_inspect_body_bytes = 16777216;
  uint32_t max_connections = 20000;
  uint32_t header_timeout_ms = 10000;
  // Longest silence from a client in the middle of its request body (nginx client_body_timeout).
  uint32_t body_timeout_ms = 60000;
  // Longest time a client may take none of the response bytes waiting for it (nginx
  // send_timeout); a client that keeps reading is never cut, however long the response runs.
  uint32_t send_timeout_ms = 60000;
};

struct SessionsConfig {
  uint32_t max_sessions = 10000;
  uint32_t history = 100;
};

enum class FailMode { Closed, Open };

// One stage of the filter chain, as written in a filters.d file or an inline `filters:` entry.
// The filter's own `config` stays YAML: only its factory (filters/registry.h) knows its schema.
struct FilterSpec {
  std::string filter;  // registry name
  bool enabled = true;
  std::shared_ptr<const YAML::Node> config;  // never null; a Null node when absent
  std::string file;  // where it was written, for FILE:LINE errors
  int line = 0;      // 1-based line of the entry (or of its `filter:` key)
  int config_line = 0;  // 1-based line of `config:` (0 when absent)
};

struct Config {
  uint32_t workers = 0;  // 0 = auto (number of CPUs)
  std::string state_dir;  // resolved at start-up when empty (SPEC §2)
  uint32_t drain_timeout_ms = 10000;
  AdminConfig admin;
  std::vector<ListenerConfig> listeners;
  UpstreamConfig upstream;
  InterceptionConfig interception;
  LimitsConfig limits;
  SessionsConfig sessions;
  FailMode fail_mode = FailMode::Closed;
  // Absolute path of the filters.d directory that was read, or empty when the chain was inline
  // or embedded.
  std::string filters_dir;
  std::vector<FilterSpec> filters;  // in chain order
  std::string source;  // the file it was read from, or "<embedded>"
  // Not read from the file: the ruleset that replaces the rule_evaluator's configured rules
  // (STATE_DIR/rules.json, written by PUT /proxy/v1/rules), as JSON; empty: the configured ones.
  std::string rules_override_json;
};

}  // namespace aiw
