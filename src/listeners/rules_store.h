// The live side of PUT /proxy/v1/rules and POST /proxy/v1/reset: a new snapshot whose
// rule_evaluator (and pattern_matcher database, which compiles the rules' match_patterns) carries
// the new rules, swapped in for new exchanges, and STATE_DIR/rules.json so the rules outlive
// restarts and reloads. A reset removes the file: the configured rules are back. Runs on the main
// thread only (admin server, reload), never concurrently.
#pragma once

#include <optional>
#include <string>

#include "core/config.h"
#include "core/result.h"
#include "core/runtime.h"

namespace aiw {

std::string rulesFilePath(const std::string& state_dir);

// Sets config.rules_override_json from STATE_DIR/rules.json when it exists and is a valid
// ruleset. A file that cannot be read or is invalid is logged (naming it) and ignored: the
// configured rules stay, and the proxy still starts.
void applyStoredRules(Config& config, const std::string& state_dir);

// `rules_json` (validated by the caller) replaces the active rules; nullopt restores the
// configured ones. The snapshot is built first, then the file written (or removed), then the
// snapshot published: what could not be kept is not applied. The new chain's stages take over
// the counters and live state of the ones they replace, unless `fresh` (a reset: as at
// start-up). Errors: "config" (the chain refused it, e.g. no rule_evaluator), "io".
Result<void> replaceRules(Runtime& runtime, std::optional<std::string> rules_json,
                          bool fresh = false);

}  // namespace aiw
