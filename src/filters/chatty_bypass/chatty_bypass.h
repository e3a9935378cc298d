// chatty_bypass (SPEC.md §5): every connection the classifier did not mark for interception
// becomes a blind tunnel: Verdict Bypass, ConnectionInfo::bypassed set, never decrypted. It runs
// after domain_classifier and decides nothing else; a connection to be intercepted continues.
// Bypasses are counted per traffic class, across all workers.
//
// Config: none (`config:` absent or an empty map; any key is an error).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/result.h"
#include "filters/filter.h"
#include "filters/registry.h"

namespace aiw {

// A plain copy of the bypass counters (for /proxy/v1/filters and /metrics).
struct ChattyBypassCounts {
  uint64_t ai = 0;       // class ai, yet not to be intercepted (a later filter cleared intercept)
  uint64_t chatty = 0;   // chatty_domains
  uint64_t unknown = 0;  // everything else (default, proxy: false patterns)
  uint64_t total() const { return ai + chatty + unknown; }
};

class ChattyBypassFactory : public FilterFactory {
 public:
  std::unique_ptr<ConnectionFilter> createConnectionFilter() override;

  ChattyBypassCounts counts() const;
  // counts() as "chatty_bypass.bypassed_<class>".
  std::vector<FilterStat> stats() const override;
  // Counts one bypass of class `c` (called by the filter, on any worker).
  void countBypass(TrafficClass c) const;

 private:
  // Indexed by TrafficClass; relaxed: statistics, not synchronization.
  mutable std::array<std::atomic<uint64_t>, 3> bypasses_{};
};

// The registry builder of `chatty_bypass` (builtin_filters.cc).
Result<std::shared_ptr<FilterFactory>> buildChattyBypass(FilterBuildContext& ctx);

}  // namespace aiw
