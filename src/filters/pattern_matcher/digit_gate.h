// The digit gate: where in a text the digit-driven expressions (card numbers, SSNs, phone
// numbers, IBANs: at least kGateDigits digits within kGateWidth bytes) can match at all. Such
// expressions have no literal for Hyperscan to look for, so their automata wake at every digit of
// the text; in prompt text only ~2% of the bytes lie near a dense run of digits, and counting
// digits is far cheaper than running those automata.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace aiw::digit_gate {

// An expression is gated when every match holds at least kGateDigits digits and is at most
// kGateWidth bytes long.
constexpr size_t kGateDigits = 6;
constexpr size_t kGateWidth = 64;

struct Range {
  uint64_t begin;
  uint64_t end;
};

// The ranges of `text` to scan with the gated expressions, ascending and disjoint, covering every
// span of at most kGateWidth bytes that holds kGateDigits digits or more, plus one byte before
// and two after it (a match inside then sees its real context: \b, $). Appended to `out`.
void denseRanges(std::string_view text, std::vector<Range>& out);

}  // namespace aiw::digit_gate
