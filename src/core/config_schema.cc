// The schema of the main configuration document (SPEC.md §3): which keys exist at each level,
// their types and ranges, and the checks that span several keys (unique listener names and
// addresses, sidecar-only keys).
#include <algorithm>
#include <array>
#include <cctype>
#include <map>

#include "core/config_reader.h"

namespace aiw::config_detail {

namespace {

constexpr std::array<std::string_view, 12> kTopKeys = {
    "workers",      "state_dir", "drain_timeout_ms", "admin",     "listeners",   "upstream",
    "interception", "limits",    "sessions",         "fail_mode", "filters_dir", "filters"};
constexpr std::array<std::string_view, 2> kAdminKeys = {"address", "token"};
constexpr std::array<std::string_view, 7> kListenerKeys = {
    "name", "type", "address", "admin_routes", "tools", "mcp", "routes"};
constexpr std::array<std::string_view, 2> kMcpKeys = {"path", "upstream"};
constexpr std::array<std::string_view, 2> kRouteKeys = {"prefix", "upstream"};
constexpr std::array<std::string_view, 5> kUpstreamKeys = {
    "ca_file", "resolve", "connect_timeout_ms", "idle_timeout_ms", "request_timeout_ms"};
constexpr std::array<std::string_view, 4> kInterceptionKeys = {
    "ca_cert", "ca_key", "leaf_validity_days", "strip_alt_svc_h3"};
constexpr std::array<std::string_view, 6> kLimitsKeys = {
    "max_header_bytes", "max_inspect_body_bytes", "max_connections", "header_timeout_ms",
    "body_timeout_ms",  "send_timeout_ms"};
constexpr std::array<std::string_view, 2> kSessionsKeys = {"max_sessions", "history"};
constexpr std::array<std::string_view, 3> kFilterKeys = {"filter", "enabled", "config"};

// More event loops than this is a typo, not a machine.
constexpr uint64_t kMaxWorkers = 1024;
// Apple platforms refuse leaf certificates valid longer than 825 days even under a
// user-installed root; anything longer would break macOS and iOS clients.
constexpr uint64_t kMaxLeafValidityDays = 825;

// Names end up in events, logs, metric labels and URL paths (tools): keep them plain.
bool isPlainName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

void parseWorkers(const YAML::Node& v, int line, NodeReader& r, uint32_t& out) {
  const bool plain = v.IsScalar() && isPlainScalar(v);
  const std::string s = v.IsScalar() ? v.Scalar() : std::string();
  if (plain && s == "auto") {
    out = 0;
    return;
  }
  bool positive = plain && !s.empty() && s.find_first_not_of('0') != std::string::npos &&
                  std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!positive) {
    std::string got = v.IsScalar() ? "'" + s + "'" : v.IsNull() ? "nothing" : "a map or list";
    r.error(NodeReader::lineOf(v, line), "workers",
            "expected 'auto' or a positive number, got " + got);
    return;
  }
  uint64_t n = 0;
  if (r.readUnsigned(v, line, "workers", 1, kMaxWorkers, n)) out = static_cast<uint32_t>(n);
}

void parseFailMode(const YAML::Node& v, int line, NodeReader& r, FailMode& out) {
  std::string s;
  if (!r.readString(v, line, "fail_mode", s)) return;
  if (s == "closed") {
    out = FailMode::Closed;
  } else if (s == "open") {
    out = FailMode::Open;
  } else {
    r.error(NodeReader::lineOf(v, line), "fail_mode", "expected closed or open, got '" + s + "'");
  }
}

void parseAdmin(const YAML::Node& v, int line, NodeReader& r, AdminConfig& out, int& address_line) {
  r.forEachKey(v, line, "admin", kAdminKeys, [&](const std::string& key, int kl, auto& val) {
    std::string path = NodeReader::child("admin", key);
    if (key == "address" && r.readHostPort(val, kl, path, out.address)) address_line = kl;
    if (key == "token") r.readString(val, kl, path, out.token);
  });
}

// Where a listener's keys were written, for the checks made once all listeners are read.
struct ListenerMarks {
  int name_line = 0;
  int address_line = 0;
  bool type_written = false;
  bool has_type = false;  // written and valid
  bool has_address = false;
  std::vector<std::pair<std::string, int>> sidecar_keys;  // key, line
};

void parseTools(const YAML::Node& v, int line, const std::string& path, NodeReader& r,
                std::map<std::string, std::string>& out) {
  r.forEachKey(v, line, path, {}, [&](const std::string& tool, int kl, const YAML::Node& val) {
    std::string tool_path = NodeReader::child(path, tool);
    if (!isPlainName(tool)) {
      r.error(kl, path, "bad tool name '" + tool + "' (letters, digits, '_', '-' and '.' only)");
      return;
    }
    std::string url;
    if (r.readUrl(val, kl, tool_path, url)) out[tool] = url;
  });
}

// `mcp` (key "path") and `routes` (key "prefix"): lists of {<key>, upstream}.
template <typename Route, size_t N>
void parseRoutes(const YAML::Node& v, int line, const std::string& path, NodeReader& r,
                 const std::array<std::string_view, N>& keys, std::string Route::*where,
                 std::vector<Route>& out) {
  const std::string where_key(keys[0]);
  std::map<std::string, int> seen;
  r.forEachItem(v, line, path, [&](size_t i, int item_line, const YAML::Node& item) {
    std::string item_path = NodeReader::item(path, i);
    Route route;
    bool has_where = false;
    bool has_upstream = false;
    bool ok = true;
    int where_line = item_line;
    r.forEachKey(item, item_line, item_path, keys, [&](const std::string& key, int kl, auto& val) {
      std::string key_path = NodeReader::child(item_path, key);
      if (key == where_key) {
        has_where = true;
        where_line = NodeReader::lineOf(val, kl);
        if (!r.readString(val, kl, key_path, route.*where)) {
          ok = false;
        } else if (!(route.*where).starts_with("/")) {
          r.error(where_line, key_path, "must start with '/', got '" + route.*where + "'");
          ok = false;
        }
      } else {
        has_upstream = true;
        ok = r.readUrl(val, kl, key_path, route.upstream) && ok;
      }
    });
    if (!item.IsMap()) return;  // already reported
    if (!has_where) r.error(item_line, item_path, "missing '" + where_key + "'");
    if (!has_upstream) r.error(item_line, item_path, "missing 'upstream'");
    if (!ok || !has_where || !has_upstream) return;
    auto [first, inserted] = seen.emplace(route.*where, where_line);
    if (!inserted) {
      r.error(where_line, item_path,
              "duplicate " + where_key + " '" + route.*where + "' (first at line " +
                  std::to_string(first->second) + ")");
      return;
    }
    out.push_back(std::move(route));
  });
}

void parseListener(const YAML::Node& v, int line, const std::string& path, NodeReader& r,
                   ListenerConfig& out, ListenerMarks& marks) {
  r.forEachKey(v, line, path, kListenerKeys, [&](const std::string& key, int kl, auto& val) {
    std::string key_path = NodeReader::child(path, key);
    if (key == "name") {
      marks.name_line = kl;
      if (!r.readString(val, kl, key_path, out.name)) return;
      if (out.name.empty()) {
        r.error(kl, key_path, "must not be empty");
      } else if (!isPlainName(out.name)) {
        r.error(NodeReader::lineOf(val, kl), key_path,
                "bad listener name '" + out.name + "' (letters, digits, '_', '-' and '.' only)");
        out.name.clear();
      }
    } else if (key == "type") {
      marks.type_written = true;
      std::string type;
      if (!r.readString(val, kl, key_path, type)) return;
      if (type == "forward" || type == "sidecar") {
        out.type = type == "forward" ? ListenerType::Forward : ListenerType::Sidecar;
        marks.has_type = true;
      } else {
        r.error(NodeReader::lineOf(val, kl), key_path,
                "expected forward or sidecar, got '" + type + "'");
      }
    } else if (key == "address") {
      marks.address_line = kl;
      marks.has_address = r.readHostPort(val, kl, key_path, out.address);
    } else {
      marks.sidecar_keys.emplace_back(key, kl);
      if (key == "admin_routes") r.readBool(val, kl, key_path, out.admin_routes);
      if (key == "tools") parseTools(val, kl, key_path, r, out.tools);
      if (key == "mcp") parseRoutes(val, kl, key_path, r, kMcpKeys, &McpRoute::path, out.mcp);
      if (key == "routes") {
        parseRoutes(val, kl, key_path, r, kRouteKeys, &PrefixRoute::prefix, out.routes);
      }
    }
  });
  if (!v.IsMap()) return;  // already reported
  if (marks.name_line == 0) r.error(line, path, "missing 'name'");
  if (!marks.type_written) r.error(line, path, "missing 'type' (forward or sidecar)");
  if (marks.address_line == 0) r.error(line, path, "missing 'address'");
  if (marks.has_type && out.type == ListenerType::Forward) {
    for (const auto& [key, key_line] : marks.sidecar_keys) {
      r.error(key_line, path, "'" + key + "' is only for sidecar listeners");
    }
  }
}

// `admin_line`: where the admin address is written, 0 when it is the default.
void parseListeners(const YAML::Node& v, int line, NodeReader& r, Config& out, int admin_line) {
  std::map<std::string, int> names;              // name -> line
  std::map<std::string, std::string> addresses;  // address -> who has it
  addresses[out.admin.address.toString()] =
      admin_line > 0 ? "the admin listener (line " + std::to_string(admin_line) + ")"
                     : "the admin listener (default address)";
  r.forEachItem(v, line, "listeners", [&](size_t i, int item_line, const YAML::Node& item) {
    std::string path = NodeReader::item("listeners", i);
    ListenerConfig listener;
    ListenerMarks marks;
    parseListener(item, item_line, path, r, listener, marks);
    if (!listener.name.empty()) {
      auto [first, inserted] = names.emplace(listener.name, marks.name_line);
      if (!inserted) {
        r.error(marks.name_line, path,
                "duplicate listener name '" + listener.name + "' (first at line " +
                    std::to_string(first->second) + ")");
      }
    }
    if (marks.has_address) {
      std::string address = listener.address.toString();
      std::string who =
          "listener '" + listener.name + "' (line " + std::to_string(marks.address_line) + ")";
      auto [first, inserted] = addresses.emplace(address, who);
      if (!inserted) {
        r.error(marks.address_line, path,
                "address " + address + " is already used by " + first->second);
      }
    }
    out.listeners.push_back(std::move(listener));
  });
}

void parseResolve(const YAML::Node& v, int line, const std::string& path, NodeReader& r,
                  std::map<std::string, HostPort>& out) {
  r.forEachKey(v, line, path, {}, [&](const std::string& from, int kl, const YAML::Node& to) {
    auto parsed = parseHostPort(from);
    if (!parsed) {
      r.error(kl, path, parsed.error().message);
      return;
    }
    HostPort target;
    if (!r.readHostPort(to, kl, NodeReader::child(path, from), target)) return;
    // Keys are compared with the host lower-cased: "API.openai.com:443" is a duplicate.
    if (!out.emplace(parsed->toString(), target).second) {
      r.error(kl, path, "duplicate entry for " + parsed->toString());
    }
  });
}

void parseUpstream(const YAML::Node& v, int line, NodeReader& r, UpstreamConfig& out) {
  auto visit = [&](const std::string& key, int kl, const YAML::Node& val) {
    std::string path = NodeReader::child("upstream", key);
    if (key == "ca_file") {
      if (r.readString(val, kl, path, out.ca_file) && out.ca_file.empty()) {
        r.error(kl, path, "must not be empty (use 'system' or a PEM file)");
      }
    } else if (key == "resolve") {
      parseResolve(val, kl, path, r, out.resolve);
    } else if (key == "connect_timeout_ms") {
      r.readUnsigned(val, kl, path, 1, out.connect_timeout_ms);
    } else if (key == "idle_timeout_ms") {
      r.readUnsigned(val, kl, path, 1, out.idle_timeout_ms);
    } else if (key == "request_timeout_ms") {
      r.readUnsigned(val, kl, path, 1, out.request_timeout_ms);
    }
  };
  r.forEachKey(v, line, "upstream", kUpstreamKeys, visit);
}

void parseInterception(const YAML::Node& v, int line, NodeReader& r, InterceptionConfig& out) {
  auto visit = [&](const std::string& key, int kl, const YAML::Node& val) {
    std::string path = NodeReader::child("interception", key);
    if (key == "ca_cert") r.readString(val, kl, path, out.ca_cert);
    if (key == "ca_key") r.readString(val, kl, path, out.ca_key);
    if (key == "strip_alt_svc_h3") r.readBool(val, kl, path, out.strip_alt_svc_h3);
    if (key == "leaf_validity_days") {
      uint64_t days = 0;
      if (r.readUnsigned(val, kl, path, 1, kMaxLeafValidityDays, days)) {
        out.leaf_validity_days = static_cast<uint32_t>(days);
      }
    }
  };
  r.forEachKey(v, line, "interception", kInterceptionKeys, visit);
}

void parseLimits(const YAML::Node& v, int line, NodeReader& r, LimitsConfig& out) {
  auto visit = [&](const std::string& key, int kl, const YAML::Node& val) {
    std::string path = NodeReader::child("limits", key);
    if (key == "max_header_bytes") r.readUnsigned(val, kl, path, 1, out.max_header_bytes);
    if (key == "max_inspect_body_bytes") {
      r.readUnsigned(val, kl, path, 0, out.max_inspect_body_bytes);
    }
    if (key == "max_connections") r.readUnsigned(val, kl, path, 1, out.max_connections);
    if (key == "header_timeout_ms") r.readUnsigned(val, kl, path, 1, out.header_timeout_ms);
    if (key == "body_timeout_ms") r.readUnsigned(val, kl, path, 1, out.body_timeout_ms);
    if (key == "send_timeout_ms") r.readUnsigned(val, kl, path, 1, out.send_timeout_ms);
  };
  r.forEachKey(v, line, "limits", kLimitsKeys, visit);
}

void parseSessions(const YAML::Node& v, int line, NodeReader& r, SessionsConfig& out) {
  auto visit = [&](const std::string& key, int kl, const YAML::Node& val) {
    std::string path = NodeReader::child("sessions", key);
    if (key == "max_sessions") r.readUnsigned(val, kl, path, 0, out.max_sessions);
    if (key == "history") r.readUnsigned(val, kl, path, 0, out.history);
  };
  r.forEachKey(v, line, "sessions", kSessionsKeys, visit);
}

}  // namespace

void parseConfigDocument(const YAML::Node& root, NodeReader& r, Config& out, ChainDecl& chain) {
  if (!root.IsNull() && !root.IsMap()) {
    r.error(NodeReader::lineOf(root, 1), "", "the configuration must be a map of keys");
    return;
  }
  // Listeners are checked against the admin address wherever `admin` is written.
  YAML::Node listeners;
  int listeners_line = 0;
  int admin_line = 0;
  r.forEachKey(root, 1, "", kTopKeys, [&](const std::string& key, int kl, const YAML::Node& v) {
    if (key == "workers") {
      parseWorkers(v, kl, r, out.workers);
    } else if (key == "state_dir") {
      r.readString(v, kl, key, out.state_dir);
    } else if (key == "drain_timeout_ms") {
      r.readUnsigned(v, kl, key, 0, out.drain_timeout_ms);
    } else if (key == "admin") {
      parseAdmin(v, kl, r, out.admin, admin_line);
    } else if (key == "listeners") {
      listeners = v;
      listeners_line = kl;
    } else if (key == "upstream") {
      parseUpstream(v, kl, r, out.upstream);
    } else if (key == "interception") {
      parseInterception(v, kl, r, out.interception);
    } else if (key == "limits") {
      parseLimits(v, kl, r, out.limits);
    } else if (key == "sessions") {
      parseSessions(v, kl, r, out.sessions);
    } else if (key == "fail_mode") {
      parseFailMode(v, kl, r, out.fail_mode);
    } else if (key == "filters_dir") {
      chain.has_filters_dir = true;
      chain.filters_dir_line = kl;
      chain.filters_dir_ok = r.readString(v, kl, key, chain.filters_dir);
      // `filters_dir:` left empty means the conventional name.
      if (chain.filters_dir.empty()) chain.filters_dir = "filters.d";
    } else if (key == "filters") {
      chain.has_filters = true;
      chain.filters = v;
      chain.filters_line = kl;
    }
  });
  parseListeners(listeners, listeners_line, r, out, admin_line);
}

void parseFilterSpec(const YAML::Node& node, int line, const std::string& path, NodeReader& r,
                     std::vector<FilterSpec>& out) {
  FilterSpec spec;
  spec.file = r.file();
  spec.line = line;
  spec.config = std::make_shared<const YAML::Node>();
  bool has_filter = false;
  bool ok = true;
  auto visit = [&](const std::string& key, int kl, const YAML::Node& v) {
    std::string key_path = NodeReader::child(path, key);
    if (key == "filter") {
      has_filter = true;
      spec.line = kl;
      if (!r.readString(v, kl, key_path, spec.filter)) {
        ok = false;
      } else if (spec.filter.empty()) {
        r.error(kl, key_path, "must name a filter");
        ok = false;
      }
    } else if (key == "enabled") {
      ok = r.readBool(v, kl, key_path, spec.enabled) && ok;
    } else if (key == "config") {
      spec.config_line = kl;
      if (!v.IsNull() && !v.IsMap()) {
        r.error(NodeReader::lineOf(v, kl), key_path,
                "expected a map of the filter's settings, got " +
                    std::string(v.IsSequence() ? "a list" : "'" + v.Scalar() + "'"));
        ok = false;
      } else if (v.IsMap()) {
        // The node keeps its document alive (yaml-cpp shares it), and with it the marks the
        // filter's factory needs for its own FILE:LINE errors.
        spec.config = std::make_shared<const YAML::Node>(v);
      }
    }
  };
  r.forEachKey(node, line, path, kFilterKeys, visit);
  if (node.IsNull()) {
    r.error(line, path, "empty filter entry (expected 'filter: NAME')");
    return;
  }
  if (!node.IsMap()) return;  // already reported
  if (!has_filter) {
    r.error(line, path, "missing 'filter' (the registry name of the filter)");
    return;
  }
  if (ok) out.push_back(std::move(spec));
}

}  // namespace aiw::config_detail
