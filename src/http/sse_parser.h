// Incremental parser for server-sent events (the WHATWG "event stream" format): LLM APIs stream
// their answers as `text/event-stream`, and the guardrail filters look at each event's data.
//
// Bytes arrive split anywhere (inside a field name, between CR and LF, inside a UTF-8
// sequence); the parser keeps what it needs between calls and emits each event once its blank
// line has arrived. Line ends may be CRLF, LF or CR, mixed. A leading UTF-8 BOM is skipped.
// Comment lines (starting with ':') are reported separately, so a proxy can see keep-alives.
//
// Memory is bounded: a line or an event larger than `max_event_bytes` is an error (the stream
// cannot be parsed further); the parser never grows past that bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace aiw {

struct SseEvent {
  std::string type = "message";   // the `event:` field; "message" when absent or empty
  std::string data;               // `data:` lines joined by "\n" (no trailing newline)
  std::string id;                 // `id:` (a value containing NUL is ignored, as the spec says)
  bool has_id = false;            // an `id:` field came with this event
  std::optional<uint32_t> retry;  // `retry:` when all digits
};

class SseParser {
 public:
  // Called once per dispatched event. An event is dispatched at a blank line when it has at
  // least one `data:` field (the spec drops data-less events; so does this parser).
  using EventFn = std::function<void(const SseEvent&)>;
  // Called once per comment line, with the text after ':' (one leading space removed).
  using CommentFn = std::function<void(std::string_view)>;

  explicit SseParser(EventFn on_event, CommentFn on_comment = {}, size_t max_event_bytes = 1 << 20);

  // Feeds the next bytes. Errors (code "sse_too_large") are sticky: later calls return the same
  // error without parsing.
  Result<void> feed(std::string_view bytes);
  // The stream ended. An event whose blank line never came is dropped (WHATWG); returns whether
  // such an incomplete event was pending, so callers can tell a truncated stream.
  bool finish();

  uint64_t eventsDispatched() const { return events_; }

 private:
  // Each returns false after recording the sticky error (the event would grow past the bound).
  bool consumeLine(const char* begin, const char* end);
  bool processLine(std::string_view line);
  bool fail(const char* what);
  void dispatch();
  // Memory the event under construction holds (data, type, the current last-event-id).
  size_t pendingBytes() const {
    return pending_.data.size() + pending_.type.size() + pending_.id.size();
  }

  EventFn on_event_;
  CommentFn on_comment_;
  size_t max_event_bytes_;
  std::string line_;       // the current, incomplete line (or the BOM bytes seen so far)
  bool after_cr_ = false;  // the last byte was CR: a following LF belongs to the same line end
  bool bom_checked_ = false;
  SseEvent pending_;  // fields of the event being built; type "" means "message"
  bool has_data_ = false;
  uint64_t events_ = 0;
  std::optional<Error> error_;
};

}  // namespace aiw
