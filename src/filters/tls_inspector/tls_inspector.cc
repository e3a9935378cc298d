#include "filters/tls_inspector/tls_inspector.h"

#include <yaml-cpp/yaml.h>

#include <string>

#include "tls/client_hello.h"

namespace aiw {
namespace {

// Bounds of the config values. max_bytes: below 512 even a minimal real hello (~200-500 bytes
// from openssl and curl) would be refused; above 64 KiB the per-connection peek buffer becomes
// a memory lever for an attacker, with no real hello anywhere near it.
constexpr uint64_t kMinMaxBytes = 512;
constexpr uint64_t kMaxMaxBytes = 65536;
constexpr uint32_t kMinTimeoutMs = 10;
constexpr uint32_t kMaxTimeoutMs = 60000;

class TlsInspectorFilter : public ConnectionFilter {
 public:
  // `counters` belongs to the factory, which outlives this filter: the ConnectionFilterChain
  // running it keeps the FilterChain (and so every factory) alive.
  TlsInspectorFilter(size_t max_bytes, TlsInspectorFactory::Counters* counters)
      : parser_(max_bytes), counters_(counters) {}

  Verdict onConnection(ConnectionInfo& conn, std::span<const uint8_t> peeked) override {
    // Absolute-form plain HTTP carries no ClientHello to read.
    if (!conn.is_connect) return Verdict::next();
    inspected_ = true;
    switch (parser_.feed(peeked)) {
      case HelloStatus::NeedMore:
        // Written now so that it stands if the chain stops waiting (bound, timeout, EOF); a
        // later call that completes the hello clears it.
        conn.tls = !peeked.empty();
        conn.tls_error = peeked.empty() ? "no ClientHello: the client sent nothing"
                                        : "incomplete ClientHello (" +
                                              std::to_string(peeked.size()) + " bytes received)";
        return Verdict::needMoreData();
      case HelloStatus::Done: {
        const ClientHelloInfo& hello = parser_.clientHello();
        conn.tls = true;
        conn.tls_error.clear();
        conn.sni = hello.sni;
        conn.alpn = hello.alpn;
        conn.tls_versions = hello.supported_versions.empty()
                                ? std::vector<uint16_t>{hello.legacy_version}
                                : hello.supported_versions;
        bump(counters_->hellos);
        return Verdict::next();
      }
      case HelloStatus::NotTls:
        conn.tls = false;
        conn.tls_error.clear();
        bump(counters_->not_tls);
        return Verdict::next();
      case HelloStatus::Malformed:
        conn.tls = true;
        conn.tls_error = parser_.error();
        bump(counters_->malformed);
        return Verdict::next();
    }
    return Verdict::next();
  }

  void onConnectionClose(const ConnectionInfo&) override {
    if (inspected_ && parser_.status() == HelloStatus::NeedMore) bump(counters_->incomplete);
  }

 private:
  static void bump(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

  ClientHelloParser parser_;
  TlsInspectorFactory::Counters* counters_;
  bool inspected_ = false;
};

}  // namespace

std::unique_ptr<ConnectionFilter> TlsInspectorFactory::createConnectionFilter() {
  return std::make_unique<TlsInspectorFilter>(static_cast<size_t>(config_.max_bytes), &counters_);
}

PeekLimits TlsInspectorFactory::peekLimits() const {
  return {static_cast<size_t>(config_.max_bytes), config_.timeout_ms};
}

std::vector<FilterStat> TlsInspectorFactory::stats() const {
  auto read = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  return {{"tls_inspector.hellos", read(counters_.hellos)},
          {"tls_inspector.not_tls", read(counters_.not_tls)},
          {"tls_inspector.malformed", read(counters_.malformed)},
          {"tls_inspector.incomplete", read(counters_.incomplete)}};
}

Result<std::shared_ptr<FilterFactory>> buildTlsInspector(FilterBuildContext& ctx) {
  using P = FilterBuildContext::Presence;
  const YAML::Node& cfg = ctx.config();
  if (!ctx.expectMap(cfg)) return ctx.fail();
  ctx.rejectUnknownKeys(cfg, {"timeout_ms", "max_bytes"});
  TlsInspectorConfig config;
  ctx.read(cfg, "timeout_ms", config.timeout_ms, P::Optional, kMinTimeoutMs, kMaxTimeoutMs);
  ctx.read(cfg, "max_bytes", config.max_bytes, P::Optional, kMinMaxBytes, kMaxMaxBytes);
  if (ctx.hasErrors()) return ctx.fail();
  return std::shared_ptr<FilterFactory>(std::make_shared<TlsInspectorFactory>(config));
}

}  // namespace aiw
