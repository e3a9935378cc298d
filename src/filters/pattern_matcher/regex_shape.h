// Static facts about a Hyperscan regex that decide how the pattern database compiles it, read off
// the pattern text. Both functions are conservative: when the pattern uses syntax they do not
// model, they answer as if nothing could be learned.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace aiw::regex_shape {

// The alternatives of `regex` at its top level, each a regex of its own (a leading flag group such
// as "(?i)" is copied to every one), or just {regex} when splitting is not known to be safe.
// Hyperscan analyses each expression as one graph, and a top-level alternation of unrelated
// shapes can hide every branch's good literal; as separate expressions each gets its own.
std::vector<std::string> topLevelBranches(std::string_view regex);

// The length of the longest run of literal characters that every match must contain (0 when
// there is none or the pattern is not understood). Patterns with a run of 3 or more are found by
// Hyperscan's literal matcher; the others run automata over every byte.
size_t requiredLiteralLength(std::string_view regex);

// Whether a match may begin with a lowercase ASCII letter (true when not understood). Automata
// woken by letters (most bytes of text) and automata woken by digits are best kept in separate
// Hyperscan databases: merged, each runs wherever the other would.
bool mayStartWithLowercase(std::string_view regex, bool caseless);

// The size of the largest cluster of ASCII digits every match contains, a cluster being digits
// with at most `max_gap` other bytes between one and the next ("415) 555-2671" is one cluster of
// 10 for a gap of 2, and clusters of 3 and 7 for a gap of 1); 0 when not understood.
// Expressions that need a large cluster only have to be scanned near such clusters in the text
// (digit_gate.h).
size_t clusteredDigits(std::string_view regex, size_t max_gap);

}  // namespace aiw::regex_shape
