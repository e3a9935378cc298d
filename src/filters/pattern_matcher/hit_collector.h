// Gathers Hyperscan's raw matches into PatternHits, shared by the block and the stream scans:
// runs each detector's validator on the matched bytes, merges overlapping matches of one
// detector, and orders the result. Private to the pattern matcher.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "filters/pattern_matcher/pattern_database.h"

namespace aiw {

// The scanned bytes still in reach, at offset `start` of the text or stream (stream mode: the kept
// tail and the current chunk, one run; block mode: the whole text).
struct ByteWindow {
  uint64_t start = 0;
  std::string_view bytes;
};

class HitCollector {
 public:
  // Appends to `out` from its current end; everything before that is left alone.
  HitCollector(const PatternDatabase& db, std::vector<PatternHit>& out)
      : specs_(db.detectors()), out_(out), base_(out.size()) {}

  void setWindow(const ByteWindow& w) { window_ = w; }

  // One match. `start_known` false: `from` is only the oldest byte in reach, so a detector with a
  // validator drops it. Throws only std::bad_alloc.
  void add(uint32_t detector, uint64_t from, uint64_t to, bool start_known = true);

  // Merges what was added (overlaps of one detector become one hit) and orders it by `from`.
  void finish();

 private:
  // The bytes [from, to) if the window still holds them.
  bool bytes(uint64_t from, uint64_t to, std::string_view& view);

  const std::vector<DetectorSpec>& specs_;
  std::vector<PatternHit>& out_;
  size_t base_;
  ByteWindow window_;
};

}  // namespace aiw
