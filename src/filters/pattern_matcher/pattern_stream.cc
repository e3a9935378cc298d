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
  // A failure leaves stream_ null; feed() reports it, as a constructor cannot.
  if (db_ && db_->engine_) hs_open_stream(db_->engine_->stream.get(), 0, &stream_);
}

PatternStream::~PatternStream() {
  // An abandoned stream (the exchange ended early): its pending end-of-data matches are dropped
  // on purpose, so no scratch and no callback are needed.
  if (stream_) hs_close_stream(stream_, nullptr, nullptr, nullptr);
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
  if (!stream_) return makeError("scan_error", "cannot open a Hyperscan stream");
  if (chunk.size() >= std::numeric_limits<unsigned int>::max()) {
    return makeError("scan_error", "chunk beyond Hyperscan's 4 GiB limit");
  }
  if (auto ready = scratch_.prepare(*db_); !ready) return ready;

  const size_t before = out.size();
  HitCollector collector(*db_, out);
  // tail_ may hold more than kTailBytes (it is trimmed in batches); only the last kTailBytes
  // count, so whether a match can be validated does not depend on how the body was chunked.
  std::string_view tail(tail_);
  if (tail.size() > kTailBytes) tail.remove_prefix(tail.size() - kTailBytes);
  const uint64_t base = offset_ - tail.size();
  collector.setWindow(ByteWindow{base, tail, chunk});
  MainScan scan{*db_->engine_, collector, {}};
  hs_error_t rc = hs_scan_stream(stream_, chunk.data(), static_cast<unsigned int>(chunk.size()), 0,
                                 scratch_.scratch_, mainScanHandler(), &scan);
  if (rc != HS_SUCCESS) {
    out.resize(before);
    return scanError("Hyperscan stream scan failed", rc);
  }
  if (!scan.pending.empty()) {
    // The confirm scans need the kept tail and the chunk as one run of bytes.
    std::string joined;
    joined.reserve(tail.size() + chunk.size());
    joined.append(tail).append(chunk);
    if (auto r = resolveStarts(scan, joined, base, scratch_.scratch_); !r) {
      out.resize(before);
      return r;
    }
  }
  collector.finish();
  dropReported(reported_, out, before);
  offset_ += chunk.size();

  // Appending, and trimming only once the buffer doubles, keeps the copying linear in the body
  // size even when chunks are tiny (SSE deltas of a few dozen bytes).
  if (chunk.size() >= kTailBytes) {
    tail_.assign(chunk.substr(chunk.size() - kTailBytes));
  } else {
    tail_.append(chunk);
    if (tail_.size() > 2 * kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
  }
  return {};
}

Result<void> PatternStream::finish(std::vector<PatternHit>& out) {
  if (finished_) return {};
  finished_ = true;
  if (!db_ || !db_->engine_) return {};
  if (!stream_) return makeError("scan_error", "cannot open a Hyperscan stream");
  if (auto ready = scratch_.prepare(*db_); !ready) {
    // Still release the stream; its last matches are lost with the scratch.
    hs_close_stream(stream_, nullptr, nullptr, nullptr);
    stream_ = nullptr;
    return ready;
  }
  const size_t before = out.size();
  HitCollector collector(*db_, out);
  std::string_view tail(tail_);
  if (tail.size() > kTailBytes) tail.remove_prefix(tail.size() - kTailBytes);
  const uint64_t base = offset_ - tail.size();
  collector.setWindow(ByteWindow{base, tail, {}});
  MainScan scan{*db_->engine_, collector, {}};
  hs_error_t rc = hs_close_stream(stream_, scratch_.scratch_, mainScanHandler(), &scan);
  stream_ = nullptr;  // closed even when the callback failed
  if (rc != HS_SUCCESS) {
    out.resize(before);
    return scanError("Hyperscan stream close failed", rc);
  }
  if (auto r = resolveStarts(scan, tail, base, scratch_.scratch_); !r) {
    out.resize(before);
    return r;
  }
  collector.finish();
  dropReported(reported_, out, before);
  return {};
}

}  // namespace aiw
