#include "filters/pattern_matcher/hit_collector.h"

#include <algorithm>

namespace aiw {
namespace {

// How many of the latest hits a new match is compared with for an early merge. Matches arrive
// roughly by end offset, so an overlap is almost always with one of the last few; the early merge
// keeps a run of overlapping matches (every end position of a long token) at one entry instead
// of one per byte. finish() still merges whatever this window misses.
constexpr size_t kRecentHits = 4;

}  // namespace

bool HitCollector::bytes(uint64_t from, uint64_t to, std::string_view& view) {
  const uint64_t end = window_.start + window_.bytes.size();
  if (from < window_.start || to > end || from > to) return false;
  view = window_.bytes.substr(from - window_.start, to - from);
  return true;
}

void HitCollector::add(uint32_t detector, uint64_t from, uint64_t to, bool start_known) {
  if (detector >= specs_.size()) return;
  Validator v = specs_[detector].validator;
  if (v != Validator::None) {
    std::string_view matched;
    // A match whose start left the window cannot be checked, and an unchecked card number or
    // IBAN is mostly noise.
    if (!start_known || !bytes(from, to, matched) || !validateMatch(v, matched)) return;
  }
  const size_t first = std::max(base_, out_.size() > kRecentHits ? out_.size() - kRecentHits : 0);
  for (size_t i = out_.size(); i-- > first;) {
    PatternHit& h = out_[i];
    if (h.detector == detector && from < h.to && h.from < to) {
      h.from = std::min(h.from, from);
      h.to = std::max(h.to, to);
      return;
    }
  }
  out_.push_back(PatternHit{detector, from, to});
}

void HitCollector::finish() {
  auto begin = out_.begin() + static_cast<std::ptrdiff_t>(base_);
  if (out_.end() - begin < 2) return;
  std::sort(begin, out_.end(), [](const PatternHit& x, const PatternHit& y) {
    if (x.detector != y.detector) return x.detector < y.detector;
    return x.from != y.from ? x.from < y.from : x.to < y.to;
  });
  auto kept = begin;
  for (auto it = begin + 1; it != out_.end(); ++it) {
    if (it->detector == kept->detector && it->from < kept->to) {
      kept->to = std::max(kept->to, it->to);
    } else {
      *++kept = *it;
    }
  }
  out_.erase(kept + 1, out_.end());
  std::sort(begin, out_.end(), [](const PatternHit& x, const PatternHit& y) {
    if (x.from != y.from) return x.from < y.from;
    return x.detector != y.detector ? x.detector < y.detector : x.to < y.to;
  });
}

}  // namespace aiw
