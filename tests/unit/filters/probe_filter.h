// Test support for the filter machinery: a scriptable "probe" filter whose every call is logged,
// registered in a test FilterRegistry, and FilterSpecs parsed from inline YAML the way the config
// loader writes them (line of `filter:`, line of `config:`, the `config:` node with its marks).
#pragma once

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "filters/chain.h"
#include "filters/registry.h"

namespace aiw::test {

// Every call of every probe, in order: "a.req_headers", "a.req_body(hello,end)", "a.conn(5)",
// "a.close", "a.complete".
struct ProbeLog {
  std::vector<std::string> events;
  size_t count(std::string_view event) const {
    size_t n = 0;
    for (const auto& e : events) n += e == event ? 1 : 0;
    return n;
  }
};

struct ProbeConfig {
  std::string tag;
  // Per phase: continue | block | bypass | need_more_data.
  std::string request_headers = "continue", request_body = "continue";
  std::string response_headers = "continue", response_body = "continue";
  std::string connection = "continue";
  // need_more_data holds until the bytes handed reach this size (0: until end_stream / forever).
  uint64_t until_bytes = 0;
  // When set, a body phase answers its action only if the bytes contain this; else Continue.
  std::string when_contains;
  uint32_t status = 0;
  std::string reason = "probe says no";
  std::string add_header;                // on passing headers: add "<add_header>: <tag>"
  std::string replace_from, replace_to;  // on passing a body: replace every occurrence
  bool connection_filter = true, stream_filter = true;
};

inline Verdict verdictFor(const std::string& action, const ProbeConfig& c) {
  if (action == "block") return Verdict::block(static_cast<uint16_t>(c.status), c.reason);
  if (action == "bypass") return Verdict::bypass();
  if (action == "need_more_data") return Verdict::needMoreData();
  return Verdict::next();
}

class ProbeStreamFilter : public StreamFilter {
 public:
  ProbeStreamFilter(const ProbeConfig& c, ProbeLog* log) : c_(c), log_(log) {}

  Verdict onRequestHeaders(StreamInfo&, Headers& h, bool end) override {
    return headers("req_headers", c_.request_headers, h, end);
  }
  Verdict onRequestBody(StreamInfo&, Buffer& b, bool end) override {
    return body("req_body", c_.request_body, b, end);
  }
  Verdict onResponseHeaders(StreamInfo&, Headers& h, bool end) override {
    return headers("resp_headers", c_.response_headers, h, end);
  }
  Verdict onResponseBody(StreamInfo&, Buffer& b, bool end) override {
    return body("resp_body", c_.response_body, b, end);
  }
  void onComplete(const StreamInfo&) override { log_->events.push_back(c_.tag + ".complete"); }

 private:
  Verdict headers(const char* phase, const std::string& action, Headers& h, bool end) {
    log_->events.push_back(c_.tag + "." + phase + (end ? "(end)" : ""));
    Verdict v = verdictFor(action, c_);
    if (v.action == Action::Continue || v.action == Action::NeedMoreData) {
      if (!c_.add_header.empty()) h.add(c_.add_header, c_.tag);
    }
    return v;
  }

  Verdict body(const char* phase, const std::string& action, Buffer& b, bool end) {
    std::string text = b.toString();
    log_->events.push_back(c_.tag + "." + phase + "(" + text + (end ? ",end" : "") + ")");
    Verdict v = verdictFor(action, c_);
    if (!c_.when_contains.empty() && text.find(c_.when_contains) == std::string::npos) {
      v = Verdict::next();
    }
    if (v.action == Action::NeedMoreData &&
        (end || (c_.until_bytes > 0 && text.size() >= c_.until_bytes))) {
      v = Verdict::next();
    }
    if (v.action != Action::NeedMoreData && !c_.replace_from.empty()) {
      std::string out;
      for (size_t at = 0;;) {
        size_t hit = text.find(c_.replace_from, at);
        out += text.substr(at, hit == std::string::npos ? std::string::npos : hit - at);
        if (hit == std::string::npos) break;
        out += c_.replace_to;
        at = hit + c_.replace_from.size();
      }
      b.clear();
      b.append(out);
    }
    return v;
  }

  const ProbeConfig& c_;  // owned by the factory, which the chain keeps alive
  ProbeLog* log_;
};

class ProbeConnectionFilter : public ConnectionFilter {
 public:
  ProbeConnectionFilter(const ProbeConfig& c, ProbeLog* log) : c_(c), log_(log) {}
  Verdict onConnection(ConnectionInfo&, std::span<const uint8_t> peeked) override {
    log_->events.push_back(c_.tag + ".conn(" + std::to_string(peeked.size()) + ")");
    Verdict v = verdictFor(c_.connection, c_);
    if (v.action == Action::NeedMoreData && c_.until_bytes > 0 && peeked.size() >= c_.until_bytes) {
      v = Verdict::next();
    }
    return v;
  }
  void onConnectionClose(const ConnectionInfo&) override {
    log_->events.push_back(c_.tag + ".close");
  }

 private:
  const ProbeConfig& c_;
  ProbeLog* log_;
};

class ProbeFactory : public FilterFactory {
 public:
  ProbeFactory(ProbeConfig c, ProbeLog* log) : c_(std::move(c)), log_(log) {}
  std::unique_ptr<ConnectionFilter> createConnectionFilter() override {
    if (!c_.connection_filter) return nullptr;
    return std::make_unique<ProbeConnectionFilter>(c_, log_);
  }
  std::unique_ptr<StreamFilter> createStreamFilter() override {
    if (!c_.stream_filter) return nullptr;
    return std::make_unique<ProbeStreamFilter>(c_, log_);
  }

 private:
  ProbeConfig c_;
  ProbeLog* log_;
};

// The probe's builder validates its config with the context's helpers, as a real filter does.
inline FilterRegistry::Builder probeBuilder(ProbeLog* log) {
  return [log](FilterBuildContext& ctx) -> Result<std::shared_ptr<FilterFactory>> {
    using P = FilterBuildContext::Presence;
    const YAML::Node& cfg = ctx.config();
    if (!ctx.expectMap(cfg)) return ctx.fail();
    ctx.rejectUnknownKeys(
        cfg, {"tag", "request_headers", "request_body", "response_headers", "response_body",
              "connection", "until_bytes", "when_contains", "status", "reason", "add_header",
              "replace", "connection_filter", "stream_filter"});
    ProbeConfig c;
    ctx.read(cfg, "tag", c.tag, P::Required);
    for (auto [key, out] :
         {std::pair{"request_headers", &c.request_headers},
          std::pair{"request_body", &c.request_body},
          std::pair{"response_headers", &c.response_headers},
          std::pair{"response_body", &c.response_body}, std::pair{"connection", &c.connection}}) {
      ctx.readEnum(cfg, key, *out, {"continue", "block", "bypass", "need_more_data"});
    }
    ctx.read(cfg, "until_bytes", c.until_bytes);
    ctx.read(cfg, "when_contains", c.when_contains);
    ctx.read(cfg, "status", c.status, P::Optional, 100, 599);
    ctx.read(cfg, "reason", c.reason);
    ctx.read(cfg, "add_header", c.add_header);
    ctx.read(cfg, "connection_filter", c.connection_filter);
    ctx.read(cfg, "stream_filter", c.stream_filter);
    YAML::Node replace = ctx.child(cfg, "replace");
    if (ctx.expectMap(replace, "replace")) {
      ctx.rejectUnknownKeys(replace, {"from", "to"}, "replace");
      ctx.read(replace, "from", c.replace_from);
      ctx.read(replace, "to", c.replace_to);
    }
    if (ctx.hasErrors()) return ctx.fail();
    return std::shared_ptr<FilterFactory>(std::make_shared<ProbeFactory>(std::move(c), log));
  };
}

// Parses a YAML list of chain entries ({filter, enabled, config}) into FilterSpecs located in
// `file`, as the config loader does.
inline std::vector<FilterSpec> specsFromYaml(const std::string& yaml,
                                             const std::string& file = "filters.yaml") {
  std::vector<FilterSpec> out;
  YAML::Node root = YAML::Load(yaml);
  for (auto it = root.begin(); it != root.end(); ++it) {
    YAML::Node entry = *it;
    FilterSpec spec;
    spec.file = file;
    spec.line = entry.Mark().line + 1;
    spec.config = std::make_shared<const YAML::Node>();
    for (auto kv = entry.begin(); kv != entry.end(); ++kv) {
      std::string key = kv->first.Scalar();
      int line = kv->first.Mark().line + 1;
      if (key == "filter") {
        spec.filter = kv->second.Scalar();
        spec.line = line;
      } else if (key == "enabled") {
        spec.enabled = kv->second.as<bool>();
      } else if (key == "config") {
        spec.config_line = line;
        spec.config = std::make_shared<const YAML::Node>(kv->second);
      }
    }
    out.push_back(std::move(spec));
  }
  return out;
}

// A registry with the probe under two names ("probe" and "guard", so tests can tell a blocker
// by its name), plus a chain built from inline YAML.
struct Harness {
  ProbeLog log;
  FilterRegistry registry;

  Harness() {
    registry.add("probe", probeBuilder(&log));
    registry.add("guard", probeBuilder(&log));
  }

  std::shared_ptr<const FilterChain> chain(const std::string& yaml) {
    auto built = buildFilterChain(specsFromYaml(yaml), registry);
    REQUIRE_MESSAGE(built.ok(), (built.ok() ? std::string() : built.error().message));
    return built.value();
  }

  // The events logged since the last call.
  std::vector<std::string> take() {
    std::vector<std::string> out;
    out.swap(log.events);
    return out;
  }
};

inline Buffer bytes(std::string_view s) {
  Buffer b;
  b.append(s);
  return b;
}

using Events = std::vector<std::string>;

}  // namespace aiw::test

namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
  static String convert(const std::vector<std::string>& v) {
    std::string out = "{";
    for (const auto& e : v) out += (out.size() > 1 ? ", \"" : "\"") + e + "\"";
    return (out + "}").c_str();
  }
};
}  // namespace doctest
