// One compiled Hyperscan database holding every detector of a snapshot (packs, configured
// patterns, and each rule's match_pattern), compiled once for block mode (whole request texts)
// and once for stream mode (response bodies, chunk by chunk: a match split across chunks is
// found). Immutable once built; shared by every worker. Scratch space is per worker
// (PatternScratch); Hyperscan's scanning calls are then lock-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "filters/pattern_matcher/detectors.h"
#include "filters/pattern_matcher/digit_gate.h"

struct hs_scratch;
struct hs_stream;

namespace aiw {

struct MainScan;

// A match of detector `detector` (an index into PatternDatabase::detectors()) over the bytes
// [from, to) of the scanned text (stream mode: offsets since the start of the stream).
struct PatternHit {
  uint32_t detector = 0;
  uint64_t from = 0;
  uint64_t to = 0;
};

class PatternDatabase {
 public:
  // Compiles every spec. Each spec that Hyperscan refuses is one error line
  // "<id>: <hyperscan's message>" (all of them, not just the first), Error{"bad_pattern", lines
  // joined by "\n"}. Duplicate ids are an error too. An empty list compiles to a database that
  // never matches.
  static Result<std::shared_ptr<const PatternDatabase>> compile(std::vector<DetectorSpec> specs);
  // Whether `regex` compiles alone with the flags compile() uses (so a rule's match_pattern can be
  // checked when the ruleset is validated). Error{"bad_pattern", hyperscan's message}.
  static Result<void> checkRegex(std::string_view regex, bool caseless = false);

  ~PatternDatabase();
  PatternDatabase(const PatternDatabase&) = delete;
  PatternDatabase& operator=(const PatternDatabase&) = delete;

  const std::vector<DetectorSpec>& detectors() const { return specs_; }
  // The index of the detector with this id, or -1.
  int64_t indexOf(std::string_view id) const;
  // A process-unique number, so a worker's scratch can tell it was made for another database.
  uint64_t serial() const { return serial_; }

  // The compiled Hyperscan databases; opaque outside the pattern matcher (pattern_engine.h).
  struct Engine;

 private:
  friend class PatternScratch;
  friend class PatternStream;
  PatternDatabase();

  std::vector<DetectorSpec> specs_;
  std::unique_ptr<const Engine> engine_;  // null when there are no specs
  uint64_t serial_ = 0;
};

// Per-worker scratch space. Re-allocated when handed a different database (a reload).
class PatternScratch {
 public:
  PatternScratch();
  ~PatternScratch();
  PatternScratch(const PatternScratch&) = delete;
  PatternScratch& operator=(const PatternScratch&) = delete;

  // Scans `text` whole. Hits are appended to `out`: one per distinct match (a detector matching
  // the same bytes more than once is reported once; overlapping hits of one detector are merged),
  // only those whose validator accepts the matched bytes, ordered by `from`. Errors:
  // "scan_error" (Hyperscan failed; the message says why).
  Result<void> scanBlock(const PatternDatabase& db, std::string_view text,
                         std::vector<PatternHit>& out);

 private:
  friend class PatternStream;
  Result<void> prepare(const PatternDatabase& db);
  // Scans the digit-gated expressions over the ranges of `bytes` (at `offset` in the text or
  // stream) that hold a cluster of digits. `ends_data`: the last byte of `bytes` is the last of
  // the text, so a match may end there; otherwise matches within two bytes of the end wait for
  // the bytes after them (their \b or $ is not decided yet). Matches ending at or before
  // `decided` are skipped (an earlier window decided them).
  Result<void> scanGated(const PatternDatabase& db, std::string_view bytes, uint64_t offset,
                         bool ends_data, uint64_t decided, MainScan& scan);

  hs_scratch* scratch_ = nullptr;
  uint64_t serial_ = 0;                          // of the database scratch_ was allocated for
  std::vector<digit_gate::Range> gated_ranges_;  // reused by each scanBlock: no allocation per scan
};

// A stream-mode scan over a response body. Keeps the last `kTailBytes` bytes so validators can
// see a match that began in an earlier chunk, and so that its start can be found at all (a match
// longer than that, possible only for an unbounded pattern, is reported from the oldest byte
// kept, and dropped if its detector has a validator; see start_offsets.h).
class PatternStream {
 public:
  static constexpr size_t kTailBytes = 4096;

  // `db` and `scratch` must outlive the stream (the exchange holds the snapshot; the worker
  // holds the scratch).
  PatternStream(std::shared_ptr<const PatternDatabase> db, PatternScratch& scratch);
  ~PatternStream();
  PatternStream(const PatternStream&) = delete;
  PatternStream& operator=(const PatternStream&) = delete;

  // Scans the next chunk; hits found (validated, deduplicated as in scanBlock) are appended.
  Result<void> feed(std::string_view chunk, std::vector<PatternHit>& out);
  // Ends the stream: hits that only end-of-data completes (a `$` anchor) are appended.
  Result<void> finish(std::vector<PatternHit>& out);
  uint64_t offset() const { return offset_; }

 private:
  // Scans the digit-gated expressions over the end of `reach` (the bytes in reach, at `base`
  // in the stream): the `fresh` bytes just fed and enough before them to hold any match not
  // decided by the previous chunk. `ends_data`: no byte follows (finish).
  Result<void> scanGatedWindow(std::string_view reach, uint64_t base, size_t fresh, bool ends_data,
                               MainScan& scan);

  std::shared_ptr<const PatternDatabase> db_;
  PatternScratch& scratch_;
  hs_stream* stream_ = nullptr;
  bool open_failed_ = false;
  uint64_t offset_ = 0;
  std::string tail_;  // the last kTailBytes bytes fed, or more (trimmed in batches)
  // Gated matches ending at or before this offset have been reported or cannot exist.
  uint64_t gated_decided_ = 0;
  // Per detector that reported in this stream, the furthest end offset reported so far.
  std::vector<std::pair<uint32_t, uint64_t>> reported_;
  bool finished_ = false;
};

}  // namespace aiw
