// capture_bodies (SPEC §8): the bodies an exchange event may carry — every detection the
// pattern matcher made redacted, capped in size, valid UTF-8 — so that no secret it found ever
// reaches an event, a sink or a log.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "filters/filter.h"

namespace aiw {

// The first `cap` bytes of one body, as the reporter stage saw them pass.
struct BodyCapture {
  std::string bytes;
  bool truncated = false;  // more went past than was kept
  void add(std::string_view chunk, size_t cap);
};

// The request body for the event. Each text field (request_facts) that holds a detection is
// replaced whole by the JSON string "[REDACTED:<detector>]"; a detection made on the raw body is
// replaced in place by [REDACTED:<detector>]. When the offsets cannot be trusted (a rule rewrote
// the body after the scan), a body with detections is replaced whole by a marker. Cut bodies
// end with "...[truncated]".
std::string capturedRequestBody(const StreamInfo& s, const BodyCapture& capture);

// The same for the response: raw-scanned detections are replaced in place; an SSE answer whose
// detections were made in its decoded text, or an answer a rule replaced, is replaced whole.
std::string capturedResponseBody(const StreamInfo& s, const BodyCapture& capture);

}  // namespace aiw
