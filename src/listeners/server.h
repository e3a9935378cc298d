// Server: the whole running proxy — workers with their data-plane listeners, the admin API and
// signal handling on the main thread, reloads (SIGHUP, POST /proxy/v1/reload) and the graceful
// drain on SIGTERM/SIGINT.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/result.h"

namespace aiw {

struct ServerOptions {
  std::string config_path;  // empty: the embedded default configuration
  std::string state_dir_override;  // --state-dir
};

// Runs until drained; returns the process exit code (0 after a clean drain, 1 when start-up
// failed — the reason has been logged).
int runServer(const ServerOptions& options, Config initial);

// Loads the configuration the options name (file or embedded default).
Result<Config> loadConfigFor(const ServerOptions& options);

}  // namespace aiw
