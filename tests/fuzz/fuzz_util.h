// Small helpers the libFuzzer targets share (tests/fuzz/*_fuzz.cc): the failing check, the
// AIW_FUZZ_VERBOSE switch, the input hash the targets derive their choices from, and the read
// splits that hash picks. Header-only; each target is one translation unit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

namespace aiw_fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

// AIW_FUZZ_VERBOSE=1 prints what the whole-input run saw, for reading a saved crash input.
inline bool verbose() {
  static const bool on = std::getenv("AIW_FUZZ_VERBOSE") != nullptr;
  return on;
}

// The targets pick their options and splits from this hash of the input (not from extra input
// bytes), so the seed files stay plain streams and requests. Changing it, or the bits a target
// reads from it, changes which paths the committed seed corpora exercise.
inline uint64_t fnv1a(const uint8_t* data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ULL;
  return h;
}

// Where the split runs cut an input of `size` bytes: 0 <= a <= b <= size, from hash bits 16 and
// up (a) and 40 and up (b).
struct Splits {
  size_t a = 0;
  size_t b = 0;
};

inline Splits splitsOf(uint64_t h, size_t size) {
  Splits s;
  s.a = (h >> 16) % (size + 1);
  s.b = s.a + (h >> 40) % (size - s.a + 1);
  return s;
}

// The reads of the runs that must agree with the whole-input run, in order: two reads, three
// reads, and (short inputs) one byte per read.
inline std::vector<std::vector<std::string_view>> splitReads(std::string_view in, Splits s) {
  std::vector<std::vector<std::string_view>> runs;
  runs.push_back({in.substr(0, s.a), in.substr(s.a)});
  runs.push_back({in.substr(0, s.a), in.substr(s.a, s.b - s.a), in.substr(s.b)});
  if (in.size() <= 512) {
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < in.size(); ++i) bytes.push_back(in.substr(i, 1));
    runs.push_back(std::move(bytes));
  }
  return runs;
}

}  // namespace aiw_fuzz
