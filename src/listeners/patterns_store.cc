#include "listeners/patterns_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "core/log.h"
#include "filters/domain_classifier/patterns_json.h"
#include "filters/snapshot_builder.h"
#include "listeners/snapshot_publish.h"

namespace aiw {

std::string patternsFilePath(const std::string& state_dir) {
  return state_dir + "/patterns.json";
}

std::optional<std::string> readStoredFile(const std::string& path, std::string_view what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) return std::nullopt;  // the usual
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    log::error("cannot read the stored " + std::string(what) + "; keeping the configured ones",
               {{"path", path}, {"error", std::strerror(errno)}});
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void applyStoredPatterns(Config& config, const std::string& state_dir) {
  const std::string path = patternsFilePath(state_dir);
  auto text = readStoredFile(path, "patterns");
  if (!text) return;
  auto parsed = parsePatternsJson(*text, DefaultAction::Bypass);
  if (!parsed.errors.empty()) {
    std::string all;
    for (const auto& e : parsed.errors) all += (all.empty() ? "" : "; ") + e;
    log::error("invalid stored patterns; keeping the configured lists",
               {{"path", path}, {"errors", all}});
    return;
  }
  auto r = overridePatterns(config.filters, std::move(parsed.config), !parsed.has_default);
  if (!r.ok()) {
    log::warn("stored patterns not applied", {{"path", path}, {"reason", r.error().message}});
    return;
  }
  log::info("stored patterns applied", {{"path", path}});
}

Result<void> writeFileAtomically(const std::string& path, const std::string& content,
                                 unsigned mode) {
  const std::string tmp = path + ".tmp";
  auto fail = [&](const char* what) {
    return makeError("io", std::string(what) + " " + tmp + ": " + std::strerror(errno));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return fail("cannot create");
  // O_CREAT's mode is filtered by the umask and ignored for an existing file; fchmod is not.
  bool good = ::fchmod(fd, mode) == 0;
  for (size_t off = 0; good && off < content.size();) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    good = n > 0;
    if (good) off += static_cast<size_t>(n);
  }
  good = good && ::fsync(fd) == 0;
  if (!good) {
    auto err = fail("cannot write");
    ::close(fd);
    ::unlink(tmp.c_str());
    return err;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto err =
        makeError("io", "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
    ::unlink(tmp.c_str());
    return err;
  }
  return {};
}

Result<void> replacePatterns(Runtime& runtime, const DomainClassifierConfig& patterns) {
  auto current = runtime.snapshot.get();
  Config config = current->config;
  if (auto r = overridePatterns(config.filters, patterns, false); !r.ok()) return r.error();
  auto next = buildSnapshot(std::move(config), current->generation + 1, runtime.reporter,
                           current.get());
  if (!next.ok()) return next.error();
  // Written before the swap: an update that could not be kept is not applied either.
  if (auto r = writeFileAtomically(patternsFilePath(runtime.state_dir), patternsToJson(patterns),
                                   0600);
      !r.ok()) {
    return r.error();
  }
  publishSnapshot(runtime, next.value());
  log::info("patterns updated", {{"generation", std::to_string(next.value()->generation)}});
  return {};
}

}  // namespace aiw
