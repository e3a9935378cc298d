#include "filters/reporter/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace aiw {

namespace {

Error ioError(std::string_view what, const std::string &path) {
  return makeError("io", std::string(what) + " " + path + ": " + std::strerror(errno));
}

Result<void> writeAll(int fd, const char *data, size_t len, const std::string &path) {
  for (size_t off = 0; off < len;) {
    ssize_t n = ::write(fd, data + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ioError("cannot write", path);
    off += static_cast<size_t>(n);
  }
  return {};
}

Result<size_t> preadSome(int fd, char *buf, size_t len, uint64_t at, const std::string &path) {
  for (;;) {
    ssize_t n = ::pread(fd, buf, len, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ioError("cannot read", path);
    return static_cast<size_t>(n);
  }
}

// Copies [from, to) of `src` to the end of `dst`.
Result<void> copyRange(int src, int dst, uint64_t from, uint64_t to, const std::string &path) {
  std::string buf(1 << 16, '\0');
  while (from < to) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), to - from));
    auto n = preadSome(src, buf.data(), want, from, path);
    if (!n.ok()) return n.error();
    if (n.value() == 0) return makeError("io", "spool " + path + " shrank while compacting");
    if (auto r = writeAll(dst, buf.data(), n.value(), path); !r.ok()) return r;
    from += n.value();
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Spool>> Spool::open(std::string path, uint64_t max_bytes) {
  std::unique_ptr<Spool> spool(new Spool(std::move(path), max_bytes));
  if (auto r = spool->load(); !r.ok()) return r.error();
  return spool;
}

Spool::~Spool() = default;

Result<void> Spool::load() {
  int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return ioError("cannot open", path_);
  fd_.reset(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return ioError("cannot stat", path_);
  inode_ = static_cast<uint64_t>(st.st_ino);
  size_ = static_cast<uint64_t>(st.st_size);
  // A batch whose write was cut short leaves a partial last line: it was never acknowledged to
  // anyone, and half a JSON object would poison every later batch.
  uint64_t keep = size_;
  char buf[4096];
  while (keep > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof buf, keep));
    auto n = preadSome(fd, buf, want, keep - want, path_);
    if (!n.ok()) return n.error();
    if (n.value() != want) return makeError("io", "short read of " + path_);
    size_t i = want;
    while (i > 0 && buf[i - 1] != '\n') --i;
    if (i > 0) {
      keep -= want - i;
      break;
    }
    keep -= want;
  }
  if (keep != size_) {
    if (::ftruncate(fd, static_cast<off_t>(keep)) != 0) return ioError("cannot truncate", path_);
    size_ = keep;
  }
  offset_ = 0;
  if (FILE *f = std::fopen(offset_path_.c_str(), "re")) {
    uint64_t ino = 0, off = 0;
    if (std::fscanf(f, "aiwspool1 %" SCNu64 " %" SCNu64, &ino, &off) == 2 && ino == inode_ &&
        off <= size_) {
      // Only a line boundary is a valid offset; anything else means the file is not the one
      // the offset was written for: deliver it all again (at-least-once).
      char prev = '\n';
      if (off > 0) {
        auto n = preadSome(fd, &prev, 1, off - 1, path_);
        if (!n.ok() || n.value() != 1) prev = 0;
      }
      if (prev == '\n') offset_ = off;
    }
    std::fclose(f);
  }
  return {};
}

Result<size_t> Spool::append(const std::vector<std::string> &lines) {
  std::string chunk;
  size_t total = 0;
  for (const std::string &line : lines) total += line.size() + 1;
  chunk.reserve(total);
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t pending = size_ - offset_;
    for (const std::string &line : lines) {
      if (pending + chunk.size() + line.size() + 1 > max_bytes_) {
        ++dropped;
        continue;
      }
      chunk += line;
      chunk += '\n';
    }
    if (!chunk.empty()) {
      if (auto r = writeAll(fd_.get(), chunk.data(), chunk.size(), path_); !r.ok()) {
        // Whatever part did get written ends without a full line or with fewer lines: put the
        // file back to what size_ says, so the reader never sees a partial batch.
        (void)::ftruncate(fd_.get(), static_cast<off_t>(size_));
        return r.error();
      }
      size_ += chunk.size();
    }
  }
  if (!chunk.empty()) data_cv_.notify_all();
  return dropped;
}

Result<SpoolBatch> Spool::read(size_t max_lines) {
  SpoolBatch batch;
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t at = offset_;
  std::string buf;
  std::string partial;
  while (batch.lines.size() < max_lines && at < size_) {
    buf.resize(static_cast<size_t>(std::min<uint64_t>(1 << 16, size_ - at)));
    auto n = preadSome(fd_.get(), buf.data(), buf.size(), at, path_);
    if (!n.ok()) return n.error();
    if (n.value() == 0) break;
    size_t start = 0;
    for (size_t i = 0; i < n.value() && batch.lines.size() < max_lines; ++i) {
      if (buf[i] != '\n') continue;
      partial.append(buf, start, i - start);
      batch.lines.push_back(std::move(partial));
      partial.clear();
      start = i + 1;
      batch.end = at + i + 1;
    }
    if (batch.lines.size() < max_lines) partial.append(buf, start, n.value() - start);
    at += n.value();
  }
  if (batch.lines.empty()) batch.end = offset_;
  return batch;
}

Result<void> Spool::ack(uint64_t end) {
  uint64_t inode, offset, size;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (end < offset_ || end > size_) return makeError("spool", "ack past the spool's end");
    offset_ = end;
    inode = inode_;
    offset = offset_;
    size = size_;
  }
  // Only this thread writes the offset file and compacts: no lock needed for either.
  if (offset == size || (offset >= kCompactMinBytes && offset * 2 >= size)) return compact();
  return writeOffset(inode, offset);
}

Result<void> Spool::writeOffset(uint64_t inode, uint64_t offset) {
  std::string tmp = offset_path_ + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return ioError("cannot open", tmp);
  char text[80];
  int len = std::snprintf(text, sizeof text, "aiwspool1 %" PRIu64 " %" PRIu64 "\n", inode, offset);
  if (auto r = writeAll(fd.get(), text, static_cast<size_t>(len), tmp); !r.ok()) return r;
  if (::fsync(fd.get()) != 0) return ioError("cannot fsync", tmp);
  if (::rename(tmp.c_str(), offset_path_.c_str()) != 0) return ioError("cannot rename", tmp);
  return {};
}

Result<void> Spool::compact() {
  uint64_t from, to;
  int src;
  {
    std::lock_guard<std::mutex> lock(mu_);
    from = offset_;
    to = size_;
    src = fd_.get();  // stays open: only this thread replaces fd_
  }
  UniqueFd tmp(::open(tmp_path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
  if (!tmp.valid()) return ioError("cannot open", tmp_path_);
  // The bulk without the lock: bytes before `to` never change.
  if (auto r = copyRange(src, tmp.get(), from, to, tmp_path_); !r.ok()) return r;
  if (::fdatasync(tmp.get()) != 0) return ioError("cannot fsync", tmp_path_);
  struct stat st;
  if (::fstat(tmp.get(), &st) != 0) return ioError("cannot stat", tmp_path_);
  uint64_t inode;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // What the appender added meanwhile (usually a batch or two).
    if (auto r = copyRange(src, tmp.get(), to, size_, tmp_path_); !r.ok()) return r;
    if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) return ioError("cannot rename", tmp_path_);
    fd_ = std::move(tmp);
    inode_ = static_cast<uint64_t>(st.st_ino);
    size_ -= from;
    offset_ = 0;
    inode = inode_;
  }
  // A crash before this line leaves an offset for the old inode: read as 0 of the new file.
  return writeOffset(inode, 0);
}

void Spool::waitForData(uint64_t beyond, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  data_cv_.wait_for(lock, timeout, [&] { return woken_ || size_ > beyond; });
  woken_ = false;
}

void Spool::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  data_cv_.notify_all();
}

Result<void> Spool::sync() {
  std::lock_guard<std::mutex> lock(mu_);
  if (::fsync(fd_.get()) != 0) return ioError("cannot fsync", path_);
  return {};
}

uint64_t Spool::pendingBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return size_ - offset_;
}

uint64_t Spool::fileBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return size_;
}

}  // namespace aiw
