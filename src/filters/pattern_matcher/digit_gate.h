// The digit gate: where in a text the digit-driven expressions (card numbers, SSNs, phone
// numbers, IBANs) can match at all. Such expressions have no literal for Hyperscan to look for,
// so their automata wake at every digit of the text; but every match of theirs holds a cluster of
// digits (at least kGateDigits, each at most kGateGap bytes from the next: "4111 1111", "555-2671",
// "(415) 555"), and prompt text has few: scattered small numbers in prose ("in 1853, 643 ...")
// and the two digits of a count form none. Finding the clusters is far cheaper than running
// those automata over every digit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace aiw::digit_gate {

// An expression is gated when every match holds a cluster of at least kGateDigits digits, with at
// most kGateGap other bytes between one digit of it and the next, and is at most kGateWidth bytes
// long (regex_shape::clusteredDigits).
constexpr size_t kGateDigits = 6;
constexpr size_t kGateGap = 2;
constexpr size_t kGateWidth = 64;

struct Range {
  uint64_t begin;
  uint64_t end;
};

// The ranges of `text` to scan with gated expressions none of whose matches is longer than
// `max_width` bytes: ascending and disjoint, covering every span of at most `max_width` bytes that
// holds a cluster as above, plus one byte before and two after it (a match inside then sees its
// real context: \b, $). Appended to `out`.
void denseRanges(std::string_view text, size_t max_width, std::vector<Range>& out);

// The same without the AVX-512 path denseRanges takes where the CPU has it: the tests hold both to
// the same answers.
void denseRangesPortable(std::string_view text, size_t max_width, std::vector<Range>& out);

}  // namespace aiw::digit_gate
