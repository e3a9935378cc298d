#include "filters/pattern_matcher/digit_gate.h"

#include <algorithm>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace aiw::digit_gate {
namespace {

constexpr size_t kChunk = 16;
// A span of kGateWidth bytes lies within this many consecutive chunks.
constexpr size_t kChunksPerSpan = (kGateWidth + kChunk - 1) / kChunk + 1;
// Ranges closer than this are scanned as one: a Hyperscan call costs about as much as scanning
// this many bytes.
constexpr uint64_t kJoinGap = 128;

unsigned digitsIn(const char* p, size_t n) {
  unsigned count = 0;
  for (size_t i = 0; i < n; ++i) count += static_cast<unsigned char>(p[i] - '0') < 10;
  return count;
}

// Digits in the 16 bytes at p.
unsigned digitsInChunk(const char* p) {
#if defined(__SSE2__)
  // (c - '0') < 10 as unsigned bytes; SSE2 only compares signed, hence the 0x80 bias. The 0/1
  // bytes are then summed with a sum of absolute differences against zero (no popcount needed,
  // which the baseline x86-64 target lacks).
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i shifted = _mm_sub_epi8(v, _mm_set1_epi8(static_cast<char>('0' ^ 0x80)));
  const __m128i below = _mm_cmplt_epi8(shifted, _mm_set1_epi8(static_cast<char>(10 ^ 0x80)));
  const __m128i sums = _mm_sad_epu8(_mm_and_si128(below, _mm_set1_epi8(1)), _mm_setzero_si128());
  return static_cast<unsigned>(_mm_cvtsi128_si32(sums) + _mm_extract_epi16(sums, 4));
#else
  return digitsIn(p, kChunk);
#endif
}

}  // namespace

void denseRanges(std::string_view text, std::vector<Range>& out) {
  const size_t chunks = (text.size() + kChunk - 1) / kChunk;
  // Counts per chunk, a batch at a time; the kChunksPerSpan - 1 before the batch lead it, so that
  // a sliding sum over kChunksPerSpan chunks runs without a modulo. Every span of kGateWidth
  // bytes lies inside one such window of chunks: a window under kGateDigits holds no gated
  // match, and one at or over it marks its chunks for scanning.
  constexpr size_t kBatch = 256;
  constexpr size_t kLead = kChunksPerSpan - 1;
  unsigned counts[kLead + kBatch] = {};
  bool open = false;
  Range current{0, 0};
  for (size_t batch = 0; batch < chunks; batch += kBatch) {
    const size_t n = std::min(kBatch, chunks - batch);
    for (size_t k = 0; k < n; ++k) {
      const size_t at = (batch + k) * kChunk;
      counts[kLead + k] = at + kChunk <= text.size() ? digitsInChunk(text.data() + at)
                                                     : digitsIn(text.data() + at, text.size() - at);
    }
    unsigned sum = 0;
    for (size_t k = 0; k < kLead; ++k) sum += counts[k];
    for (size_t k = 0; k < n; ++k) {
      sum += counts[kLead + k];
      if (sum >= kGateDigits) {
        // The window is chunks c-kLead .. c; a match in it has its context one byte before and
        // two after (\b, $), which is all the range needs beyond it.
        const size_t c = batch + k;
        const uint64_t first = c >= kLead ? (c - kLead) * kChunk : 0;
        const uint64_t begin = first > 0 ? first - 1 : 0;
        const uint64_t end = std::min<uint64_t>(text.size(), (c + 1) * kChunk + 2);
        if (open && begin <= current.end + kJoinGap) {
          current.end = std::max(current.end, end);
        } else {
          if (open) out.push_back(current);
          current = Range{begin, end};
          open = true;
        }
      }
      sum -= counts[k];
    }
    for (size_t k = 0; k < kLead; ++k) counts[k] = counts[n + k];
  }
  if (open) out.push_back(current);
}

}  // namespace aiw::digit_gate
