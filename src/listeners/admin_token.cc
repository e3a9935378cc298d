#include "listeners/admin_token.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/log.h"

namespace aiw {

Result<void> makeDirectories(const std::string& path) {
  if (path.empty()) return makeError("state_dir", "empty directory path");
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return makeError("state_dir", "cannot create " + partial + ": " + std::strerror(errno));
    }
  }
  return {};
}

Result<std::string> ensureAdminToken(const std::string& configured, const std::string& state_dir) {
  if (!configured.empty()) return configured;
  std::string path = state_dir + "/admin-token";
  {
    std::ifstream in(path);
    if (in) {
      std::string token;
      std::getline(in, token);
      if (!token.empty()) {
        log::info("admin token read from file", {{"path", path}});
        return token;
      }
    }
  }
  if (auto r = makeDirectories(state_dir); !r.ok()) return r.error();
  unsigned char raw[24];
  if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw)) {
    return makeError("admin_token", std::string("getrandom: ") + std::strerror(errno));
  }
  static const char* hex = "0123456789abcdef";
  std::string token;
  for (unsigned char c : raw) {
    token += hex[c >> 4];
    token += hex[c & 0xf];
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return makeError("admin_token", "cannot write " + path + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);  // an existing file with looser bits is tightened too
  std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return makeError("admin_token", "cannot write " + path);
  log::info("admin token generated (set PROXY_TOKEN to choose one)", {{"path", path}});
  return token;
}

}  // namespace aiw
