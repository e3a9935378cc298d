// The admin shared secret (SPEC §1): the configured token (usually ${PROXY_TOKEN}), else the
// one stored in STATE_DIR/admin-token, else a new random one written there with mode 0600.
#pragma once

#include <string>

#include "core/result.h"

namespace aiw {

Result<std::string> ensureAdminToken(const std::string& configured, const std::string& state_dir);
// Creates the directory and its parents (mode 0700 for the ones it creates).
Result<void> makeDirectories(const std::string& path);

}  // namespace aiw
