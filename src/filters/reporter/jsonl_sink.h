// JsonlSink: events appended to a file, one JSON object per line, rotated by
// size.
//
// Rotation: before a line that would take the file past max_bytes (and the file
// is not empty), the file is fsynced and renamed FILE → FILE.1 (FILE.1 → FILE.2
// …, FILE.<keep> removed), and a new FILE is opened. keep = 0 keeps no old
// file.
//
// Durability (fsync policy): each batch the reporter thread drains is written
// with as few write(2) calls as rotation allows (one when no rotation falls
// inside it), so a crash loses at most what the kernel had not written back;
// fsync runs on rotation (the renamed file is complete on disk) and on sync() —
// the reporter calls it at shutdown (SIGTERM) and when the sink is closed by a
// reconfiguration. No fsync per batch: it would cost a disk flush per event at
// low rates for little gain, since events are telemetry, not a journal.
//
// Threads: used by the reporter thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/c_handles.h"
#include "core/result.h"

namespace aiw {

struct JsonlSinkConfig {
  std::string path;  // absolute (the reporter resolves a relative one against STATE_DIR)
  uint64_t max_bytes = 104857600;
  uint32_t keep = 5;
  bool operator==(const JsonlSinkConfig &) const = default;
};

class JsonlSink {
 public:
  // Opens (creating, mode 0600) the file for appending.
  static Result<std::unique_ptr<JsonlSink>> open(JsonlSinkConfig config);
  ~JsonlSink();
  JsonlSink(const JsonlSink &) = delete;
  JsonlSink &operator=(const JsonlSink &) = delete;

  // Appends each line (a JSON object without its newline), rotating as needed.
  Result<void> write(const std::vector<std::string> &lines);
  // fsync(2) of the current file.
  Result<void> sync();
  const JsonlSinkConfig &config() const { return config_; }
  uint64_t size() const { return size_; }

 private:
  explicit JsonlSink(JsonlSinkConfig config) : config_(std::move(config)) {}
  Result<void> openFile();
  Result<void> rotate();
  Result<void> writeAll(const std::string &data);

  JsonlSinkConfig config_;
  UniqueFd fd_;
  uint64_t size_ = 0;  // of the current file
};

}  // namespace aiw
