// The globs of rules' match_path and match_model: `*` is any run of characters ('/' included,
// so "/v1/*" covers every path below /v1/), `?` is exactly one character, everything else is
// literal. No character classes and no escapes: paths and model names never need them, and a
// '[' that silently became a class would be a trap.
#pragma once

#include <string_view>

namespace aiw {

enum class GlobCase : bool { Sensitive, Insensitive };

// Whether `text` matches `glob` whole. Linear in practice (backtracks only to the last '*'),
// allocation-free; safe on network input.
bool globMatches(std::string_view glob, std::string_view text, GlobCase mode = GlobCase::Sensitive);

}  // namespace aiw
