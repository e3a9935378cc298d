// The compiled form of a PatternDatabase, private to the pattern matcher.
//
// Each detector's regex becomes one or more Hyperscan expressions (its top-level alternatives,
// see regex_shape.h); Hyperscan ids index `expressions`.
//
// The main scans do not ask Hyperscan for start offsets: start-of-match tracking makes Hyperscan
// run extra automata over every byte (measured on prompt-like text: block scans ~5x and stream
// scans ~4x slower with it; the e-mail pattern alone ~100x). The start of a fixed-width
// expression's match is its end minus the width; the start of a variable-width one is found
// afterwards by scanning only a window before its end with a small database of that one
// expression compiled with HS_FLAG_SOM_LEFTMOST (`confirm`, see start_offsets.h). In stream mode
// the window is what the stream keeps (PatternStream::kTailBytes before the current chunk).
//
// The block expressions are also spread over up to three databases by what drives them, and the
// digit-driven ones go to a fourth, `gated`, scanned only near clusters of digits (see
// scanGroup() in pattern_database.cc and digit_gate.h). The stream database holds the others in
// one (with ~100-byte chunks the per-call cost matters more than the engines); streams scan the
// gated ones in block mode too, over the new bytes and enough of the old to hold a whole match,
// only where the digit gate finds a cluster (PatternStream::scanGatedWindow). Their automata ran
// at every digit of every chunk before: half the stream scan's time on prompt-like text.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "filters/pattern_matcher/hs_handles.h"
#include "filters/pattern_matcher/pattern_database.h"

namespace aiw {

struct PatternDatabase::Engine {
  static constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();

  struct Expression {
    uint32_t detector = 0;             // index into PatternDatabase::detectors()
    uint32_t min_width = 0;            // bytes, from hs_expression_info
    uint32_t max_width = 0;            // kUnbounded when a match can be any length
    hs_database_t* confirm = nullptr;  // owned by confirms; null for fixed-width expressions

    bool fixedWidth() const { return min_width == max_width; }
  };

  std::vector<Expression> expressions;
  std::vector<hs_handles::DatabasePtr> block;     // one per scan group present
  hs_handles::DatabasePtr gated;                  // null when no expression is digit-gated
  uint32_t gated_max_width = 0;                   // the longest match of a gated expression
  hs_handles::DatabasePtr stream;                 // all but the gated; null when none
  std::vector<hs_handles::DatabasePtr> confirms;  // one per variable-width expression
};

}  // namespace aiw
