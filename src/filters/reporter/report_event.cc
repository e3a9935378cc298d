#include "filters/reporter/report_event.h"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>

#include "core/log.h"

namespace aiw {

namespace {

uint64_t processPrefix() {
  // Drawn once: two processes (or a restart) get different prefixes, so ids
  // stay unique in a file that outlives one run, without any coordination.
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ static_cast<uint64_t>(rd());
}

std::string_view outcomeName(RuleOutcome o) {
  switch (o) {
    case RuleOutcome::Block:
      return "block";
    case RuleOutcome::Modify:
      return "modify";
    case RuleOutcome::Log:
      return "log";
    case RuleOutcome::None:
    case RuleOutcome::Allow:
      break;
  }
  return "allow";
}

double millisBetween(std::chrono::steady_clock::time_point from,
                     std::chrono::steady_clock::time_point to) {
  if (from == std::chrono::steady_clock::time_point{}) return 0;
  // An exchange torn down before it finished has no `finished`: it ends now.
  if (to == std::chrono::steady_clock::time_point{}) to = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace

EventId::EventId(std::string_view text) {
  length_ = static_cast<uint8_t>(std::min(text.size(), kMaxLength));
  text.copy(text_.data(), length_);
}

EventId newEventId() {
  static const uint64_t prefix = processPrefix();
  static std::atomic<uint64_t> counter{0};
  uint64_t n = counter.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n >> 48) {  // past 12 hex digits (never in practice): the printf form, wider
    char wide[48];
    int len = std::snprintf(wide, sizeof wide, "%016" PRIx64 "-%012" PRIx64, prefix, n);
    return EventId(std::string_view(wide, len > 0 ? static_cast<size_t>(len) : 0));
  }
  // "%016x-%012x" of (prefix, n), written by hand: one id per event, made on the workers.
  static constexpr char kHex[] = "0123456789abcdef";
  static const std::array<char, 17> prefix_hex = [] {
    std::array<char, 17> text{};
    for (int i = 0; i < 16; ++i) text[i] = kHex[(prefix >> (4 * (15 - i))) & 0xf];
    text[16] = '-';
    return text;
  }();
  char buf[29];
  std::memcpy(buf, prefix_hex.data(), prefix_hex.size());
  for (int i = 0; i < 12; ++i) buf[17 + i] = kHex[(n >> (4 * (11 - i))) & 0xf];
  return EventId(std::string_view(buf, sizeof buf));
}

char *writeTimestamp(char *out, std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {  // before 1970: the second below, as gmtime_r counts it
    millis += 1000;
    --secs;
  }
  // Events of one second share "YYYY-MM-DDTHH:MM:SS": formatted once per second per thread.
  thread_local time_t cached_secs = -1;
  thread_local char cached[kTimestampMax - 5];  // any int the format prints (the compiler checks)
  thread_local size_t cached_len = 0;
  if (secs != cached_secs) {
    tm utc{};
    gmtime_r(&secs, &utc);
    int n = std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d",
                          utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                          utc.tm_min, utc.tm_sec);
    cached_len = n > 0 ? std::min(static_cast<size_t>(n), sizeof cached - 1) : 0;
    cached_secs = secs;
  }
  std::memcpy(out, cached, cached_len);
  out += cached_len;
  *out++ = '.';
  *out++ = static_cast<char>('0' + millis / 100);
  *out++ = static_cast<char>('0' + millis / 10 % 10);
  *out++ = static_cast<char>('0' + millis % 10);
  *out++ = 'Z';
  return out;
}

std::string formatTimestamp(std::chrono::system_clock::time_point t) {
  char buf[kTimestampMax];
  return std::string(buf, writeTimestamp(buf, t));
}

std::string_view trafficClassName(TrafficClass c) {
  switch (c) {
    case TrafficClass::Ai:
      return "ai";
    case TrafficClass::Chatty:
      return "chatty";
    case TrafficClass::Unknown:
      break;
  }
  return "unknown";
}

std::vector<DetectionCount> aggregateDetections(const std::vector<Detection> &detections,
                                                int which) {
  std::vector<DetectionCount> out;
  for (const Detection &d : detections) {
    if (which >= 0 && d.response != (which == 1)) continue;
    DetectionCount *found = nullptr;
    for (DetectionCount &c : out) {
      if (c.detector == d.detector && c.field == d.field) found = &c;
    }
    if (found == nullptr) {
      out.push_back({d.detector, d.category, d.field, 0});
      found = &out.back();
    }
    ++found->count;
  }
  return out;
}

namespace {

// Every event starts the same way: its kind, when, and an id of its own.
ReportEvent newEvent(EventKind kind, std::chrono::system_clock::time_point ts) {
  ReportEvent e;
  e.kind = kind;
  e.ts = ts;
  e.id = newEventId();
  return e;
}

}  // namespace

ReportEvent exchangeEvent(const StreamInfo &s, std::chrono::system_clock::time_point now) {
  ReportEvent e = newEvent(EventKind::Exchange, now);
  e.session_id = s.session_id;
  e.call_id = s.call_id;
  if (s.connection != nullptr) {
    e.listener = s.connection->listener;
    e.client = s.connection->client;
    e.intercepted = s.connection->intercept && !s.connection->bypassed;
  }
  e.host = s.host;
  e.method = s.method;
  e.path = s.path;
  e.protocol = s.protocol;
  e.status = s.status;
  e.traffic_class = s.traffic_class;
  if (s.endpoint.kind == ai::ApiKind::SidecarToolCall) {
    e.call_class = "tool";
  } else if (s.endpoint.kind == ai::ApiKind::McpJsonRpc) {
    e.call_class = "mcp";
  }
  e.provider = std::string(ai::providerName(s.endpoint.provider));
  e.model = s.model;
  e.tool = s.tool;
  e.action = s.verdict.action == Action::Block ? "block" : std::string(outcomeName(s.rule_outcome));
  e.rule = s.rule;
  if (s.verdict.action == Action::Block) {
    e.reason = s.verdict.reason;
    e.blocked_by = s.blocked_by;
  }
  e.error = s.error;
  e.inspection_skipped = s.inspection_skipped;
  e.detections = aggregateDetections(s.detections);
  e.latency_ms = millisBetween(s.started, s.finished);
  e.bytes_in = s.bytes_in;
  e.bytes_out = s.bytes_out;
  e.usage = s.usage;
  return e;
}

std::vector<ReportEvent> securityEvents(const StreamInfo &s, const ReportEvent &exchange) {
  std::vector<ReportEvent> out;
  auto make = [&](std::string action, std::string rule, std::string reason, bool response) {
    ReportEvent e = newEvent(EventKind::Security, exchange.ts);
    e.exchange_id = exchange.id;
    e.session_id = exchange.session_id;
    e.call_id = exchange.call_id;
    e.listener = exchange.listener;
    e.client = exchange.client;
    e.host = exchange.host;
    e.method = exchange.method;
    e.path = exchange.path;
    e.protocol = exchange.protocol;
    e.status = exchange.status;
    e.traffic_class = exchange.traffic_class;
    e.call_class = exchange.call_class;
    e.intercepted = exchange.intercepted;
    e.provider = exchange.provider;
    e.model = exchange.model;
    e.tool = exchange.tool;
    e.action = std::move(action);
    e.rule = std::move(rule);
    e.reason = std::move(reason);
    e.phase = response ? "response" : "request";
    e.detections = aggregateDetections(s.detections, response ? 1 : 0);
    out.push_back(std::move(e));
    return &out.back();
  };
  bool rule_blocked = false;
  for (const SecurityDecision &d : s.security_decisions) {
    rule_blocked = rule_blocked || d.action == RuleOutcome::Block;
    make(std::string(outcomeName(d.action)), d.rule, d.reason, d.response);
  }
  // A block by another stage (rate limit, a body over the limit with fail_mode
  // closed, the classifier) is a security decision too.
  if (s.verdict.action == Action::Block && !rule_blocked) {
    make("block", {}, s.verdict.reason, s.response_scanned && s.status != 0)->blocked_by =
        s.blocked_by;
  }
  // Detections no rule acted on are still reported: operators see what passed.
  if (out.empty() && !s.detections.empty()) {
    bool any_request = false, any_response = false;
    for (const Detection &d : s.detections) (d.response ? any_response : any_request) = true;
    if (any_request) make("detect", {}, {}, false);
    if (any_response) make("detect", {}, {}, true);
  }
  return out;
}

ReportEvent tunnelEvent(const ConnectionInfo &conn, std::chrono::system_clock::time_point now) {
  ReportEvent e = newEvent(EventKind::Tunnel, now);
  e.listener = conn.listener;
  e.client = conn.client;
  e.host = conn.target_host;
  e.port = conn.target_port;
  e.traffic_class = conn.traffic_class;
  e.intercepted = false;
  e.action = "tunnel";
  e.latency_ms = millisBetween(conn.tunnel_started, conn.tunnel_ended);
  e.bytes_in = conn.tunnel_bytes_up;
  e.bytes_out = conn.tunnel_bytes_down;
  return e;
}

ReportEvent droppedEventsEvent(std::string sink, uint64_t count,
                               std::chrono::system_clock::time_point now) {
  ReportEvent e = newEvent(EventKind::Security, now);
  e.action = "drop";
  e.reason = "events_dropped";
  e.sink = std::move(sink);
  e.dropped = count;
  return e;
}

}  // namespace aiw
