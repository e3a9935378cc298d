#include "filters/reporter/reporter_filter.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "core/log.h"

namespace aiw {

namespace {

class ReporterStreamFilter : public StreamFilter {
 public:
  // `factory` outlives the filter: the chain that created it keeps the factory
  // alive.
  explicit ReporterStreamFilter(const ReporterFactory &factory) : factory_(factory) {}

  void onComplete(const StreamInfo &s) override {
    ReportEvent exchange = exchangeEvent(s, std::chrono::system_clock::now());
    // Security events first in the queue would name an exchange id not yet
    // seen; the exchange goes first.
    std::vector<ReportEvent> security = securityEvents(s, exchange);
    factory_.report(std::move(exchange));
    for (ReportEvent &e : security) factory_.report(std::move(e));
  }

 private:
  const ReporterFactory &factory_;
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

void readSinks(FilterBuildContext &ctx, const YAML::Node &cfg, ReporterSettings &out) {
  std::set<std::string> paths;
  for (const YAML::Node &item : ctx.items(cfg, "sinks")) {
    if (!item.IsMap()) {
      ctx.error(item, "reporter config: each sink must be a map with a 'type'");
      continue;
    }
    std::string type;
    if (!ctx.read(item, "type", type, FilterBuildContext::Presence::Required)) continue;
    if (type == "http") {
      ctx.error(ctx.child(item, "type"),
                "reporter config: the http sink is not available in this build "
                "(known sink "
                "types: jsonl)");
      continue;
    }
    if (type != "jsonl") {
      std::string hint = closestName(type, std::vector<std::string>{"jsonl"});
      ctx.error(ctx.child(item, "type"),
                "reporter config: unknown sink type '" + type + "' (known sink types: jsonl)" +
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

void ReporterFactory::report(ReportEvent event) const {
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
    out.push_back({"reporter.written", reporter_->written()});
    out.push_back({"reporter.sink_errors", reporter_->sinkErrors()});
  }
  return out;
}

Result<std::shared_ptr<FilterFactory>> buildReporter(FilterBuildContext &ctx) {
  const YAML::Node &cfg = ctx.config();
  if (!ctx.expectMap(cfg)) return ctx.fail();
  ctx.rejectUnknownKeys(cfg, {"sinks", "queue", "ring", "capture_bodies", "spool_bytes"});
  ReporterSettings settings;
  readSinks(ctx, cfg, settings);
  uint64_t queue = Reporter::kDefaultQueue;
  uint64_t ring = Reporter::kDefaultRing;
  uint64_t spool_bytes = 0;
  ctx.read(cfg, "queue", queue, FilterBuildContext::Presence::Optional, 1, 1u << 24);
  ctx.read(cfg, "ring", ring, FilterBuildContext::Presence::Optional, 0, 1000000);
  ctx.read(cfg, "spool_bytes", spool_bytes);
  ctx.read(cfg, "capture_bodies", settings.capture_bodies);
  if (ctx.state().reporter_seen) {
    ctx.error("only one reporter stage per chain: its sinks are the process's");
  }
  ctx.state().reporter_seen = true;
  if (ctx.hasErrors()) return ctx.fail();
  settings.queue = static_cast<size_t>(queue);
  settings.ring = static_cast<size_t>(ring);
  if (settings.capture_bodies && ctx.state().reporter) {
    log::warn(
        "reporter: capture_bodies is not available in this build; bodies "
        "are not captured");
  }
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
