// The configuration loader (SPEC.md §3): YAML text -> a validated, typed Config, with every
// problem reported as "FILE:LINE: message" (all of them at once, so `aiwarden check` shows the
// whole list). Filter names and the filters' own `config` maps are not checked here: the
// filter registry does that when it builds the chain.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"

namespace aiw {

// Checks the filter specs against the filter registry (which core does not know). Given to the
// loader so that a file with other errors still gets its filters checked: `aiwarden check`
// lists every problem at once, not the filters only after the rest is fixed.
using FilterSpecValidator = std::function<Result<void>(const std::vector<FilterSpec>&)>;

// Reads and validates a configuration file; `filters_dir` is relative to the file's directory.
// On failure: Error{"config", lines "FILE:LINE: message" joined by "\n"}; when there are such
// errors and `validate_filters` is set, its errors follow.
Result<Config> loadConfigFile(const std::string& path,
                              const FilterSpecValidator& validate_filters = nullptr);

// Same, from text already in memory. `source_name` is the FILE of error lines and
// Config::source; `base_dir` is what a relative `filters_dir` is relative to (empty: the
// current directory). With source_name "<embedded>", `filters_dir: filters.d` names the
// filters.d compiled into the binary.
Result<Config> loadConfigText(std::string_view text, const std::string& source_name,
                              const std::string& base_dir,
                              const FilterSpecValidator& validate_filters = nullptr);

// The configuration compiled into the binary (config/default.yaml and filters.d/), what
// `aiwarden` runs with no -c.
Result<Config> loadEmbeddedDefaultConfig();

// STATE_DIR (SPEC §2): `cli_override` (--state-dir) if non-empty, else `configured` (the
// config's `state_dir`, relative to the current directory as written), else
// $XDG_STATE_HOME/aiwarden, else $HOME/.local/state/aiwarden, else /var/lib/aiwarden.
std::string resolveStateDir(const std::string& cli_override, const std::string& configured);

// The effective configuration as YAML (`aiwarden run --print-config`); loadConfigText reads it
// back to an equal Config. The chain is written inline as `filters:`. With `mask_secrets`, the
// admin token and secret-looking keys inside filter configs are written as "***".
std::string configToYaml(const Config& config, bool mask_secrets);

// The effective configuration as JSON for the admin `/config_dump`; secrets always masked.
std::string configToJson(const Config& config);

}  // namespace aiw
