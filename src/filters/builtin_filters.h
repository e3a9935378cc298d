// The filters compiled into aiwarden, registered by one explicit list (DESIGN.md): static
// self-registration is avoided because a static library drops objects nothing refers to.
#pragma once

#include "filters/registry.h"

namespace aiw {

// Adds every builtin filter (SPEC.md §5) to `registry`. Call once at start-up, before the
// configuration is loaded; the registry is then only read.
void registerBuiltinFilters(FilterRegistry& registry);

// A registry holding exactly the builtin filters: what `aiwarden run` and `aiwarden check` use.
FilterRegistry builtinFilterRegistry();

}  // namespace aiw
