#include "filters/reporter/jsonl_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace aiw {

namespace {

Error ioError(std::string_view what, const std::string &path) {
  return makeError("io", std::string(what) + " " + path + ": " + std::strerror(errno));
}

}  // namespace

Result<std::unique_ptr<JsonlSink>> JsonlSink::open(JsonlSinkConfig config) {
  std::unique_ptr<JsonlSink> sink(new JsonlSink(std::move(config)));
  if (auto r = sink->openFile(); !r.ok()) return r.error();
  return sink;
}

JsonlSink::~JsonlSink() = default;

Result<void> JsonlSink::openFile() {
  int fd = ::open(config_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return ioError("cannot open", config_.path);
  fd_.reset(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return ioError("cannot stat", config_.path);
  size_ = static_cast<uint64_t>(st.st_size);
  return {};
}

Result<void> JsonlSink::writeAll(const std::string &data) {
  for (size_t off = 0; off < data.size();) {
    ssize_t n = ::write(fd_.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ioError("cannot write", config_.path);
    off += static_cast<size_t>(n);
    size_ += static_cast<uint64_t>(n);
  }
  return {};
}

Result<void> JsonlSink::rotate() {
  // Complete on disk before it is renamed away: the rotated files are never
  // written again.
  if (fd_.valid() && ::fsync(fd_.get()) != 0) return ioError("cannot fsync", config_.path);
  fd_.reset();
  const std::string &p = config_.path;
  if (config_.keep == 0) {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return ioError("cannot remove", p);
  } else {
    // The oldest is overwritten by the rename below it; ENOENT is a gap, not an
    // error.
    for (uint32_t i = config_.keep - 1; i >= 1; --i) {
      std::string from = p + "." + std::to_string(i);
      std::string to = p + "." + std::to_string(i + 1);
      if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
        return ioError("cannot rename", from);
      }
    }
    if (::rename(p.c_str(), (p + ".1").c_str()) != 0 && errno != ENOENT) {
      return ioError("cannot rename", p);
    }
  }
  return openFile();
}

Result<void> JsonlSink::write(const std::vector<std::string> &lines) {
  if (!fd_.valid()) {
    if (auto r = openFile(); !r.ok()) return r;
  }
  std::string chunk;
  size_t total = 0;
  for (const std::string &line : lines) total += line.size() + 1;
  chunk.reserve(static_cast<size_t>(std::min<uint64_t>(total, config_.max_bytes)));
  for (const std::string &line : lines) {
    uint64_t pending = size_ + chunk.size();
    if (pending > 0 && pending + line.size() + 1 > config_.max_bytes) {
      if (auto r = writeAll(chunk); !r.ok()) return r;
      chunk.clear();
      if (size_ > 0) {
        if (auto r = rotate(); !r.ok()) return r;
      }
    }
    chunk += line;
    chunk += '\n';
  }
  return writeAll(chunk);
}

Result<void> JsonlSink::sync() {
  if (fd_.valid() && ::fsync(fd_.get()) != 0) return ioError("cannot fsync", config_.path);
  return {};
}

}  // namespace aiw
