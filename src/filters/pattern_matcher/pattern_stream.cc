// PatternStream: the stream-mode scan of a response body, chunk by chunk.
#include <hs/hs.h>

#include <algorithm>
#include <limits>
#include <string>

#include "filters/pattern_matcher/hit_collector.h"
#include "filters/pattern_matcher/pattern_database.h"
#include "filters/pattern_matcher/pattern_engine.h"
#include "filters/pattern_matcher/start_offsets.h"

namespace aiw {
namespace {

// Keeps, of the hits appended to `out` from `from_index`, those that overlap no hit already
// reported for their detector in this stream; `reported` is, per detector, the furthest end.
void dropReported(std::vector<std::pair<uint32_t, uint64_t>>& reported,
                  std::vector<PatternHit>& out, size_t from_index) {
  // Matches end at increasing offsets along a stream, so a new hit overlaps an earlier one of its
  // detector exactly when it starts before the furthest end reported for that detector. A
  // dropped hit still extends that end: it continues the reported one (a token growing over
  // several chunks is one detection).
  auto kept = out.begin() + static_cast<std::ptrdiff_t>(from_index);
  for (auto it = kept; it != out.end(); ++it) {
    auto seen = std::find_if(reported.begin(), reported.end(),
                             [&](const auto& r) { return r.first == it->detector; });
    if (seen != reported.end()) {
      if (it->from < seen->second) {
        seen->second = std::max(seen->second, it->to);
        continue;
      }
      seen->second = it->to;
    } else {
      reported.emplace_back(it->detector, it->to);
    }
    *kept++ = *it;
  }
  out.erase(kept, out.end());
}

}  // namespace

PatternStream::PatternStream(std::shared_ptr<const PatternDatabase> db, PatternScratch& scratch)
    : db_(std::move(db)), scratch_(scratch) {
  // A failure is remembered for feed() to report, as a constructor cannot. No stream database
  // (every expression gated) needs no Hyperscan stream.
  if (db_ && db_->engine_ && db_->engine_->stream) {
    open_failed_ = hs_open_stream(db_->engine_->stream.get(), 0, &stream_) != HS_SUCCESS;
  }
}

PatternStream::~PatternStream() {
  // An abandoned stream (the exchange ended early): its pending end-of-data matches are dropped
  // on purpose, so no scratch and no callback are needed.
  if (stream_) hs_close_stream(stream_, nullptr, nullptr, nullptr);
}

Result<void> PatternStream::scanGatedWindow(std::string_view reach, uint64_t base, size_t fresh,
                                            bool ends_data, MainScan& scan) {
  if (!db_->engine_->gated) return {};
  // A gated match is at most gated_max_width bytes; one not decided yet ends after
  // gated_decided_, the end of the previous chunk less its last two bytes, so it starts at most
  // gated_max_width + 2 bytes before this chunk, and one byte more gives it its left context.
  const size_t context = size_t{db_->engine_->gated_max_width} + 3;
  const size_t take = std::min(reach.size(), fresh + context);
  const std::string_view window = reach.substr(reach.size() - take);
  const uint64_t window_offset = base + (reach.size() - take);
  if (auto r = scratch_.scanGated(*db_, window, window_offset, ends_data, gated_decided_, scan);
      !r) {
    return r;
  }
  // Every match ending here or before was in a range with its context, or can have none.
  const uint64_t reach_end = base + reach.size();
  if (ends_data) {
    gated_decided_ = reach_end;
  } else if (reach_end > 2) {
    gated_decided_ = std::max(gated_decided_, reach_end - 2);
  }
  return {};
}

Result<void> PatternStream::feed(std::string_view chunk, std::vector<PatternHit>& out) {
  if (finished_) return makeError("scan_error", "the stream was already finished");
  // Nothing to scan; and Hyperscan refuses a null pointer even with a zero length (an empty
  // final chunk with end_stream arrives exactly so).
  if (chunk.empty()) return {};
  if (!db_ || !db_->engine_) {  // no detectors: count the bytes only
    offset_ += chunk.size();
    return {};
  }
  if (open_failed_) return makeError("scan_error", "cannot open a Hyperscan stream");
  if (chunk.size() >= std::numeric_limits<unsigned int>::max()) {
    return makeError("scan_error", "chunk beyond Hyperscan's 4 GiB limit");
  }
  if (auto ready = scratch_.prepare(*db_); !ready) return ready;

  // The bytes in reach as one run, the kept tail then the chunk: validators, start recovery and
  // the gated windows read across the seam. tail_ is trimmed in batches (once it would pass
  // twice kTailBytes), which keeps the copying linear in the body however small the chunks; only
  // its last kTailBytes count, so whether a match can be validated does not depend on how the
  // body was chunked.
  if (tail_.size() > kTailBytes && tail_.size() + chunk.size() > 2 * kTailBytes) {
    tail_.erase(0, tail_.size() - kTailBytes);
  }
  const size_t kept = std::min(tail_.size(), kTailBytes);
  tail_.append(chunk);
  const std::string_view reach = std::string_view(tail_).substr(tail_.size() - chunk.size() - kept);
  const uint64_t base = offset_ - kept;

  const size_t before = out.size();
  auto failed = [&](Result<void> r) {
    out.resize(before);
    tail_.resize(tail_.size() - chunk.size());
    return r;
  };
  HitCollector collector(*db_, out);
  collector.setWindow(ByteWindow{base, reach});
  MainScan scan{*db_->engine_, collector, {}, {}};
  if (stream_) {
    hs_error_t rc = hs_scan_stream(stream_, chunk.data(), static_cast<unsigned int>(chunk.size()),
                                   0, scratch_.scratch_, mainScanHandler(), &scan);
    if (rc != HS_SUCCESS) return failed(scanError("Hyperscan stream scan failed", rc));
  }
  if (auto r = scanGatedWindow(reach, base, chunk.size(), false, scan); !r) return failed(r);
  if (!scan.pending.empty()) {
    if (auto r = resolveStarts(scan, reach, base, scratch_.scratch_); !r) return failed(r);
  }
  collector.finish();
  dropReported(reported_, out, before);
  offset_ += chunk.size();
  if (chunk.size() >= kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
  return {};
}

Result<void> PatternStream::finish(std::vector<PatternHit>& out) {
  if (finished_) return {};
  finished_ = true;
  if (!db_ || !db_->engine_) return {};
  if (open_failed_) return makeError("scan_error", "cannot open a Hyperscan stream");
  if (auto ready = scratch_.prepare(*db_); !ready) {
    // Still release the stream; its last matches are lost with the scratch.
    if (stream_) hs_close_stream(stream_, nullptr, nullptr, nullptr);
    stream_ = nullptr;
    return ready;
  }
  const size_t before = out.size();
  HitCollector collector(*db_, out);
  std::string_view tail(tail_);
  if (tail.size() > kTailBytes) tail.remove_prefix(tail.size() - kTailBytes);
  const uint64_t base = offset_ - tail.size();
  collector.setWindow(ByteWindow{base, tail});
  MainScan scan{*db_->engine_, collector, {}, {}};
  if (stream_) {
    hs_error_t rc = hs_close_stream(stream_, scratch_.scratch_, mainScanHandler(), &scan);
    stream_ = nullptr;  // closed even when the callback failed
    if (rc != HS_SUCCESS) {
      out.resize(before);
      return scanError("Hyperscan stream close failed", rc);
    }
  }
  // The gated matches the last chunk left undecided: those ending in its last two bytes.
  auto r = scanGatedWindow(tail, base, 0, true, scan);
  if (r) r = resolveStarts(scan, tail, base, scratch_.scratch_);
  if (!r) {
    out.resize(before);
    return r;
  }
  collector.finish();
  dropReported(reported_, out, before);
  return {};
}

}  // namespace aiw
