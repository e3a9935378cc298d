// ReportEvent: one reporter event (SPEC §8) — an `exchange`, a `tunnel` or a
// `security` event — as plain owned data, so it can cross from a worker to the
// reporter thread without pointing into a stream or connection that is gone by
// then. Workers build events (cheap copies of the facts); the reporter thread
// encodes them (encodeEvent) off the data path.
//
// Secrets: an event never carries matched text, bodies or header values.
// Detections are aggregated to {detector, category, field, count}; the block
// reason is the rule's configured reason.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "filters/filter.h"

namespace aiw {

enum class EventKind : uint8_t { Exchange, Tunnel, Security };

struct DetectionCount {
  std::string detector;
  std::string category;
  std::string field;
  uint64_t count = 0;
};

// An event id ("3f9c0a1be2d47781-000000000001a", newEventId) kept inline: a worker builds an
// event and the reporter thread frees it, so every heap buffer in it is a free on another
// thread's arena. Ids are the one string every event has, and they do not fit the SSO.
class EventId {
 public:
  static constexpr size_t kMaxLength = 40;
  EventId() = default;
  // Longer text is cut at kMaxLength (newEventId's longest is 33).
  explicit EventId(std::string_view text);
  std::string_view view() const { return {text_.data(), length_}; }
  bool empty() const { return length_ == 0; }
  friend bool operator==(const EventId &a, const EventId &b) { return a.view() == b.view(); }
  friend bool operator==(const EventId &a, std::string_view b) { return a.view() == b; }

 private:
  std::array<char, kMaxLength> text_{};
  uint8_t length_ = 0;
};

struct ReportEvent {
  EventKind kind = EventKind::Exchange;
  std::chrono::system_clock::time_point ts{};
  EventId id;           // unique in the process and across restarts (newEventId)
  EventId exchange_id;  // security events: the id of the exchange event they belong to
  std::string session_id, call_id;
  std::string listener, client;
  std::string host;
  uint16_t port = 0;  // tunnel events
  std::string method, path, protocol;
  uint16_t status = 0;  // 0: no response was sent
  TrafficClass traffic_class = TrafficClass::Unknown;
  // "tool" / "mcp" for a sidecar's tool and MCP calls (the rules' match_class values), which the
  // domain classes do not describe; empty: the traffic class names it.
  std::string call_class;
  bool intercepted = false;
  // capture_bodies: the bodies, redacted (body_capture.h); has_bodies says they were captured.
  bool has_bodies = false;
  std::string request_body, response_body;
  std::string provider, model, tool;
  std::string action;  // allow | block | modify | log | detect (security) | tunnel
  std::string rule;
  std::string reason;      // block reason (security), the verdict's reason (exchange blocks)
  std::string blocked_by;  // the filter that blocked
  std::string phase;       // security: "request" | "response"
  std::string error;       // the exchange's error code, "" when none
  bool inspection_skipped = false;
  std::vector<DetectionCount> detections;
  double latency_ms = 0;   // exchange: start to completion; tunnel: its duration
  uint64_t bytes_in = 0;   // exchange: request body bytes; tunnel: client → upstream
  uint64_t bytes_out = 0;  // exchange: response body bytes; tunnel: upstream → client
  ai::Usage usage;
  // Security events of kind events_dropped (droppedEventsEvent): the sink and how many.
  std::string sink;
  uint64_t dropped = 0;
};

// A process-unique id: a random 64-bit prefix drawn once per process, then a
// counter, in hex
// ("3f9c0a1be2d47781-000000000001a"). Thread-safe (one atomic increment).
EventId newEventId();

// "2026-11-21T10:00:00.123Z".
std::string formatTimestamp(std::chrono::system_clock::time_point t);
// The same, written at `out` (at most kTimestampMax bytes, for years of any width); returns the
// end. The encoder writes it in place.
constexpr size_t kTimestampMax = 100;
char *writeTimestamp(char *out, std::chrono::system_clock::time_point t);

// Detections of one side (or both: `which` = -1 for all, 0 request, 1 response)
// counted per (detector, field), in first-seen order.
std::vector<DetectionCount> aggregateDetections(const std::vector<Detection> &detections,
                                                int which = -1);

// The exchange event of a completed stream, and its security events (one per
// rule decision that is not a plain allow, one for a block by another filter,
// one for detections that no rule acted on). `now` is the completion's
// wall-clock time.
ReportEvent exchangeEvent(const StreamInfo &s, std::chrono::system_clock::time_point now);
std::vector<ReportEvent> securityEvents(const StreamInfo &s, const ReportEvent &exchange);
// The event of a blind tunnel that has closed (conn.bypassed).
ReportEvent tunnelEvent(const ConnectionInfo &conn, std::chrono::system_clock::time_point now);

// The security event that reports events an http sink dropped past its spool's bound (one per
// episode): action "drop", reason "events_dropped", `sink` and `dropped` (the count).
ReportEvent droppedEventsEvent(std::string sink, uint64_t count,
                               std::chrono::system_clock::time_point now);

// One JSON object, no newline. Field names are SPEC §8's; absent strings are
// null. (event_json.cc)
std::string encodeEvent(const ReportEvent &e);

std::string_view trafficClassName(TrafficClass c);

}  // namespace aiw
