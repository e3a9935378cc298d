// tls_inspector (SPEC §5): reads the TLS ClientHello of a CONNECT tunnel from the peeked bytes,
// without consuming them, and records what it says in ConnectionInfo (tls, tls_error, sni,
// alpn, tls_versions) for the filters after it. It decides nothing itself: a hello that cannot
// be parsed is recorded in tls_error, and the classifier refuses it where it must intercept.
//
//   filter: tls_inspector
//   config:
//     timeout_ms: 3000   # how long the listener waits for the hello (10..60000)
//     max_bytes: 16384   # largest hello accepted, record headers included (512..65536)
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/result.h"
#include "filters/filter.h"
#include "filters/registry.h"

namespace aiw {

struct TlsInspectorConfig {
  uint32_t timeout_ms = 3000;
  uint64_t max_bytes = 16384;
};

class TlsInspectorFactory : public FilterFactory {
 public:
  // Bumped once per inspected connection by the worker that owns it; relaxed: statistics only.
  struct Counters {
    std::atomic<uint64_t> hellos{0};      // ClientHellos parsed whole
    std::atomic<uint64_t> not_tls{0};     // CONNECTs whose client spoke something else first
    std::atomic<uint64_t> malformed{0};   // TLS-shaped but unusable (includes too large)
    std::atomic<uint64_t> incomplete{0};  // closed while the hello was still partial
  };

  explicit TlsInspectorFactory(TlsInspectorConfig config) : config_(config) {}

  std::unique_ptr<ConnectionFilter> createConnectionFilter() override;
  PeekLimits peekLimits() const override;
  std::vector<FilterStat> stats() const override;

  const TlsInspectorConfig& config() const { return config_; }
  // Mutable through a const factory: the factory is shared read-only, its counters are not.
  Counters& counters() const { return counters_; }

 private:
  TlsInspectorConfig config_;
  mutable Counters counters_;
};

// The registry builder: validates `config:` (unknown keys, ranges) and returns the factory.
Result<std::shared_ptr<FilterFactory>> buildTlsInspector(FilterBuildContext& ctx);

}  // namespace aiw
