#include "listeners/rules_store.h"

#include <errno.h>
#include <unistd.h>

#include <cstring>

#include "core/log.h"
#include "filters/rule_evaluator/rules.h"
#include "filters/snapshot_builder.h"
#include "listeners/patterns_store.h"
#include "listeners/snapshot_publish.h"

namespace aiw {

std::string rulesFilePath(const std::string& state_dir) { return state_dir + "/rules.json"; }

void applyStoredRules(Config& config, const std::string& state_dir) {
  const std::string path = rulesFilePath(state_dir);
  auto text = readStoredFile(path, "rules");
  if (!text) return;
  if (auto parsed = RuleSet::fromJson(*text); !parsed.ok()) {
    log::error("invalid stored rules; keeping the configured ones",
               {{"path", path}, {"errors", parsed.error().message}});
    return;
  }
  config.rules_override_json = std::move(*text);
  log::info("stored rules applied", {{"path", path}});
}

Result<void> replaceRules(Runtime& runtime, std::optional<std::string> rules_json, bool fresh) {
  auto current = runtime.snapshot.get();
  Config config = current->config;
  config.rules_override_json = rules_json.value_or("");
  auto next = buildSnapshot(std::move(config), current->generation + 1, runtime.reporter,
                           fresh ? nullptr : current.get());
  if (!next.ok()) return next.error();
  const std::string path = rulesFilePath(runtime.state_dir);
  if (rules_json) {
    if (auto r = writeFileAtomically(path, *rules_json, 0600); !r.ok()) return r.error();
  } else if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return makeError("io", "cannot remove " + path + ": " + std::strerror(errno));
  }
  publishSnapshot(runtime, next.value());
  log::info(rules_json ? "rules updated" : "rules reset to the configured ones",
            {{"generation", std::to_string(next.value()->generation)}});
  return {};
}

}  // namespace aiw
