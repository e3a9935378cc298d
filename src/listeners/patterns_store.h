// The live side of PUT /proxy/v1/patterns: a new snapshot carrying the new domain_classifier
// lists, swapped in for new connections (existing ones keep theirs), and STATE_DIR/patterns.json
// so that the update outlives restarts and reloads (start-up and every reload apply it over the
// configured lists). Runs on the main thread only (admin server, reload), never concurrently.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/result.h"
#include "core/runtime.h"
#include "filters/domain_classifier/domain_classifier.h"

namespace aiw {

std::string patternsFilePath(const std::string& state_dir);

// Applies STATE_DIR/patterns.json, when it exists, over `config`'s domain_classifier lists. A
// file that cannot be read or is invalid is logged (naming it) and ignored: the configured lists
// stay, and the proxy still starts.
void applyStoredPatterns(Config& config, const std::string& state_dir);

// Builds the snapshot with `patterns` (generation + 1), writes STATE_DIR/patterns.json, then
// publishes the snapshot. Errors: "no_domain_classifier", "config" (the build refused it),
// "io" (the file could not be written: nothing changed).
Result<void> replacePatterns(Runtime& runtime, const DomainClassifierConfig& patterns);

// The content of a file the admin API stored in STATE_DIR; nullopt when there is none, or when it
// cannot be read (logged with its path: the configured `what` stays in force).
std::optional<std::string> readStoredFile(const std::string& path, std::string_view what);

// Writes `content` to `path` via a temporary file in the same directory, fsynced, then renamed
// over it, with `mode`: a crash leaves the old file or the new one, never half of one.
Result<void> writeFileAtomically(const std::string& path, const std::string& content,
                                 unsigned mode);

}  // namespace aiw
