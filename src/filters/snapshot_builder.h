// Builds the immutable Snapshot from a loaded Config: the filter chain is made from the
// builtin registry, so every filter's own config is validated here (start-up, `check`,
// reloads and admin updates all come through this one function).
#pragma once

#include <memory>

#include "filters/reporter/reporter.h"

#include "core/config.h"
#include "core/result.h"
#include "core/snapshot.h"

namespace aiw {

// `reporter`: the process's reporting service (Runtime::reporter), handed to the reporter stage.
// Its sinks follow the chain only when the snapshot is published (listeners/snapshot_publish.h).
// Null for `check` and tests: nothing is reported.
// `previous`: the snapshot this one replaces (a reload, an admin update); its stages hand their
// live state to the new ones that keep it (FilterChain::inheritStateFrom). Null at start-up.
Result<std::shared_ptr<const Snapshot>> buildSnapshot(Config config, uint64_t generation,
                                                      std::shared_ptr<Reporter> reporter = nullptr,
                                                      const Snapshot* previous = nullptr);

// Builds (and drops) the chain of `specs`: every unknown filter and filter config error.
Result<void> validateFilterSpecs(const std::vector<FilterSpec>& specs);

}  // namespace aiw
