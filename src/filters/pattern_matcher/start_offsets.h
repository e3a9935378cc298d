// Start offsets without start-of-match tracking in the main scans (see pattern_engine.h): the
// main scans' callback records fixed-width matches at once and the ends of variable-width ones;
// resolveStarts() then finds those starts by scanning a window before the ends with each
// expression's confirm database. Shared by the block and the stream scan.
//
// Exactness: for a bounded expression the window holds every match whole, so the start is the
// leftmost one, as HS_FLAG_SOM_LEFTMOST in the main scan would give. For an unbounded expression
// the window starts 256 bytes before the end and grows (x4) while a match reaches its first
// byte or the cluster's first or last end has no match yet; that is exact for the usual shapes (a
// class run such as an e-mail's local part, a literal head), but an expression whose matches ending
// at one place can begin at unrelated places further apart than the window ("a.*z|q.*z") may get a
// later start than the leftmost.
#pragma once

#include <hs/hs.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "filters/pattern_matcher/hit_collector.h"
#include "filters/pattern_matcher/pattern_engine.h"

namespace aiw {

// The ends of one variable-width expression's matches, close enough together to share one
// confirm window.
struct PendingEnds {
  uint32_t expression;
  uint64_t first;
  uint64_t last;
};

// The context of a main scan (hs_scan, hs_scan_stream, hs_close_stream).
struct MainScan {
  const PatternDatabase::Engine& engine;
  HitCollector& collector;
  std::vector<PendingEnds> pending;
  // A scan of part of a text (the digit-gated ranges): Hyperscan's offsets are relative to
  // `offset`, and a match within one byte of the part's start or two of its end saw the wrong
  // context there and is ignored. Matches ending at or before `min_end` were decided by an
  // earlier scan (a stream's gated windows overlap the previous chunk). Whole-text and stream
  // scans leave it as it is.
  struct Part {
    uint64_t offset = 0;
    uint64_t min_start = 0;
    uint64_t max_end = UINT64_MAX;
    uint64_t min_end = 0;
  } part;
};

// The match callback to pass with a MainScan* as the context.
match_event_handler mainScanHandler();

// Finds the starts of `scan.pending` and reports those matches to the collector. `bytes` are the
// scanned bytes still in reach, starting at offset `base` of the text or stream (0: its very
// start, so the first byte's left context is known). A match whose start lies before `base`
// (only in a stream, and only for a match longer than the kept tail) is reported from `base`, or
// dropped when its detector has a validator. An end no match is found for (one seen at the edge
// of a partial scan) is dropped.
Result<void> resolveStarts(MainScan& scan, std::string_view bytes, uint64_t base,
                           hs_scratch_t* scratch);

// Error{"scan_error"} for a failed Hyperscan call.
Error scanError(const char* what, hs_error_t rc);

}  // namespace aiw
