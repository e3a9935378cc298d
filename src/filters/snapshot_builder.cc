#include "filters/snapshot_builder.h"

#include "filters/builtin_filters.h"
#include "filters/chain.h"
#include "filters/registry.h"

namespace aiw {

Result<std::shared_ptr<const Snapshot>> buildSnapshot(Config config, uint64_t generation,
                                                      std::shared_ptr<Reporter> reporter,
                                                      const Snapshot* previous) {
  // The registry is rebuilt per call: builds are rare (start-up, reload) and this keeps it
  // free of global state.
  FilterRegistry registry;
  registerBuiltinFilters(registry);
  ChainBuildState inputs;
  inputs.rules_override_json = config.rules_override_json;
  inputs.fail_mode = config.fail_mode;
  inputs.reporter = reporter;
  inputs.previous = previous != nullptr ? previous->chain.get() : nullptr;
  auto chain = buildFilterChain(config.filters, registry, std::move(inputs));
  if (!chain.ok()) return chain.error();
  auto snap = std::make_shared<Snapshot>();
  snap->config = std::move(config);
  snap->chain = std::move(chain.value());
  snap->generation = generation;
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

Result<void> validateFilterSpecs(const std::vector<FilterSpec>& specs) {
  FilterRegistry registry;
  registerBuiltinFilters(registry);
  auto chain = buildFilterChain(specs, registry);
  if (!chain.ok()) return chain.error();
  return {};
}

}  // namespace aiw
