// The effective configuration written back out: YAML for `aiwarden run --print-config` (which
// the loader must read back to the same Config) and JSON for the admin `/config_dump`.
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/config_loader.h"

namespace aiw {

namespace {

constexpr const char* kMask = "***";

std::string normalizedKey(std::string_view key) {
  std::string out(key);
  for (char& c : out) {
    c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Keys inside filter configs whose values are credentials (sink tokens, HTTP headers such as
// Authorization). Matched by name because the loader does not know the filters' schemas.
bool isSecretKey(std::string_view key) {
  static constexpr std::array<std::string_view, 12> kExact = {
      "token",   "secret", "password",  "passwd", "authorization", "proxy_authorization",
      "api_key", "apikey", "x_api_key", "cookie", "credentials",   "private_key"};
  std::string k = normalizedKey(key);
  if (std::find(kExact.begin(), kExact.end(), k) != kExact.end()) return true;
  return k.ends_with("_token") || k.ends_with("_secret") || k.ends_with("_password");
}

// A string that YAML would read back as something else (a number, a bool, null) is quoted,
// so that the printed configuration says what the loaded one holds.
bool looksLikeNonString(std::string_view s) {
  if (s.empty()) return true;
  std::string lower = normalizedKey(s);
  static constexpr std::array<std::string_view, 9> kWords = {"~",  "null", "true", "false", "yes",
                                                             "no", "on",   "off",  "auto"};
  if (std::find(kWords.begin(), kWords.end(), lower) != kWords.end()) return true;
  char* end = nullptr;
  std::string copy(s);
  (void)std::strtod(copy.c_str(), &end);
  return end != nullptr && *end == '\0';
}

void emitString(YAML::Emitter& out, const std::string& s) {
  if (looksLikeNonString(s)) out << YAML::DoubleQuoted;
  out << s;
}

// Empty collections print as "key: []" rather than on a line of their own.
template <typename Collection>
YAML::EMITTER_MANIP flowIfEmpty(const Collection& c) {
  return c.empty() ? YAML::Flow : YAML::Block;
}

const char* listenerTypeName(ListenerType type) {
  return type == ListenerType::Forward ? "forward" : "sidecar";
}

// Quoted scalars stay quoted (yaml-cpp's own Node emitter would print "1" as 1).
void emitScalar(YAML::Emitter& out, const YAML::Node& node) {
  if (node.Tag() == "?") {
    out << node.Scalar();
  } else if (node.Tag() == "!") {
    out << YAML::DoubleQuoted << node.Scalar();
  } else {
    out << YAML::VerbatimTag(node.Tag()) << node.Scalar();
  }
}

// YAML reads a simple "key: value" key of at most 1024 characters; a longer one must be written
// "? key". Measured as written (escapes, and U+FFFD for invalid UTF-8, make it longer than the
// text, and differently in a second print), so that printing what was printed gives the same.
bool needsLongKey(const YAML::Node& key) {
  if (!key.IsScalar()) return true;
  YAML::Emitter probe;
  emitScalar(probe, key);
  return probe.size() > 1000;
}

// Writes a filter's config node keeping what the loader and filters rely on (emitScalar).
void emitNode(YAML::Emitter& out, const YAML::Node& node, bool mask) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      emitScalar(out, node);
      break;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const YAML::Node& item : node) emitNode(out, item, mask);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (auto it = node.begin(); it != node.end(); ++it) {
        // Auto: a LongKey (ours, or yaml-cpp's own for a key of more than 1024 bytes) would stay
        // for the next keys.
        out << (needsLongKey(it->first) ? YAML::LongKey : YAML::Auto);
        out << YAML::Key;
        emitNode(out, it->first, false);
        out << YAML::Value;
        if (mask && it->first.IsScalar() && isSecretKey(it->first.Scalar()) &&
            it->second.IsScalar()) {
          out << YAML::DoubleQuoted << kMask;
        } else {
          emitNode(out, it->second, mask);
        }
      }
      out << YAML::EndMap;
      break;
    default:
      out << YAML::Null;
      break;
  }
}

void emitListener(YAML::Emitter& out, const ListenerConfig& l) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value;
  emitString(out, l.name);
  out << YAML::Key << "type" << YAML::Value << listenerTypeName(l.type);
  out << YAML::Key << "address" << YAML::Value << l.address.toString();
  // The loader refuses sidecar keys on a forward listener, so they are written only here.
  if (l.type == ListenerType::Sidecar) {
    out << YAML::Key << "admin_routes" << YAML::Value << l.admin_routes;
    out << YAML::Key << "tools" << YAML::Value << flowIfEmpty(l.tools) << YAML::BeginMap;
    for (const auto& [tool, url] : l.tools) out << YAML::Key << tool << YAML::Value << url;
    out << YAML::EndMap;
    out << YAML::Key << "mcp" << YAML::Value << flowIfEmpty(l.mcp) << YAML::BeginSeq;
    for (const McpRoute& m : l.mcp) {
      out << YAML::BeginMap << YAML::Key << "path" << YAML::Value << m.path << YAML::Key
          << "upstream" << YAML::Value << m.upstream << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::Key << "routes" << YAML::Value << flowIfEmpty(l.routes) << YAML::BeginSeq;
    for (const PrefixRoute& r : l.routes) {
      out << YAML::BeginMap << YAML::Key << "prefix" << YAML::Value << r.prefix << YAML::Key
          << "upstream" << YAML::Value << r.upstream << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
}

// yaml-cpp's emitter has no way to write a number other than through operator<<(T).
template <typename T>
void emitKeyValue(YAML::Emitter& out, const char* key, const T& value) {
  out << YAML::Key << key << YAML::Value << value;
}

void emitKeyString(YAML::Emitter& out, const char* key, const std::string& value) {
  out << YAML::Key << key << YAML::Value;
  emitString(out, value);
}

}  // namespace

std::string configToYaml(const Config& c, bool mask_secrets) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "workers" << YAML::Value;
  if (c.workers == 0) {
    out << "auto";
  } else {
    out << c.workers;
  }
  if (!c.state_dir.empty()) emitKeyString(out, "state_dir", c.state_dir);
  emitKeyValue(out, "drain_timeout_ms", c.drain_timeout_ms);

  out << YAML::Key << "admin" << YAML::Value << YAML::BeginMap;
  emitKeyValue(out, "address", c.admin.address.toString());
  if (!c.admin.token.empty()) {
    emitKeyString(out, "token", mask_secrets ? std::string(kMask) : c.admin.token);
  }
  out << YAML::EndMap;

  out << YAML::Key << "listeners" << YAML::Value << flowIfEmpty(c.listeners) << YAML::BeginSeq;
  for (const ListenerConfig& l : c.listeners) emitListener(out, l);
  out << YAML::EndSeq;

  out << YAML::Key << "upstream" << YAML::Value << YAML::BeginMap;
  emitKeyString(out, "ca_file", c.upstream.ca_file);
  out << YAML::Key << "resolve" << YAML::Value << flowIfEmpty(c.upstream.resolve) << YAML::BeginMap;
  for (const auto& [from, to] : c.upstream.resolve) emitKeyValue(out, from.c_str(), to.toString());
  out << YAML::EndMap;
  emitKeyValue(out, "connect_timeout_ms", c.upstream.connect_timeout_ms);
  emitKeyValue(out, "idle_timeout_ms", c.upstream.idle_timeout_ms);
  emitKeyValue(out, "request_timeout_ms", c.upstream.request_timeout_ms);
  out << YAML::EndMap;

  out << YAML::Key << "interception" << YAML::Value << YAML::BeginMap;
  emitKeyString(out, "ca_cert", c.interception.ca_cert);
  emitKeyString(out, "ca_key", c.interception.ca_key);
  emitKeyValue(out, "leaf_validity_days", c.interception.leaf_validity_days);
  emitKeyValue(out, "strip_alt_svc_h3", c.interception.strip_alt_svc_h3);
  out << YAML::EndMap;

  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
  emitKeyValue(out, "max_header_bytes", c.limits.max_header_bytes);
  emitKeyValue(out, "max_inspect_body_bytes", c.limits.max_inspect_body_bytes);
  emitKeyValue(out, "max_connections", c.limits.max_connections);
  emitKeyValue(out, "header_timeout_ms", c.limits.header_timeout_ms);
  emitKeyValue(out, "body_timeout_ms", c.limits.body_timeout_ms);
  emitKeyValue(out, "send_timeout_ms", c.limits.send_timeout_ms);
  out << YAML::EndMap;

  out << YAML::Key << "sessions" << YAML::Value << YAML::BeginMap;
  emitKeyValue(out, "max_sessions", c.sessions.max_sessions);
  emitKeyValue(out, "history", c.sessions.history);
  out << YAML::EndMap;

  emitKeyValue(out, "fail_mode", c.fail_mode == FailMode::Closed ? "closed" : "open");

  // The chain inline, whatever it was read from, so the output stands alone.
  out << YAML::Key << "filters" << YAML::Value << flowIfEmpty(c.filters) << YAML::BeginSeq;
  for (const FilterSpec& f : c.filters) {
    // Auto before each key: yaml-cpp writes a key of more than 1024 bytes in a previous
    // filter's config as "? key" by itself, and that LongKey then stays for the keys of the
    // next map it starts.
    out << YAML::BeginMap << YAML::Auto;
    emitKeyString(out, "filter", f.filter);
    out << YAML::Auto;
    emitKeyValue(out, "enabled", f.enabled);
    if (f.config && !f.config->IsNull()) {
      out << YAML::Auto << YAML::Key << "config" << YAML::Value;
      emitNode(out, *f.config, mask_secrets);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;

  std::string text = "# aiwarden effective configuration, from " + c.source + "\n";
  text += out.c_str();
  text += "\n";
  return text;
}

namespace {

using JsonWriter = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void writeString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void writeKey(JsonWriter& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

// Plain YAML scalars keep their YAML 1.2 core-schema type in JSON; quoted ones are strings.
void writePlainScalar(JsonWriter& w, const std::string& s) {
  static constexpr std::array<std::string_view, 5> kNulls = {"", "~", "null", "Null", "NULL"};
  if (std::find(kNulls.begin(), kNulls.end(), s) != kNulls.end()) {
    w.Null();
    return;
  }
  if (s == "true" || s == "True" || s == "TRUE") {
    w.Bool(true);
    return;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    w.Bool(false);
    return;
  }
  char* end = nullptr;
  errno = 0;
  long long i = std::strtoll(s.c_str(), &end, 10);
  if (*end == '\0' && errno == 0) {
    w.Int64(i);
    return;
  }
  double d = std::strtod(s.c_str(), &end);
  bool has_digit = std::any_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (*end == '\0' && has_digit && std::isfinite(d)) {
    w.Double(d);
    return;
  }
  writeString(w, s);
}

void writeYamlNode(JsonWriter& w, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      if (node.Tag() == "?") {
        writePlainScalar(w, node.Scalar());
      } else {
        writeString(w, node.Scalar());
      }
      break;
    case YAML::NodeType::Sequence:
      w.StartArray();
      for (const YAML::Node& item : node) writeYamlNode(w, item);
      w.EndArray();
      break;
    case YAML::NodeType::Map:
      w.StartObject();
      for (auto it = node.begin(); it != node.end(); ++it) {
        std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string("?");
        writeKey(w, key);
        if (isSecretKey(key) && it->second.IsScalar()) {
          w.String(kMask);
        } else {
          writeYamlNode(w, it->second);
        }
      }
      w.EndObject();
      break;
    default:
      w.Null();
      break;
  }
}

void writeListener(JsonWriter& w, const ListenerConfig& l) {
  w.StartObject();
  writeKey(w, "name");
  writeString(w, l.name);
  writeKey(w, "type");
  w.String(listenerTypeName(l.type));
  writeKey(w, "address");
  writeString(w, l.address.toString());
  if (l.type == ListenerType::Sidecar) {
    writeKey(w, "admin_routes");
    w.Bool(l.admin_routes);
    writeKey(w, "tools");
    w.StartObject();
    for (const auto& [tool, url] : l.tools) {
      writeKey(w, tool);
      writeString(w, url);
    }
    w.EndObject();
    writeKey(w, "mcp");
    w.StartArray();
    for (const McpRoute& m : l.mcp) {
      w.StartObject();
      writeKey(w, "path");
      writeString(w, m.path);
      writeKey(w, "upstream");
      writeString(w, m.upstream);
      w.EndObject();
    }
    w.EndArray();
    writeKey(w, "routes");
    w.StartArray();
    for (const PrefixRoute& r : l.routes) {
      w.StartObject();
      writeKey(w, "prefix");
      writeString(w, r.prefix);
      writeKey(w, "upstream");
      writeString(w, r.upstream);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
}

void writeUint(JsonWriter& w, std::string_view key, uint64_t value) {
  writeKey(w, key);
  w.Uint64(value);
}

}  // namespace

std::string configToJson(const Config& c) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.SetIndent(' ', 2);
  w.StartObject();
  writeKey(w, "source");
  writeString(w, c.source);
  writeKey(w, "workers");
  if (c.workers == 0) {
    w.String("auto");
  } else {
    w.Uint(c.workers);
  }
  writeKey(w, "state_dir");
  writeString(w, c.state_dir);
  writeUint(w, "drain_timeout_ms", c.drain_timeout_ms);

  writeKey(w, "admin");
  w.StartObject();
  writeKey(w, "address");
  writeString(w, c.admin.address.toString());
  writeKey(w, "token");
  if (c.admin.token.empty()) {
    w.Null();  // generated into STATE_DIR/admin-token at start-up
  } else {
    w.String(kMask);
  }
  w.EndObject();

  writeKey(w, "listeners");
  w.StartArray();
  for (const ListenerConfig& l : c.listeners) writeListener(w, l);
  w.EndArray();

  writeKey(w, "upstream");
  w.StartObject();
  writeKey(w, "ca_file");
  writeString(w, c.upstream.ca_file);
  writeKey(w, "resolve");
  w.StartObject();
  for (const auto& [from, to] : c.upstream.resolve) {
    writeKey(w, from);
    writeString(w, to.toString());
  }
  w.EndObject();
  writeUint(w, "connect_timeout_ms", c.upstream.connect_timeout_ms);
  writeUint(w, "idle_timeout_ms", c.upstream.idle_timeout_ms);
  writeUint(w, "request_timeout_ms", c.upstream.request_timeout_ms);
  w.EndObject();

  writeKey(w, "interception");
  w.StartObject();
  writeKey(w, "ca_cert");
  writeString(w, c.interception.ca_cert);
  writeKey(w, "ca_key");
  writeString(w, c.interception.ca_key);
  writeUint(w, "leaf_validity_days", c.interception.leaf_validity_days);
  writeKey(w, "strip_alt_svc_h3");
  w.Bool(c.interception.strip_alt_svc_h3);
  w.EndObject();

  writeKey(w, "limits");
  w.StartObject();
  writeUint(w, "max_header_bytes", c.limits.max_header_bytes);
  writeUint(w, "max_inspect_body_bytes", c.limits.max_inspect_body_bytes);
  writeUint(w, "max_connections", c.limits.max_connections);
  writeUint(w, "header_timeout_ms", c.limits.header_timeout_ms);
  writeUint(w, "body_timeout_ms", c.limits.body_timeout_ms);
  writeUint(w, "send_timeout_ms", c.limits.send_timeout_ms);
  w.EndObject();

  writeKey(w, "sessions");
  w.StartObject();
  writeUint(w, "max_sessions", c.sessions.max_sessions);
  writeUint(w, "history", c.sessions.history);
  w.EndObject();

  writeKey(w, "fail_mode");
  w.String(c.fail_mode == FailMode::Closed ? "closed" : "open");
  writeKey(w, "filters_dir");
  writeString(w, c.filters_dir);

  writeKey(w, "filters");
  w.StartArray();
  for (const FilterSpec& f : c.filters) {
    w.StartObject();
    writeKey(w, "filter");
    writeString(w, f.filter);
    writeKey(w, "enabled");
    w.Bool(f.enabled);
    writeKey(w, "file");
    writeString(w, f.file);
    writeKey(w, "line");
    w.Int(f.line);
    writeKey(w, "config");
    if (f.config) {
      writeYamlNode(w, *f.config);
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace aiw
