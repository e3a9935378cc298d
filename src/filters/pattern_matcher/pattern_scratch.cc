// PatternScratch: the per-worker scratch space and the block-mode scan of whole request texts.
#include <hs/hs.h>

#include <limits>
#include <string>

#include "filters/pattern_matcher/digit_gate.h"
#include "filters/pattern_matcher/hit_collector.h"
#include "filters/pattern_matcher/hs_handles.h"
#include "filters/pattern_matcher/pattern_database.h"
#include "filters/pattern_matcher/pattern_engine.h"
#include "filters/pattern_matcher/start_offsets.h"

namespace aiw {

PatternScratch::PatternScratch() = default;

PatternScratch::~PatternScratch() { hs_free_scratch(scratch_); }  // null-safe

Result<void> PatternScratch::prepare(const PatternDatabase& db) {
  if (serial_ == db.serial()) return {};
  if (!db.engine_) return {};  // nothing to scan with: no scratch needed
  // hs_alloc_scratch grows the existing scratch rather than replacing it, so it stays valid for
  // the databases it served before: streams opened under the previous snapshot keep using this
  // worker's scratch after a reload. Its size is the largest any database needed, not a sum.
  auto grow = [&](const hs_database_t* d) -> Result<void> {
    hs_error_t rc = hs_alloc_scratch(d, &scratch_);
    if (rc != HS_SUCCESS) {
      serial_ = 0;
      return makeError("scan_error", "cannot allocate Hyperscan scratch space: " +
                                         std::string(hs_handles::errorName(rc)));
    }
    return {};
  };
  const PatternDatabase::Engine& engine = *db.engine_;
  for (const auto& d : engine.block) {
    if (auto r = grow(d.get()); !r) return r;
  }
  if (engine.gated) {
    if (auto r = grow(engine.gated.get()); !r) return r;
  }
  if (engine.stream) {
    if (auto r = grow(engine.stream.get()); !r) return r;
  }
  for (const auto& d : engine.confirms) {
    if (auto r = grow(d.get()); !r) return r;
  }
  serial_ = db.serial();
  return {};
}

Result<void> PatternScratch::scanBlock(const PatternDatabase& db, std::string_view text,
                                       std::vector<PatternHit>& out) {
  // No detectors, or no bytes (no pattern matches the empty string, and Hyperscan refuses a
  // null pointer even with a zero length): nothing can match.
  if (!db.engine_ || text.empty()) return {};
  if (text.size() >= std::numeric_limits<unsigned int>::max()) {
    return makeError("scan_error", "text of " + std::to_string(text.size()) +
                                       " bytes is beyond Hyperscan's 4 GiB block limit");
  }
  if (auto ready = prepare(db); !ready) return ready;
  const size_t before = out.size();
  HitCollector collector(db, out);
  collector.setWindow(ByteWindow{0, text});
  MainScan scan{*db.engine_, collector, {}, {}};
  for (const auto& group : db.engine_->block) {
    hs_error_t rc = hs_scan(group.get(), text.data(), static_cast<unsigned int>(text.size()), 0,
                            scratch_, mainScanHandler(), &scan);
    if (rc != HS_SUCCESS) {
      out.resize(before);
      return scanError("Hyperscan block scan failed", rc);
    }
  }
  if (auto r = scanGated(db, text, 0, true, 0, scan); !r) {
    out.resize(before);
    return r;
  }
  if (auto r = resolveStarts(scan, text, 0, scratch_); !r) {
    out.resize(before);
    return r;
  }
  collector.finish();
  return {};
}

Result<void> PatternScratch::scanGated(const PatternDatabase& db, std::string_view bytes,
                                       uint64_t offset, bool ends_data, uint64_t decided,
                                       MainScan& scan) {
  const hs_database_t* gated = db.engine_->gated.get();
  if (!gated) return {};
  gated_ranges_.clear();
  digit_gate::denseRanges(bytes, db.engine_->gated_max_width, gated_ranges_);
  const MainScan::Part saved = scan.part;
  scan.part.min_end = decided;
  for (const digit_gate::Range& range : gated_ranges_) {
    // A range's first byte and its last two are context (a match there would see a \b or $ the
    // cut invented), except where the range meets the data's own start or end.
    const uint64_t begin = offset + range.begin;
    scan.part.offset = begin;
    scan.part.min_start = begin == 0 ? 0 : begin + 1;
    scan.part.max_end =
        range.end == bytes.size() && ends_data ? offset + range.end : offset + range.end - 2;
    hs_error_t rc = hs_scan(gated, bytes.data() + range.begin,
                            static_cast<unsigned int>(range.end - range.begin), 0, scratch_,
                            mainScanHandler(), &scan);
    if (rc != HS_SUCCESS) {
      scan.part = saved;
      return scanError("Hyperscan block scan failed", rc);
    }
  }
  scan.part = saved;
  return {};
}

}  // namespace aiw
