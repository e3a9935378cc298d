// UTF-8 validity for text that came off the network (session ids, paths, captured bodies) and
// goes into JSON, which must be UTF-8.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace aiw {

// Length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are not one (overlong
// forms, surrogates and code points past U+10FFFF included).
size_t utf8SequenceLength(std::string_view s, size_t i);

bool isValidUtf8(std::string_view s);

// `s` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD.
std::string toValidUtf8(std::string_view s);

}  // namespace aiw
