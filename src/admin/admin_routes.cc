#include "admin/admin_routes.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>

#include "core/config_loader.h"
#include "core/log.h"
#include "filters/chain.h"
#include "filters/domain_classifier/patterns_json.h"
#include "filters/domain_classifier/proxy_pac.h"
#include "filters/reporter/reporter.h"
#include "filters/rule_evaluator/rule_evaluator.h"
#include "sessions/session_store.h"
#include "tls/certificate_authority.h"
#include "tls/interception_context.h"
#include "tls/leaf_cache.h"

namespace aiw {

namespace {

std::string fmtDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

AdminResponse json(uint16_t status, std::string body) {
  AdminResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

constexpr std::string_view kSessionPrefix = "/proxy/v1/sessions/";

// 405 with the Allow header RFC 9110 requires on it.
AdminResponse methodNotAllowed(const char* allow) {
  AdminResponse r = json(405, jsonError("method_not_allowed", std::string("use ") + allow));
  r.extra_headers.add("Allow", allow);
  return r;
}

}  // namespace

bool constantTimeEquals(std::string_view a, std::string_view b) {
  // Lengths leak (they are not secret: the token format is fixed); contents never do.
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

namespace {

// The `limit=N` of a query (`fallback` when absent): a whole number from 1 to `max`. A bad value
// is echoed (bounded, as valid text) so the caller sees which one was refused.
Result<size_t> limitParameter(std::string_view query, size_t fallback, size_t max) {
  size_t limit = fallback;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.substr(0, 6) != "limit=") continue;
    std::string_view digits = param.substr(6);
    bool valid = !digits.empty() && digits.size() <= 9;
    size_t n = 0;
    for (char c : digits) {
      valid = valid && c >= '0' && c <= '9';
      if (valid) n = n * 10 + static_cast<size_t>(c - '0');
    }
    if (!valid || n == 0 || n > max) {
      return makeError("bad_limit", "limit must be a whole number from 1 to " +
                                        std::to_string(max) + ", not '" +
                                        toValidUtf8(digits.substr(0, 32)) + "'");
    }
    limit = n;
  }
  return limit;
}

}  // namespace

std::string jsonError(std::string_view code, std::string_view message) {
  std::string out = "{\"error\":\"";
  appendJsonEscaped(out, code);
  out += "\",\"message\":\"";
  appendJsonEscaped(out, message);
  out += "\"}";
  return out;
}

bool AdminRoutes::authorized(const AdminRequest& req) const {
  const std::string* token = req.headers.find("x-proxy-token");
  return token != nullptr && !runtime_.admin_token.empty() &&
         constantTimeEquals(*token, runtime_.admin_token);
}

AdminResponse AdminRoutes::handle(const AdminRequest& req) {
  // Unauthenticated routes first (SPEC §7: /ready, /ca.pem, /proxy.pac; and /ca.crl, which
  // the minted leaves point clients to).
  if (req.path == "/ready") {
    if (req.method != "GET" && req.method != "HEAD") {
      return json(405, jsonError("method_not_allowed", "use GET"));
    }
    if (runtime_.draining.load(std::memory_order_relaxed)) {
      return json(503, "{\"status\":\"draining\"}");
    }
    return json(200, "{\"status\":\"ready\"}");
  }
  if (req.path == "/ca.pem") {  // public: clients install it to trust the interception
    if (req.method != "GET" && req.method != "HEAD") {
      return json(405, jsonError("method_not_allowed", "use GET"));
    }
    if (runtime_.ca_pem.empty()) {
      return json(503, jsonError("no_ca", "the interception CA is not loaded"));
    }
    AdminResponse r;
    r.content_type = "application/x-pem-file";
    r.body = runtime_.ca_pem;
    return r;
  }
  if (req.path == "/ca.crl") {  // public: the leaves' cRLDistributionPoint
    if (req.method != "GET" && req.method != "HEAD") {
      return json(405, jsonError("method_not_allowed", "use GET"));
    }
    if (!runtime_.interception) {
      return json(503, jsonError("no_ca", "the interception CA is not loaded"));
    }
    auto crl = runtime_.interception->ca->issueEmptyCrl(::time(nullptr));
    if (!crl.ok()) return json(500, jsonError("crl_failed", crl.error().message));
    AdminResponse r;
    r.content_type = "application/pkix-crl";  // RFC 2585 §4.2: DER
    r.body = std::move(crl.value());
    return r;
  }
  if (req.path == "/proxy.pac") {  // public: browsers and OSes fetch it without credentials
    if (req.method != "GET" && req.method != "HEAD") {
      return json(405, jsonError("method_not_allowed", "use GET"));
    }
    return proxyPac(req);
  }
  if (!authorized(req)) {
    const bool missing = req.headers.find("x-proxy-token") == nullptr;
    return json(401, jsonError("unauthorized", missing ? "the X-Proxy-Token header is required"
                                                       : "the X-Proxy-Token header is wrong"));
  }
  auto only = [&](const char* method) { return req.method == method; };
  if (req.path == "/proxy/v1/metrics") {
    if (!only("GET")) return json(405, jsonError("method_not_allowed", "use GET"));
    return metricsJson();
  }
  if (req.path == "/metrics") {
    if (!only("GET")) return json(405, jsonError("method_not_allowed", "use GET"));
    return metricsPrometheus();
  }
  if (req.path == "/config_dump") {
    if (!only("GET")) return json(405, jsonError("method_not_allowed", "use GET"));
    return json(200, configToJson(runtime_.snapshot.get()->config));
  }
  if (req.path == "/proxy/v1/patterns") {
    if (!only("GET") && !only("PUT")) {
      return json(405, jsonError("method_not_allowed", "use GET or PUT"));
    }
    return patterns(req);
  }
  if (req.path == "/proxy/v1/filters") {
    if (!only("GET")) return json(405, jsonError("method_not_allowed", "use GET"));
    return filters();
  }
  if (req.path == "/proxy/v1/events") {
    if (!only("GET")) return json(405, jsonError("method_not_allowed", "use GET"));
    return events(req);
  }
  if (req.path == "/proxy/v1/sessions") {
    if (!only("GET")) return methodNotAllowed("GET");
    return sessionList(req);
  }
  if (req.path.starts_with(kSessionPrefix)) {
    if (!only("GET")) return methodNotAllowed("GET");
    return session(std::string_view(req.path).substr(kSessionPrefix.size()));
  }
  if (req.path == "/proxy/v1/rules") {
    if (!only("GET") && !only("PUT")) {
      return json(405, jsonError("method_not_allowed", "use GET or PUT"));
    }
    return rules(req);
  }
  if (req.path == "/proxy/v1/reset") {
    if (!only("POST")) return json(405, jsonError("method_not_allowed", "use POST"));
    return reset();
  }
  if (req.path == "/proxy/v1/reload") {
    if (!only("POST")) return json(405, jsonError("method_not_allowed", "use POST"));
    auto r = reload_();
    if (!r.ok()) {
      log::warn("admin reload refused", {{"errors", r.error().message}});
      return json(400, jsonError("invalid_configuration", r.error().message));
    }
    return json(200, "{\"status\":\"reloaded\",\"generation\":" +
                         std::to_string(runtime_.snapshot.get()->generation) + "}");
  }
  return json(404, jsonError("not_found", "no admin route " + req.path));
}

AdminResponse AdminRoutes::patterns(const AdminRequest& req) {
  auto snap = runtime_.snapshot.get();
  const DomainClassifierFactory* dc = snap->chain ? findDomainClassifier(*snap->chain) : nullptr;
  if (dc == nullptr) {
    return json(404, jsonError("no_domain_classifier",
                               "the filter chain has no domain_classifier stage"));
  }
  if (req.method == "GET") return json(200, patternsToJson(dc->classifier().config()));

  auto parsed = parsePatternsJson(req.body, dc->classifier().config().default_action);
  if (!parsed.errors.empty()) {
    std::string b = "{\"error\":\"invalid_patterns\",\"message\":\"";
    b += std::to_string(parsed.errors.size()) + " problem(s); nothing was changed\",\"errors\":[";
    for (size_t i = 0; i < parsed.errors.size(); ++i) {
      b += i ? ",\"" : "\"";
      appendJsonEscaped(b, parsed.errors[i]);
      b += '"';
    }
    return json(400, b + "]}");
  }
  if (!patterns_) return json(503, jsonError("unavailable", "pattern updates are not wired"));
  if (auto r = patterns_(parsed.config); !r.ok()) {
    log::warn("patterns update refused", {{"error", r.error().message}});
    return json(r.error().code == "no_domain_classifier" ? 404 : 500,
                jsonError(r.error().code, r.error().message));
  }
  auto now = runtime_.snapshot.get();
  const DomainClassifierFactory* fresh = now->chain ? findDomainClassifier(*now->chain) : nullptr;
  return json(200, patternsToJson(fresh ? fresh->classifier().config() : parsed.config));
}

namespace {

const RuleEvaluatorFactory* findRuleEvaluator(const Snapshot& snap) {
  if (!snap.chain) return nullptr;
  for (const auto& entry : snap.chain->entries()) {
    if (const auto* f = dynamic_cast<const RuleEvaluatorFactory*>(&entry.factory())) return f;
  }
  return nullptr;
}

}  // namespace

AdminResponse AdminRoutes::rules(const AdminRequest& req) {
  auto snap = runtime_.snapshot.get();
  const RuleEvaluatorFactory* re = findRuleEvaluator(*snap);
  if (re == nullptr) {
    return json(404, jsonError("no_rule_evaluator", "the filter chain has no rule_evaluator stage"));
  }
  if (req.method == "GET") return json(200, re->rules().toJson());

  // Validated whole: every problem listed, and the active rules stay until a valid set comes.
  auto parsed = RuleSet::fromJson(req.body);
  if (!parsed.ok()) {
    std::vector<std::string> lines;
    std::string_view all = parsed.error().message;
    while (!all.empty()) {
      size_t nl = all.find('\n');
      lines.emplace_back(all.substr(0, nl));
      all = nl == std::string_view::npos ? std::string_view() : all.substr(nl + 1);
    }
    std::string b = "{\"error\":\"invalid_rules\",\"message\":\"";
    b += std::to_string(lines.size()) + " problem(s); the active rules are unchanged\",\"errors\":[";
    for (size_t i = 0; i < lines.size(); ++i) {
      b += i ? ",\"" : "\"";
      appendJsonEscaped(b, lines[i]);
      b += '"';
    }
    return json(400, b + "]}");
  }
  if (!rules_) return json(503, jsonError("unavailable", "rule updates are not wired"));
  std::string canonical = parsed.value()->toJson();
  if (auto r = rules_(canonical, ChainState::Carried); !r.ok()) {
    log::warn("rules update refused", {{"error", r.error().message}});
    return json(r.error().code == "config" ? 409 : 500, jsonError(r.error().code, r.error().message));
  }
  return json(200, canonical);
}

// SPEC §7: metrics, sessions and rules back to their start — and with them the chain's own
// counters and rate-limit buckets: the chain is rebuilt fresh, as at start-up.
AdminResponse AdminRoutes::reset() {
  if (rules_) {
    if (auto r = rules_(std::nullopt, ChainState::Fresh); !r.ok()) {
      log::warn("rules reset refused", {{"error", r.error().message}});
      return json(500, jsonError(r.error().code, r.error().message));
    }
  } else if (findRuleEvaluator(*runtime_.snapshot.get()) != nullptr) {
    return json(503, jsonError("unavailable", "rule updates are not wired"));
  }
  runtime_.metrics.reset();
  if (runtime_.sessions) runtime_.sessions->clear();
  return json(200, "{\"status\":\"reset\"}");
}

AdminResponse AdminRoutes::proxyPac(const AdminRequest& req) const {
  auto snap = runtime_.snapshot.get();
  const DomainClassifierFactory* dc = snap->chain ? findDomainClassifier(*snap->chain) : nullptr;
  std::string proxy;
  for (const auto& l : snap->config.listeners) {
    if (l.type != ListenerType::Forward) continue;
    HostPort a = l.address;
    // A wildcard bind address names no host a client can reach: use the one it reached us by.
    if (a.host == "0.0.0.0" || a.host == "::") {
      const std::string* host = req.headers.find("host");
      std::string h = host ? *host : "";
      if (!h.empty() && h.front() == '[') {
        size_t end = h.find(']');
        h = end == std::string::npos ? "" : h.substr(1, end - 1);
      } else if (size_t colon = h.find(':'); colon != std::string::npos) {
        h.resize(colon);
      }
      // It goes into the script: only what a host name or address literal is made of.
      bool plain = !h.empty();
      for (char c : h) {
        plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                          c == ':');
      }
      a.host = plain ? h : "127.0.0.1";
    }
    proxy = a.toString();
    break;
  }
  AdminResponse r;
  r.content_type = "application/x-ns-proxy-autoconfig";
  r.body = buildProxyPac(proxy.empty() || dc == nullptr ? nullptr : &dc->classifier().config(),
                         proxy);
  return r;
}

AdminResponse AdminRoutes::metricsJson() const {
  auto t = runtime_.metrics.totals();
  auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                              runtime_.metrics.started())
                    .count();
  double total_ms = static_cast<double>(t.latency_total_us) / 1000.0;
  double avg_ms = t.calls ? total_ms / static_cast<double>(t.calls) : 0.0;
  double rps = uptime > 0 ? static_cast<double>(t.calls) / uptime : 0.0;
  std::string b = "{";
  b += "\"calls\":" + std::to_string(t.calls);
  b += ",\"blocked\":" + std::to_string(t.blocked);
  b += ",\"modified\":" + std::to_string(t.modified);
  b += ",\"errors\":" + std::to_string(t.errors);
  b += ",\"rate_limited\":" + std::to_string(t.rate_limited);
  b += ",\"bypassed\":" + std::to_string(t.bypassed);
  b += ",\"intercepted\":" + std::to_string(t.intercepted);
  b += ",\"latency_ms\":{\"total\":" + fmtDouble(total_ms) + ",\"avg\":" + fmtDouble(avg_ms) +
       ",\"p50\":" + fmtDouble(t.latencyQuantileMs(0.5)) +
       ",\"p99\":" + fmtDouble(t.latencyQuantileMs(0.99)) + "}";
  b += ",\"throughput_rps\":" + fmtDouble(rps);
  b += ",\"uptime_s\":" + fmtDouble(uptime);
  b += ",\"connections\":{\"open\":" +
       std::to_string(runtime_.open_connections.load(std::memory_order_relaxed)) +
       ",\"accepted\":" + std::to_string(t.connections_accepted) +
       ",\"refused\":" + std::to_string(t.connections_refused) + "}";
  b += ",\"tunnels\":{\"active\":" + std::to_string(t.tunnels_active) +
       ",\"bytes\":" + std::to_string(t.tunnel_bytes) + "}";
  b += ",\"upstream\":{\"connects\":" + std::to_string(t.upstream_connects) +
       ",\"reused\":" + std::to_string(t.upstream_reused) + "}";
  if (runtime_.interception && runtime_.interception->leaves) {
    const LeafCache& lc = *runtime_.interception->leaves;
    b += ",\"tls\":{\"leaves_minted\":" + std::to_string(lc.minted()) +
         ",\"leaf_cache_hits\":" + std::to_string(lc.hits()) +
         ",\"leaf_cache_coalesced\":" + std::to_string(lc.coalesced()) +
         ",\"leaf_cache_evictions\":" + std::to_string(lc.evictions()) +
         ",\"leaf_mint_failures\":" + std::to_string(lc.mintFailures()) +
         ",\"leaf_cache_size\":" + std::to_string(lc.size()) + "}";
  }
  b += "}";
  return json(200, std::move(b));
}

// The chain in order: each stage's verdict counters and its own stats (SPEC §7).
AdminResponse AdminRoutes::filters() const {
  auto snap = runtime_.snapshot.get();
  std::string b = "{\"generation\":" + std::to_string(snap->generation) + ",\"filters\":[";
  if (snap->chain) {
    bool first = true;
    for (const auto& entry : snap->chain->entries()) {
      FilterCounterValues c = entry.counters();
      b += first ? "{" : ",{";
      first = false;
      b += "\"name\":\"";
      appendJsonEscaped(b, entry.name());
      b += "\",\"file\":\"";
      appendJsonEscaped(b, entry.file());
      b += "\",\"line\":" + std::to_string(entry.line());
      b += ",\"counters\":{\"invocations\":" + std::to_string(c.invocations) +
           ",\"continues\":" + std::to_string(c.continues) +
           ",\"blocks\":" + std::to_string(c.blocks) +
           ",\"bypasses\":" + std::to_string(c.bypasses) +
           ",\"need_more_data\":" + std::to_string(c.need_more_data) +
           ",\"over_limit\":" + std::to_string(c.over_limit) + "},\"stats\":{";
      bool first_stat = true;
      for (const FilterStat& st : entry.stats()) {
        b += first_stat ? "\"" : ",\"";
        first_stat = false;
        appendJsonEscaped(b, st.name);
        b += "\":" + std::to_string(st.value);
      }
      b += "}}";
    }
  }
  return json(200, b + "]}");
}

// Per stage: verdict counters labelled by filter and result; then every filter's own stats as
// aiwarden_<filter>_<thing> (counters get _total).
void AdminRoutes::appendFilterMetrics(std::string& b) const {
  auto snap = runtime_.snapshot.get();
  if (!snap->chain) return;
  b += "# HELP aiwarden_filter_calls_total filter phase calls by verdict\n"
       "# TYPE aiwarden_filter_calls_total counter\n";
  // name -> its TYPE line and samples: a family's lines form one group (the text format
  // requires it) even when two stages report the same counter; stages are told apart by a label.
  std::map<std::string, std::string> families;
  size_t stage = 0;
  for (const auto& entry : snap->chain->entries()) {
    ++stage;
    FilterCounterValues c = entry.counters();
    const std::pair<const char*, uint64_t> results[] = {
        {"continue", c.continues}, {"block", c.blocks},         {"bypass", c.bypasses},
        {"need_more_data", c.need_more_data}, {"over_limit", c.over_limit}};
    for (const auto& [result, value] : results) {
      // `stage` (1-based chain position) tells two stages of one filter apart.
      b += "aiwarden_filter_calls_total{filter=\"" + entry.name() + "\",stage=\"" +
           std::to_string(stage) + "\",result=\"" + result + "\"} " + std::to_string(value) +
           "\n";
    }
    for (const FilterStat& st : entry.stats()) {
      std::string name = "aiwarden_" + st.name;
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      if (!st.gauge) name += "_total";
      std::string& family = families[name];
      if (family.empty()) family = "# TYPE " + name + (st.gauge ? " gauge\n" : " counter\n");
      family += name + "{stage=\"" + std::to_string(stage) + "\"} " + std::to_string(st.value) +
                "\n";
    }
  }
  for (const auto& [name, lines] : families) b += lines;
}

AdminResponse AdminRoutes::metricsPrometheus() const {
  auto t = runtime_.metrics.totals();
  std::string b;
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    b += "# HELP aiwarden_";
    b += name;
    b += ' ';
    b += help;
    b += "\n# TYPE aiwarden_";
    b += name;
    b += " counter\naiwarden_";
    b += name;
    b += ' ';
    b += std::to_string(v);
    b += '\n';
  };
  auto gauge = [&](const char* name, const char* help, uint64_t v) {
    b += std::string("# HELP aiwarden_") + name + " " + help + "\n# TYPE aiwarden_" + name +
         " gauge\naiwarden_" + name + " " + std::to_string(v) + "\n";
  };
  counter("calls_total", "HTTP exchanges completed", t.calls);
  counter("blocked_total", "exchanges refused by a filter", t.blocked);
  counter("modified_total", "exchanges modified by a filter", t.modified);
  counter("errors_total", "exchanges that failed", t.errors);
  counter("rate_limited_total", "exchanges refused by the rate limiter", t.rate_limited);
  counter("bypassed_total", "blind tunnels opened", t.bypassed);
  counter("intercepted_total", "CONNECTs decrypted for inspection", t.intercepted);
  counter("connections_accepted_total", "downstream connections accepted", t.connections_accepted);
  counter("connections_refused_total", "downstream connections refused over max_connections",
          t.connections_refused);
  counter("bad_requests_total", "malformed requests refused", t.bad_requests);
  counter("header_timeouts_total", "clients cut off at header_timeout_ms", t.header_timeouts);
  counter("upstream_connects_total", "upstream connections opened", t.upstream_connects);
  counter("upstream_reused_total", "exchanges on a pooled upstream connection", t.upstream_reused);
  counter("tunnel_bytes_total", "bytes carried by blind tunnels", t.tunnel_bytes);
  gauge("connections_open", "downstream connections open",
        runtime_.open_connections.load(std::memory_order_relaxed));
  gauge("tunnels_active", "blind tunnels open", t.tunnels_active);
  if (runtime_.interception && runtime_.interception->leaves) {
    const LeafCache& lc = *runtime_.interception->leaves;
    counter("tls_leaves_minted_total", "leaf certificates minted for intercepted hosts",
            lc.minted());
    counter("tls_leaf_cache_hits_total", "leaves served from the cache", lc.hits());
    counter("tls_leaf_cache_coalesced_total", "leaves shared from another connection's mint",
            lc.coalesced());
    counter("tls_leaf_cache_evictions_total", "leaves dropped from the full cache",
            lc.evictions());
    counter("tls_leaf_mint_failures_total", "leaf mints that failed", lc.mintFailures());
    gauge("tls_leaf_cache_size", "leaves in the cache", lc.size());
  }
  appendFilterMetrics(b);
  b += "# HELP aiwarden_latency_seconds exchange latency\n# TYPE aiwarden_latency_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBucketsUs.size(); ++i) {
    cumulative += t.latency_buckets[i];
    char le[32];
    std::snprintf(le, sizeof le, "%g", static_cast<double>(kLatencyBucketsUs[i]) / 1e6);
    b += std::string("aiwarden_latency_seconds_bucket{le=\"") + le + "\"} " +
         std::to_string(cumulative) + "\n";
  }
  cumulative += t.latency_buckets.back();
  b += "aiwarden_latency_seconds_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  char sum[32];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(t.latency_total_us) / 1e6);
  b += std::string("aiwarden_latency_seconds_sum ") + sum + "\n";
  b += "aiwarden_latency_seconds_count " + std::to_string(cumulative) + "\n";
  AdminResponse r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = std::move(b);
  return r;
}

// GET /proxy/v1/events?limit=N: the newest N events of the reporter's ring, oldest first
// (newest last). N defaults to 100 and may not exceed the ring's size.
AdminResponse AdminRoutes::events(const AdminRequest& req) const {
  const Reporter* reporter = runtime_.reporter.get();
  const size_t ring = reporter != nullptr ? reporter->ringCapacity() : 0;
  Result<size_t> limit = limitParameter(req.query, 100, std::max<size_t>(ring, 1));
  if (!limit.ok()) return json(400, jsonError("bad_limit", limit.error().message));
  std::string b = "{\"events\":[";
  if (reporter != nullptr) {
    bool first = true;
    for (const std::string& e : reporter->recent(*limit)) {
      if (!first) b += ',';
      first = false;
      b += e;
    }
  }
  b += "]}";
  return json(200, std::move(b));
}

namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes decoded (RFC 3986); nullopt when one is malformed. '+' stays: a path is not a form.
std::optional<std::string> percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int hi = i + 2 < s.size() ? hexDigit(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? hexDigit(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace

// GET /proxy/v1/sessions?limit=N: the N most recently active sessions, each with its last calls.
AdminResponse AdminRoutes::sessionList(const AdminRequest& req) const {
  Result<size_t> limit = limitParameter(req.query, 100, 10000);
  if (!limit.ok()) return json(400, jsonError("bad_limit", limit.error().message));
  if (!runtime_.sessions) return json(200, "{\"sessions\":[],\"count\":0,\"max_sessions\":0}");
  return json(200, runtime_.sessions->listJson(*limit));
}

// GET /proxy/v1/sessions/{session}: one session's whole kept timeline.
AdminResponse AdminRoutes::session(std::string_view encoded_id) const {
  std::optional<std::string> id = percentDecode(encoded_id);
  if (!id) {
    return json(400, jsonError("bad_session_id", "the session id has a malformed %-escape"));
  }
  std::optional<std::string> body;
  if (runtime_.sessions) body = runtime_.sessions->sessionJson(*id);
  if (!body) return json(404, jsonError("not_found", "no session '" + toValidUtf8(*id) + "'"));
  return json(200, std::move(*body));
}

}  // namespace aiw
