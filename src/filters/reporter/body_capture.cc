#include "filters/reporter/body_capture.h"

#include <algorithm>
#include <vector>

#include "core/utf8.h"

namespace aiw {

namespace {

constexpr std::string_view kTruncated = "...[truncated]";

struct Replacement {
  uint64_t begin = 0;
  uint64_t end = 0;
  std::string text;
};

// `bytes` with the replacements applied (overlapping ones merged into the first), then made
// valid UTF-8 and marked when cut.
std::string applyReplacements(std::string_view bytes, std::vector<Replacement> edits,
                              bool truncated) {
  std::sort(edits.begin(), edits.end(),
            [](const Replacement& a, const Replacement& b) { return a.begin < b.begin; });
  std::string out;
  uint64_t pos = 0;
  for (const Replacement& e : edits) {
    if (e.end <= pos) continue;  // inside one already replaced
    const uint64_t begin = std::max(e.begin, pos);
    if (begin >= bytes.size()) {
      // Past what was kept: the kept part ends before the detection.
      truncated = true;
      break;
    }
    out.append(bytes.substr(pos, begin - pos));
    out += e.text;
    pos = std::min<uint64_t>(e.end, bytes.size());
  }
  if (pos < bytes.size()) out.append(bytes.substr(pos));
  out = toValidUtf8(out);
  if (truncated) out += kTruncated;
  return out;
}

std::string wholeBodyMarker(std::string_view what) {
  return "[REDACTED: the " + std::string(what) + " held detections]";
}

std::string marker(const Detection& d) { return "[REDACTED:" + d.detector + "]"; }

}  // namespace

void BodyCapture::add(std::string_view chunk, size_t cap) {
  if (bytes.size() >= cap) {
    truncated = truncated || !chunk.empty();
    return;
  }
  const size_t room = cap - bytes.size();
  bytes.append(chunk.substr(0, room));
  if (chunk.size() > room) truncated = true;
}

std::string capturedRequestBody(const StreamInfo& s, const BodyCapture& capture) {
  std::vector<Replacement> edits;
  bool any = false;
  for (const Detection& d : s.detections) {
    if (d.response) continue;
    any = true;
    const auto* facts = s.request_facts.get();
    if (d.text_index != SIZE_MAX) {
      if (facts == nullptr || d.text_index >= facts->texts.size()) return wholeBodyMarker("request");
      const ai::TextField& t = facts->texts[d.text_index];
      edits.push_back({t.raw_begin, t.raw_end, "\"" + marker(d) + "\""});
    } else {
      edits.push_back({d.start, d.end, marker(d)});
    }
  }
  if (any && s.rule_outcome == RuleOutcome::Modify) return wholeBodyMarker("request");
  return applyReplacements(capture.bytes, std::move(edits), capture.truncated);
}

std::string capturedResponseBody(const StreamInfo& s, const BodyCapture& capture) {
  std::vector<Replacement> edits;
  bool any = false;
  for (const Detection& d : s.detections) {
    if (!d.response) continue;
    any = true;
    edits.push_back({d.start, d.end, marker(d)});
  }
  // Offsets in the decoded text of the events, or in an answer that is no longer the one sent.
  if (any && ((s.response_is_sse && s.endpoint.known()) || s.rule_outcome == RuleOutcome::Modify)) {
    return wholeBodyMarker("response");
  }
  return applyReplacements(capture.bytes, std::move(edits), capture.truncated);
}

}  // namespace aiw
