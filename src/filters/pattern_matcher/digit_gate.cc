#include "filters/pattern_matcher/digit_gate.h"

#include <algorithm>
#include <bit>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AIW_GATE_AVX512 1
#endif

namespace aiw::digit_gate {
namespace {

// Ranges closer than this are scanned as one: a Hyperscan call costs about as much as scanning
// this many bytes.
constexpr uint64_t kJoinGap = 128;

bool isDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

// Bit i set when p[i] is an ASCII digit, for the n <= 64 bytes at p: the portable way, for the
// last, partial word of a text (and whole words where no vector unit is known).
uint64_t digitMaskScalar(const char* p, size_t n) {
  uint64_t mask = 0;
  for (size_t i = 0; i < n; ++i) mask |= static_cast<uint64_t>(isDigit(p[i])) << i;
  return mask;
}

// The same for a whole 64-byte word. SSE2 is in every x86-64 CPU; the walk below is compiled
// again for AVX-512BW, where the word is one load and one compare into a mask register (the gate
// runs over every byte of every request and response text: its cost is per byte).
#if defined(__SSE2__)
uint64_t digitMaskWord(const char* p) {
  // (c - '0') < 10 as unsigned bytes; SSE2 only compares signed, hence the 0x80 bias.
  const __m128i bias = _mm_set1_epi8(static_cast<char>('0' ^ 0x80));
  const __m128i ten = _mm_set1_epi8(static_cast<char>(10 ^ 0x80));
  uint64_t mask = 0;
  for (int k = 0; k < 4; ++k) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    const __m128i below = _mm_cmplt_epi8(_mm_sub_epi8(v, bias), ten);
    mask |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(below))) << (16 * k);
  }
  return mask;
}
#else
uint64_t digitMaskWord(const char* p) { return digitMaskScalar(p, 64); }
#endif

#if defined(AIW_GATE_AVX512)
__attribute__((target("avx512bw"))) uint64_t digitMaskWordAvx512(const char* p) {
  const __m512i v = _mm512_loadu_si512(p);
  return _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8('0')), _mm512_set1_epi8(10));
}
#endif

// Whether the digits `m` of one 64-byte word may hold a cluster of kGateDigits: with the gaps of
// up to kGateGap bytes between digits filled in, a run of kGateDigits bytes or more. A cheap test
// that lets most words of prose skip the walk digit by digit.
bool mayHoldCluster(uint64_t m) {
  static_assert(kGateGap == 2 && kGateDigits == 6, "the gap fill and run test are unrolled");
  // Bit p of (m << k) is m[p - k], of (m >> k) m[p + k]: p lies in a gap of one or two bytes.
  const uint64_t filled = m | ((m << 1) & (m >> 1)) | ((m << 1) & (m >> 2)) | ((m << 2) & (m >> 1));
  const uint64_t run2 = filled & (filled >> 1);  // bit p: a run of 2 starts at p
  const uint64_t run4 = run2 & (run2 >> 2);
  return (run4 & (run2 >> 4)) != 0;
}

// Collects the ranges while the text's digit clusters are walked in order.
class RangeBuilder {
 public:
  RangeBuilder(size_t text_size, size_t max_width, std::vector<Range>& out)
      : size_(text_size), width_(max_width), out_(out) {}

  // The digit at `at`, the next after the previous one given.
  void digit(uint64_t at) {
    if (count_ > 0 && at - last_ - 1 <= kGateGap) {
      ++count_;
    } else {
      endCluster();
      first_ = at;
      count_ = 1;
    }
    last_ = at;
  }

  void finish() {
    endCluster();
    if (open_) out_.push_back(current_);
  }

 private:
  // A match holding digits of the cluster first_..last_ starts after first_ - width_ and ends by
  // last_ + width_; one byte before and two after are its context.
  void endCluster() {
    if (count_ < kGateDigits) return;
    const uint64_t begin = first_ > width_ ? first_ - width_ : 0;
    const uint64_t end = std::min<uint64_t>(size_, last_ + width_ + 2);
    if (open_ && begin <= current_.end + kJoinGap) {
      current_.end = std::max(current_.end, end);
    } else {
      if (open_) out_.push_back(current_);
      current_ = Range{begin, end};
      open_ = true;
    }
    count_ = 0;
  }

  const uint64_t size_;
  const uint64_t width_;
  std::vector<Range>& out_;
  uint64_t first_ = 0, last_ = 0;
  size_t count_ = 0;  // digits in the cluster being walked
  Range current_{0, 0};
  bool open_ = false;
};

// The walk over a text's 64-byte words, `WordMask` giving a whole word's digits. Inlined into
// each entry point below so that the AVX-512 one is compiled for that unit as a whole.
template <uint64_t (*WordMask)(const char*)>
[[gnu::always_inline]] inline void walk(std::string_view text, size_t max_width,
                                        std::vector<Range>& out) {
  RangeBuilder ranges(text.size(), max_width, out);
  constexpr int kEdge =
      64 - static_cast<int>(kGateGap) - 1;  // digits from here may join the next word
  bool joins_previous = false;              // the previous word had digits near its end
  for (size_t base = 0; base < text.size(); base += 64) {
    const size_t n = std::min<size_t>(64, text.size() - base);
    const uint64_t digits =
        n == 64 ? WordMask(text.data() + base) : digitMaskScalar(text.data() + base, n);
    // A word whose clusters all lie inside it and are too small has nothing for the walk: the
    // cluster open before it ends before it (the gap is too long), as the walk will find.
    const bool joins_next = (digits >> kEdge) != 0;
    if (!joins_previous && !joins_next && !mayHoldCluster(digits)) continue;
    for (uint64_t mask = digits; mask != 0; mask &= mask - 1) {
      ranges.digit(base + static_cast<uint64_t>(std::countr_zero(mask)));
    }
    joins_previous = joins_next;
  }
  ranges.finish();
}

#if defined(AIW_GATE_AVX512)
__attribute__((target("avx512bw"))) void denseRangesAvx512(std::string_view text, size_t max_width,
                                                           std::vector<Range>& out) {
  walk<digitMaskWordAvx512>(text, max_width, out);
}

using DenseRanges = void (*)(std::string_view, size_t, std::vector<Range>&);
DenseRanges chooseDenseRanges() {
  __builtin_cpu_init();  // may run before libgcc's own initialisation of the CPU model
  return __builtin_cpu_supports("avx512bw") ? denseRangesAvx512 : denseRangesPortable;
}
#endif

}  // namespace

void denseRangesPortable(std::string_view text, size_t max_width, std::vector<Range>& out) {
  walk<digitMaskWord>(text, max_width, out);
}

void denseRanges(std::string_view text, size_t max_width, std::vector<Range>& out) {
#if defined(AIW_GATE_AVX512)
  static const DenseRanges chosen = chooseDenseRanges();
  chosen(text, max_width, out);
#else
  denseRangesPortable(text, max_width, out);
#endif
}

}  // namespace aiw::digit_gate
