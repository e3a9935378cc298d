// Small JSON helpers the provider parsers share: a RapidJSON input stream over a string_view that
// knows its offset (so a string token can be located in the body), and the parse flags that
// keep hostile bodies away from recursive code.
#pragma once

// RapidJSON's SSE2 paths (whitespace skipping, and string scanning when parsing in situ) are
// compiled in only when asked for; SSE2 is part of the x86-64 baseline, so every x86-64 CPU has
// it. (Not SSE4.2: not every x86-64 has that.) This header is included before any other
// RapidJSON header in src/ai so the whole library sees one configuration.
#if defined(__SSE2__) && !defined(RAPIDJSON_SSE2) && !defined(RAPIDJSON_SSE42)
#define RAPIDJSON_SSE2
#endif

#include <rapidjson/error/error.h>
#include <rapidjson/reader.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace aiw::ai {

// RapidJSON input stream over bytes that need not be NUL-terminated. It deliberately has no
// StreamTraits copy optimisation, so a SAX handler holding a reference to it reads the true
// position (just past the token the reader is reporting) through Tell().
class JsonViewStream {
 public:
  using Ch = char;
  explicit JsonViewStream(std::string_view text)
      : begin_(text.data()), cur_(text.data()), end_(text.data() + text.size()) {}

  // '\0' past the end is how RapidJSON streams say "no more input".
  Ch Peek() const { return cur_ < end_ ? *cur_ : '\0'; }
  Ch Take() { return cur_ < end_ ? *cur_++ : '\0'; }
  size_t Tell() const { return static_cast<size_t>(cur_ - begin_); }

  // The output half of RapidJSON's stream concept, only used by in-situ parsing, which this
  // read-only stream never does; present because the reader's templates name them.
  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  size_t PutEnd(Ch*) { return 0; }

 private:
  const char* begin_;
  const char* cur_;
  const char* end_;
};

// Every SAX pass is iterative (deep nesting cannot exhaust the call stack) and keeps numbers as
// their text, so a captured sub-object is re-emitted with its numbers exactly as written.
inline constexpr unsigned kSaxParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag;
// DOMs are only read, never re-emitted, so the default number conversion is enough (and
// RapidJSON 1.1's full-precision one misreads some zeros such as "0E62").
inline constexpr unsigned kDomParseFlags = rapidjson::kParseIterativeFlag;

// Offset of the opening quote of the JSON string token that ends (closing quote included) just
// before `token_end`: the first '"' going backwards that is not escaped.
size_t stringTokenBegin(std::string_view body, size_t token_end);

// Offset just past the closing quote of the JSON string token whose content starts at
// `content_begin` (just after the opening quote) and decodes to `decoded_size` bytes: the first
// '"' going forwards that is not escaped. A token's raw content is never shorter than its
// decoded value (every escape is at least as long as what it stands for), so the search starts
// `decoded_size` bytes in, which for a string without escapes is the closing quote itself.
size_t stringTokenEnd(std::string_view body, size_t content_begin, size_t decoded_size);

// A mutable, NUL-terminated copy of a body for RapidJSON's in-situ parsing (strings are decoded
// in place, so the SAX handler gets pointers into this copy and nothing is copied per string).
// The copy is padded with NULs to a whole 16-byte block past its end, so RapidJSON's SSE2 loads
// (aligned, 16 bytes) never read outside it. A NUL byte inside the body reads as the end of
// input, exactly as JsonViewStream's '\0' does.
class InsituCopy {
 public:
  explicit InsituCopy(std::string_view body);
  char* data() { return data_.get(); }
  const char* data() const { return data_.get(); }

 private:
  std::unique_ptr<char[]> data_;
};

// A "bad_json" error naming what was parsed, where, and RapidJSON's reason.
Error badJsonError(std::string_view what, rapidjson::ParseErrorCode code, size_t offset);

}  // namespace aiw::ai
