#include "filters/reporter/reporter_filter.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <set>

#include "core/log.h"
#include "filters/reporter/body_capture.h"
#include "tls/tls_context.h"

namespace aiw {

namespace {

class ReporterStreamFilter : public StreamFilter {
 public:
  // `factory` outlives the filter: the chain that created it keeps the factory
  // alive.
  explicit ReporterStreamFilter(const ReporterFactory &factory)
      : factory_(factory), capture_(factory.settings().capture_bodies) {}

  Verdict onRequestBody(StreamInfo &, Buffer &chunk, bool) override {
    if (capture_) request_.add(chunk.view(), factory_.settings().capture_max_bytes);
    return Verdict::next();
  }
  Verdict onResponseBody(StreamInfo &, Buffer &chunk, bool) override {
    if (capture_) response_.add(chunk.view(), factory_.settings().capture_max_bytes);
    return Verdict::next();
  }

  void onComplete(const StreamInfo &s) override {
    ReportEvent exchange = exchangeEvent(s, std::chrono::system_clock::now());
    if (capture_) {
      exchange.has_bodies = true;
      exchange.request_body = capturedRequestBody(s, request_);
      exchange.response_body = capturedResponseBody(s, response_);
    }
    // Security events first in the queue would name an exchange id not yet
    // seen; the exchange goes first.
    std::vector<ReportEvent> security = securityEvents(s, exchange);
    factory_.report(std::move(exchange));
    for (ReportEvent &e : security) factory_.report(std::move(e));
  }

 private:
  const ReporterFactory &factory_;
  const bool capture_;
  BodyCapture request_;
  BodyCapture response_;
};

class ReporterConnectionFilter : public ConnectionFilter {
 public:
  explicit ReporterConnectionFilter(const ReporterFactory &factory) : factory_(factory) {}

  Verdict onConnection(ConnectionInfo &, std::span<const uint8_t>) override { return {}; }

  void onConnectionClose(const ConnectionInfo &conn) override {
    // Intercepted connections report their exchanges instead; a refused one
    // carried nothing.
    if (!conn.bypassed) return;
    factory_.report(tunnelEvent(conn, std::chrono::system_clock::now()));
  }

 private:
  const ReporterFactory &factory_;
};

constexpr uint64_t kDefaultMaxBytes = 104857600;  // 100 MiB
constexpr uint32_t kDefaultKeep = 5;

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~", c))) {
      return false;
    }
  }
  return true;
}

// A stable default name (so a restart finds the same spool): a hash of what the sink sends where.
std::string defaultSinkName(const std::string &url, const std::string &format) {
  uint64_t h = UINT64_C(1469598103934665603);  // FNV-1a
  for (char c : url + "|" + format) {
    h ^= static_cast<unsigned char>(c);
    h *= UINT64_C(1099511628211);
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "http-%08" PRIx64, static_cast<uint64_t>(h & 0xffffffffu));
  return buf;
}

void readHeaders(FilterBuildContext &ctx, const YAML::Node &item, HeaderList &out) {
  YAML::Node headers = ctx.child(item, "headers");
  if (!headers || headers.IsNull()) return;
  if (!headers.IsMap()) {
    ctx.error(headers, "reporter config: http sink 'headers' must be a map of name: value");
    return;
  }
  for (const auto &kv : headers) {
    std::string name, value;
    if (!ctx.asString(kv.first, "header name", name) ||
        !ctx.asString(kv.second, "header value", value)) {
      continue;
    }
    std::string lower = name;
    for (char &ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (!isToken(name)) {
      ctx.error(kv.first, "reporter config: '" + name + "' is not a valid header name");
    } else if (value.find_first_of("\r\n") != std::string::npos || value.find('\0') != std::string::npos) {
      ctx.error(kv.second, "reporter config: header '" + name + "' has a line break in its value");
    } else if (lower == "host" || lower == "content-length" || lower == "content-type" ||
               lower == "connection" || lower == "transfer-encoding") {
      ctx.error(kv.first, "reporter config: header '" + name +
                              "' is set by the http sink itself and cannot be configured");
    } else {
      out.emplace_back(std::move(name), std::move(value));
    }
  }
}

bool readDigits(FilterBuildContext &ctx, const YAML::Node &item, std::string_view key,
                std::string &out) {
  if (!ctx.read(item, key, out)) return false;
  bool ok = !out.empty() && out.size() <= 20 &&
            std::all_of(out.begin(), out.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!ok) ctx.error(ctx.child(item, key), "reporter config: '" + std::string(key) + "' must be a number");
  return ok;
}

// `ca_file` of an https:// sink: a file given is loaded now, so that `aiwarden check` and a
// reload report a missing or certificate-less bundle at its line instead of a sink that never
// delivers. (The default, the system roots, falls back to BoringSSL's default paths: nothing to
// check, and no bundle to load on every rebuild of the chain.)
void readCaFile(FilterBuildContext &ctx, const YAML::Node &item, HttpSinkConfig &sink) {
  if (!ctx.has(item, "ca_file") || !ctx.read(item, "ca_file", sink.ca_file)) return;
  if (sink.target.host.empty()) return;  // the url itself is wrong, and reported
  const YAML::Node at = ctx.child(item, "ca_file");
  if (!sink.target.tls) {
    ctx.error(at,
              "reporter config: ca_file applies to https:// collectors only (the url is http://)");
    return;
  }
  if (auto roots = TlsClientContext::create(sink.ca_file, {"http/1.1"}); !roots.ok()) {
    ctx.error(at, "reporter config: http sink ca_file: " + roots.error().message);
  }
}

void readHttpSink(FilterBuildContext &ctx, const YAML::Node &item, std::set<std::string> &names,
                  ReporterSettings &out) {
  ctx.rejectUnknownKeys(item,
                        {"type", "name", "url", "ca_file", "format", "batch", "flush_ms",
                         "timeout_ms", "backoff_max_ms", "headers", "akto_account_id",
                         "akto_vxlan_id"},
                        "http sink");
  HttpSinkConfig sink;
  std::string format = "native";
  if (ctx.read(item, "url", sink.url, FilterBuildContext::Presence::Required)) {
    auto url = parseHttpUrl(sink.url);
    if (url.ok()) {
      sink.target = url.value();
    } else {
      ctx.error(ctx.child(item, "url"), "reporter config: http sink url '" + sink.url + "': " +
                                            url.error().message);
    }
  }
  readCaFile(ctx, item, sink);
  ctx.readEnum(item, "format", format, {"native", "akto"});
  sink.format = format == "akto" ? HttpSinkFormat::Akto : HttpSinkFormat::Native;
  ctx.read(item, "batch", sink.batch, FilterBuildContext::Presence::Optional, 1, 10000);
  ctx.read(item, "flush_ms", sink.flush_ms, FilterBuildContext::Presence::Optional, 0, 600000);
  ctx.read(item, "timeout_ms", sink.timeout_ms, FilterBuildContext::Presence::Optional, 1, 600000);
  ctx.read(item, "backoff_max_ms", sink.backoff_max_ms, FilterBuildContext::Presence::Optional,
           100, 3600000);
  readHeaders(ctx, item, sink.headers);
  if (ctx.has(item, "akto_account_id") || ctx.has(item, "akto_vxlan_id")) {
    if (sink.format != HttpSinkFormat::Akto) {
      ctx.error(ctx.has(item, "akto_account_id") ? ctx.child(item, "akto_account_id")
                                                 : ctx.child(item, "akto_vxlan_id"),
                "reporter config: akto_account_id / akto_vxlan_id need format: akto");
    }
    readDigits(ctx, item, "akto_account_id", sink.akto.account_id);
    readDigits(ctx, item, "akto_vxlan_id", sink.akto.vxlan_id);
  }
  if (ctx.has(item, "name")) {
    if (ctx.read(item, "name", sink.name)) {
      bool ok = !sink.name.empty() && sink.name.size() <= 64 &&
                std::all_of(sink.name.begin(), sink.name.end(), [](char c) {
                  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
                });
      if (!ok) {
        ctx.error(ctx.child(item, "name"),
                  "reporter config: http sink name '" + sink.name +
                      "' must be 1-64 of a-z, 0-9, '_' and '-' (it names the spool file)");
        return;
      }
    }
  } else {
    sink.name = defaultSinkName(sink.url, format);
  }
  if (!names.insert(sink.name).second) {
    ctx.error(ctx.has(item, "name") ? ctx.child(item, "name") : ctx.child(item, "url"),
              "reporter config: two http sinks would share the spool '" + sink.name +
                  "' (give each a distinct name:)");
    return;
  }
  out.http.push_back(std::move(sink));
}

void readSinks(FilterBuildContext &ctx, const YAML::Node &cfg, ReporterSettings &out) {
  std::set<std::string> paths;
  std::set<std::string> names;
  for (const YAML::Node &item : ctx.items(cfg, "sinks")) {
    if (!item.IsMap()) {
      ctx.error(item, "reporter config: each sink must be a map with a 'type'");
      continue;
    }
    std::string type;
    if (!ctx.read(item, "type", type, FilterBuildContext::Presence::Required)) continue;
    if (type == "http") {
      readHttpSink(ctx, item, names, out);
      continue;
    }
    if (type != "jsonl") {
      std::string hint = closestName(type, std::vector<std::string>{"jsonl", "http"});
      ctx.error(ctx.child(item, "type"),
                "reporter config: unknown sink type '" + type + "' (known sink types: jsonl, http)" +
                    (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      continue;
    }
    ctx.rejectUnknownKeys(item, {"type", "path", "max_bytes", "keep"}, "jsonl sink");
    JsonlSinkConfig sink;
    sink.path = "events.jsonl";
    sink.max_bytes = kDefaultMaxBytes;
    sink.keep = kDefaultKeep;
    ctx.read(item, "path", sink.path);
    if (sink.path.empty()) sink.path = "events.jsonl";
    ctx.read(item, "max_bytes", sink.max_bytes, FilterBuildContext::Presence::Optional, 1024);
    ctx.read(item, "keep", sink.keep, FilterBuildContext::Presence::Optional, 0, 1000);
    if (!paths.insert(sink.path).second) {
      ctx.error(ctx.child(item, "path"), "reporter config: two jsonl sinks write " + sink.path);
      continue;
    }
    out.jsonl.push_back(std::move(sink));
  }
}

}  // namespace

std::unique_ptr<StreamFilter> ReporterFactory::createStreamFilter() {
  if (!reporter_) return nullptr;
  return std::make_unique<ReporterStreamFilter>(*this);
}

std::unique_ptr<ConnectionFilter> ReporterFactory::createConnectionFilter() {
  if (!reporter_) return nullptr;
  return std::make_unique<ReporterConnectionFilter>(*this);
}

void ReporterFactory::report(ReportEvent &&event) const {
  if (!reporter_) return;
  if (reporter_->submit(std::move(event))) {
    submitted_.fetch_add(1, std::memory_order_relaxed);
  } else {
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

std::vector<FilterStat> ReporterFactory::stats() const {
  std::vector<FilterStat> out = {{"reporter.events", submitted_.load(std::memory_order_relaxed)},
                                 {"reporter.dropped", dropped_.load(std::memory_order_relaxed)}};
  if (reporter_) {
    // The reporter service's own counts: the process's, continuous across rebuilds already.
    out.push_back({.name = "reporter.written", .value = reporter_->written(), .process_wide = true});
    out.push_back(
        {.name = "reporter.sink_errors", .value = reporter_->sinkErrors(), .process_wide = true});
    for (FilterStat &st : reporter_->httpStats()) {
      st.process_wide = true;
      out.push_back(std::move(st));
    }
  }
  return out;
}

Result<std::shared_ptr<FilterFactory>> buildReporter(FilterBuildContext &ctx) {
  const YAML::Node &cfg = ctx.config();
  if (!ctx.expectMap(cfg)) return ctx.fail();
  ctx.rejectUnknownKeys(
      cfg, {"sinks", "queue", "ring", "capture_bodies", "capture_max_bytes", "spool_bytes"});
  ReporterSettings settings;
  readSinks(ctx, cfg, settings);
  uint64_t queue = Reporter::kDefaultQueue;
  uint64_t ring = Reporter::kDefaultRing;
  uint64_t spool_bytes = 1073741824;
  ctx.read(cfg, "queue", queue, FilterBuildContext::Presence::Optional, 1, 1u << 24);
  ctx.read(cfg, "ring", ring, FilterBuildContext::Presence::Optional, 0, 1000000);
  ctx.read(cfg, "spool_bytes", spool_bytes, FilterBuildContext::Presence::Optional, 4096);
  ctx.read(cfg, "capture_bodies", settings.capture_bodies);
  uint64_t capture_max = settings.capture_max_bytes;
  ctx.read(cfg, "capture_max_bytes", capture_max, FilterBuildContext::Presence::Optional, 1,
           16u << 20);
  settings.capture_max_bytes = static_cast<size_t>(capture_max);
  if (ctx.state().reporter_seen) {
    ctx.error("only one reporter stage per chain: its sinks are the process's");
  }
  ctx.state().reporter_seen = true;
  if (ctx.hasErrors()) return ctx.fail();
  settings.queue = static_cast<size_t>(queue);
  settings.ring = static_cast<size_t>(ring);
  for (HttpSinkConfig &sink : settings.http) sink.spool_bytes = spool_bytes;
  return std::shared_ptr<FilterFactory>(
      std::make_shared<ReporterFactory>(ctx.state().reporter, std::move(settings)));
}

ReporterSettings reporterSettingsOf(const FilterChain &chain) {
  for (const auto &entry : chain.entries()) {
    if (const auto *f = dynamic_cast<const ReporterFactory *>(&entry.factory())) {
      return f->settings();
    }
  }
  ReporterSettings none;
  return none;
}

}  // namespace aiw
