#include "filters/pattern_matcher/start_offsets.h"

#include <algorithm>
#include <new>
#include <string>

namespace aiw {
namespace {

using Engine = PatternDatabase::Engine;

// How many of the latest pending entries a new end is compared with (as in HitCollector).
constexpr size_t kRecentPending = 4;

// How far before its first end a confirm window reaches at first for an unbounded expression;
// it grows while a match touches its start.
constexpr uint64_t kUnboundedReach = 256;

// How far back a confirm window reaches before its first end, at first, and so how far apart two
// ends of one expression may be and still share a window. For a bounded expression one byte more
// than its longest match: the window then holds every match whole, with its left context.
uint64_t initialReach(const Engine::Expression& x) {
  return x.max_width == Engine::kUnbounded ? kUnboundedReach : uint64_t{x.max_width} + 1;
}

int onMainMatch(unsigned int id, unsigned long long /*from*/, unsigned long long to_in_scan,
                unsigned int /*flags*/, void* ctx) noexcept {
  auto* scan = static_cast<MainScan*>(ctx);
  if (id >= scan->engine.expressions.size()) return 0;
  const Engine::Expression& x = scan->engine.expressions[id];
  const MainScan::Part& part = scan->part;
  const uint64_t to = part.offset + to_in_scan;
  if (to > part.max_end || to <= part.min_end) return 0;
  try {
    if (x.fixedWidth()) {
      if (to - x.min_width >= part.min_start) scan->collector.add(x.detector, to - x.min_width, to);
      return 0;
    }
    std::vector<PendingEnds>& pending = scan->pending;
    const uint64_t gap = initialReach(x);
    const size_t first = pending.size() > kRecentPending ? pending.size() - kRecentPending : 0;
    for (size_t i = pending.size(); i-- > first;) {
      PendingEnds& p = pending[i];
      if (p.expression == id && to >= p.last && to - p.last <= gap) {
        p.last = to;
        return 0;
      }
    }
    pending.push_back(PendingEnds{id, to, to});
  } catch (const std::bad_alloc&) {
    return 1;  // stops the scan; the caller reports it as a scan error
  }
  return 0;  // every match of every detector is wanted
}

struct ConfirmScan {
  HitCollector& collector;
  uint32_t detector;
  uint64_t lo;     // the window's offset in the text or stream
  uint64_t first;  // the ends being confirmed: [first, last]
  uint64_t last;
  bool found;        // any match confirmed
  bool found_first;  // one ending at `first`
  bool found_last;   // one ending at `last`
  bool edge;         // a match started on the window's first byte: it may start further back
};

int onConfirmMatch(unsigned int /*id*/, unsigned long long from, unsigned long long to,
                   unsigned int /*flags*/, void* ctx) noexcept {
  auto* c = static_cast<ConfirmScan*>(ctx);
  const uint64_t abs_to = c->lo + to;
  if (abs_to < c->first || abs_to > c->last) return 0;
  // A start on the window's first byte saw no real left context (\b, ^). For a bounded
  // expression the window reaches one byte further back than its longest match, so the real
  // leftmost start is never there; an unbounded one may start further back.
  if (from == 0 && c->lo != 0) {
    c->edge = true;
    return 0;
  }
  try {
    c->collector.add(c->detector, c->lo + from, abs_to);
  } catch (const std::bad_alloc&) {
    return 1;
  }
  c->found = true;
  c->found_first = c->found_first || abs_to == c->first;
  c->found_last = c->found_last || abs_to == c->last;
  return 0;
}

}  // namespace

match_event_handler mainScanHandler() { return onMainMatch; }

Result<void> resolveStarts(MainScan& scan, std::string_view bytes, uint64_t base,
                           hs_scratch_t* scratch) {
  std::vector<PendingEnds>& pending = scan.pending;
  std::sort(pending.begin(), pending.end(), [](const PendingEnds& a, const PendingEnds& b) {
    return a.expression != b.expression ? a.expression < b.expression : a.first < b.first;
  });
  const uint64_t end_of_bytes = base + bytes.size();
  for (size_t i = 0; i < pending.size();) {
    PendingEnds c = pending[i];
    const Engine::Expression& x = scan.engine.expressions[c.expression];
    uint64_t reach = initialReach(x);
    size_t j = i + 1;
    for (; j < pending.size() && pending[j].expression == c.expression &&
           pending[j].first - std::min(pending[j].first, c.last) <= reach;
         ++j) {
      c.last = std::max(c.last, pending[j].last);
    }
    i = j;
    // Two bytes after the last end: the right context of a trailing \b or $.
    const uint64_t hi = std::min(end_of_bytes, c.last + 2);
    ConfirmScan confirm{scan.collector, x.detector, 0, c.first, c.last, false, false, false, false};
    for (;;) {
      confirm.lo = (c.first - base <= reach) ? base : c.first - reach;
      confirm.edge = false;
      confirm.found_first = confirm.found_last = false;
      hs_error_t rc =
          hs_scan(x.confirm, bytes.data() + (confirm.lo - base),
                  static_cast<unsigned int>(hi - confirm.lo), 0, scratch, onConfirmMatch, &confirm);
      if (rc != HS_SUCCESS) return scanError("Hyperscan confirm scan failed", rc);
      // An unbounded match that reached the window's start, or one of the cluster's outer ends
      // left without a match, may begin further back: widen (what was found is reported again,
      // from further back, and merges with the earlier report).
      if (x.max_width != Engine::kUnbounded || confirm.lo == base) break;
      if (!confirm.edge && confirm.found_first && confirm.found_last) break;
      reach *= 4;
    }
    // Nothing found: either the match began before the bytes still in reach (a stream's window
    // cut at its kept tail; its start is unknown) or the ends were the edge effects of a partial
    // scan (no match really ends there).
    if (!confirm.found && confirm.lo == base && base > 0) {
      scan.collector.add(x.detector, base, c.last, /*start_known=*/false);
    }
  }
  pending.clear();
  return {};
}

Error scanError(const char* what, hs_error_t rc) {
  return makeError(
      "scan_error",
      std::string(what) + ": " +
          std::string(rc == HS_SCAN_TERMINATED ? "out of memory" : hs_handles::errorName(rc)));
}

}  // namespace aiw
