// Spool: the on-disk queue of one http sink (STATE_DIR/spool/<sink>.log), so that events wait
// on disk, not in memory, while the sink is down, and survive a crash of the process.
//
// Files: `<sink>.log` holds one event per line (already in the sink's wire format), appended in
// order; `<sink>.log.offset` records how far delivery got: "aiwspool1 <inode> <offset>\n",
// rewritten (tmp + fsync + rename) after each acknowledged batch. The inode ties the offset to
// one incarnation of the log: compaction replaces the log by a new file (new inode), so a crash
// between the replacement and the offset rewrite reads as "offset 0 of the new file" — never as
// an offset into the wrong file. A partial last line (a write cut short) is dropped at open.
//
// Compaction (on the delivery thread, in ack()): when everything is delivered, or when the
// delivered prefix is at least kCompactMinBytes and at least half the file, the undelivered tail
// is copied into `<sink>.log.tmp` (without the lock: appended bytes never change), the few bytes
// appended meanwhile are copied under the lock, and the tmp file is renamed over the log.
//
// Bound: `max_bytes` bounds the undelivered bytes; a line that would go past it is dropped and
// counted (the caller reports it). The delivered prefix waits for compaction, so the file can
// transiently hold up to max(max_bytes, kCompactMinBytes) more.
//
// Durability: append() write(2)s each batch at once (a killed process loses nothing appended);
// sync() fsyncs the log (the owner calls it on a timer and at shutdown); ack() fsyncs the offset
// file before renaming it into place.
//
// Threads: one appender (the reporter thread) and one reader (the sink's sender thread). All
// state is guarded by mu_; the lock is held for a write(2) of one batch, a pread of one batch or
// the final delta of a compaction, never across network I/O.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/c_handles.h"
#include "core/result.h"

namespace aiw {

struct SpoolBatch {
  std::vector<std::string> lines;  // without their newlines
  uint64_t end = 0;                // the offset just past the last line: what ack() takes
};

class Spool {
 public:
  static constexpr uint64_t kCompactMinBytes = 4u << 20;

  // Opens (creating, mode 0600) `path` and its offset file; delivery resumes at the recorded
  // offset. The directory must exist.
  static Result<std::unique_ptr<Spool>> open(std::string path, uint64_t max_bytes);
  ~Spool();
  Spool(const Spool &) = delete;
  Spool &operator=(const Spool &) = delete;

  // Appender. Appends the lines that fit under the bound, in order; returns how many did not
  // (they are dropped). Wakes a reader waiting in waitForData().
  Result<size_t> append(const std::vector<std::string> &lines);
  // Reader. Up to `max_lines` undelivered lines, oldest first (empty when all are delivered).
  Result<SpoolBatch> read(size_t max_lines);
  // Reader. Everything before `end` (a SpoolBatch::end) is delivered: records it durably and
  // compacts when due.
  Result<void> ack(uint64_t end);
  // Reader. Waits until the log extends past `beyond` (a SpoolBatch::end: more than was read),
  // wake() is called, or `timeout` passes.
  void waitForData(uint64_t beyond, std::chrono::milliseconds timeout);
  void wake();
  // fsync(2) of the log.
  Result<void> sync();

  uint64_t pendingBytes() const;  // undelivered
  uint64_t fileBytes() const;     // the log's size
  const std::string &path() const { return path_; }

 private:
  Spool(std::string path, uint64_t max_bytes) : path_(std::move(path)), max_bytes_(max_bytes) {}
  Result<void> load();
  Result<void> writeOffset(uint64_t inode, uint64_t offset);
  Result<void> compact();

  const std::string path_;
  const std::string offset_path_ = path_ + ".offset";
  const std::string tmp_path_ = path_ + ".tmp";
  const uint64_t max_bytes_;

  mutable std::mutex mu_;
  std::condition_variable data_cv_;  // waits on mu_
  UniqueFd fd_;                      // guarded by mu_ (replaced by compaction)
  uint64_t inode_ = 0;               // guarded by mu_
  uint64_t size_ = 0;                // guarded by mu_
  uint64_t offset_ = 0;              // guarded by mu_; changed by the reader only
  bool woken_ = false;               // guarded by mu_
};

}  // namespace aiw
