// encodeEvent: a ReportEvent as one JSON object (SPEC §8 field names, absent strings null).
//
// The reporter thread encodes every event the proxy reports. Appending piece by piece to a
// std::string checked the capacity and called out of line ~35 times an event (~7 000
// instructions, a sixth of what the proxy spends on a whole plain-HTTP exchange). Here the
// event's worst-case size is computed first — every string byte could become a six-byte
// "\u001f" — a per-thread scratch buffer is made that large once, every piece is written into
// it unchecked, and the result is copied out once.
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/log.h"
#include "filters/reporter/report_event.h"

namespace aiw {

namespace {

// Every key, punctuation, number, boolean, timestamp and fixed name of one event, with room to
// spare (the keys alone are ~420 bytes; a double in fixed notation can take 310 digits).
constexpr size_t kFixedMax = 2048;
// Per detection: its keys and punctuation (~45 bytes) and the count (at most 20 digits).
constexpr size_t kDetectionFixedMax = 96;

std::string_view kindName(EventKind k) {
  switch (k) {
    case EventKind::Exchange:
      return "exchange";
    case EventKind::Tunnel:
      return "tunnel";
    case EventKind::Security:
      return "security";
  }
  return "exchange";
}

// Writes at a position the caller has made room for (see worstCaseSize); nothing is checked.
class Writer {
 public:
  explicit Writer(char *at) : at_(at) {}
  char *end() const { return at_; }

  // A literal: keys with their punctuation, `null`, `true`... (its size is known at compile time)
  template <size_t N>
  void lit(const char (&text)[N]) {
    std::memcpy(at_, text, N - 1);
    at_ += N - 1;
  }
  void raw(std::string_view text) {
    std::memcpy(at_, text.data(), text.size());
    at_ += text.size();
  }
  // `key` then the string, quoted and escaped, or null when empty.
  template <size_t N>
  void str(const char (&key)[N], std::string_view value) {
    lit(key);
    if (value.empty()) {
      lit("null");
      return;
    }
    *at_++ = '"';
    escaped(value);
    *at_++ = '"';
  }
  template <size_t N>
  void uint(const char (&key)[N], uint64_t value) {
    lit(key);
    at_ = std::to_chars(at_, at_ + 20, value).ptr;
  }
  template <size_t N>
  void boolean(const char (&key)[N], bool value) {
    lit(key);
    if (value) {
      lit("true");
    } else {
      lit("false");
    }
  }
  // Milliseconds with one decimal.
  template <size_t N>
  void millis(const char (&key)[N], double ms) {
    lit(key);
    at_ = std::to_chars(at_, at_ + 320, ms < 0 ? 0.0 : ms, std::chars_format::fixed, 1).ptr;
  }
  void timestamp(std::chrono::system_clock::time_point t) { at_ = writeTimestamp(at_, t); }
  void tokens(int64_t v) {
    if (v < 0) {
      lit("null");
    } else {
      at_ = std::to_chars(at_, at_ + 20, v).ptr;
    }
  }

 private:
  // The escaping rules are core/log's (appendJsonEscaped), written here without checks.
  void escaped(std::string_view s) {
    const char *in = s.data();
    const char *const stop = in + s.size();
    while (in < stop) {
      const char *run = in;
      while (in < stop && !jsonNeedsEscape(static_cast<unsigned char>(*in))) ++in;
      raw(std::string_view(run, static_cast<size_t>(in - run)));
      if (in == stop) return;
      at_ = writeJsonEscape(at_, static_cast<unsigned char>(*in++));
    }
  }

  char *at_;
};

// Covers everything encodeEvent can write for `e`: its strings at six bytes a byte, the rest
// within kFixedMax.
size_t worstCaseSize(const ReportEvent &e) {
  size_t text = e.id.view().size() + e.exchange_id.view().size();
  for (const std::string *s :
       {&e.session_id, &e.call_id,      &e.listener,     &e.client,     &e.host,  &e.method,
        &e.path,       &e.protocol,     &e.call_class,   &e.provider,   &e.model, &e.tool,
        &e.action,     &e.rule,         &e.reason,       &e.blocked_by, &e.phase, &e.error,
        &e.sink,       &e.request_body, &e.response_body}) {
    text += s->size();
  }
  size_t fixed = kFixedMax + e.detections.size() * kDetectionFixedMax;
  for (const DetectionCount &d : e.detections) {
    text += d.detector.size() + d.category.size() + d.field.size();
  }
  return fixed + text * kJsonEscapeMax;
}

// A blind tunnel: nothing was decrypted, so only the connection's facts.
void writeTunnel(Writer &o, const ReportEvent &e) {
  o.str(",\"listener\":", e.listener);
  o.str(",\"client\":", e.client);
  o.str(",\"host\":", e.host);
  o.uint(",\"port\":", e.port);
  o.str(",\"class\":", trafficClassName(e.traffic_class));
  o.lit(",\"intercepted\":false");
  o.str(",\"action\":", e.action);
  o.millis(",\"duration_ms\":", e.latency_ms);
  o.uint(",\"bytes_in\":", e.bytes_in);
  o.uint(",\"bytes_out\":", e.bytes_out);
}

void writeDetections(Writer &o, const std::vector<DetectionCount> &detections) {
  o.lit(",\"detections\":[");
  bool first = true;
  for (const DetectionCount &d : detections) {
    if (!first) o.lit(",");
    first = false;
    o.str("{\"detector\":", d.detector);
    o.str(",\"category\":", d.category);
    o.str(",\"field\":", d.field);
    o.uint(",\"count\":", d.count);
    o.lit("}");
  }
  o.lit("]");
}

// Exchange and security events.
void writeExchangeOrSecurity(Writer &o, const ReportEvent &e) {
  const bool security = e.kind == EventKind::Security;
  const bool exchange = e.kind == EventKind::Exchange;
  if (security) o.str(",\"exchange_id\":", e.exchange_id.view());
  o.str(",\"session_id\":", e.session_id);
  o.str(",\"call_id\":", e.call_id);
  o.str(",\"listener\":", e.listener);
  o.str(",\"client\":", e.client);
  o.str(",\"host\":", e.host);
  o.str(",\"method\":", e.method);
  o.str(",\"path\":", e.path);
  o.str(",\"protocol\":", e.protocol);
  if (e.status) {
    o.uint(",\"status\":", e.status);
  } else {
    o.lit(",\"status\":null");
  }
  o.str(",\"class\":", e.call_class.empty() ? trafficClassName(e.traffic_class) : e.call_class);
  o.boolean(",\"intercepted\":", e.intercepted);
  o.str(",\"provider\":", e.provider);
  o.str(",\"model\":", e.model);
  o.str(",\"tool\":", e.tool);
  if (e.has_bodies && exchange) {
    o.str(",\"request_body\":", e.request_body);
    o.str(",\"response_body\":", e.response_body);
  }
  o.str(",\"action\":", e.action);
  o.str(",\"rule\":", e.rule);
  o.str(",\"reason\":", e.reason);
  o.str(",\"blocked_by\":", e.blocked_by);
  if (security) o.str(",\"phase\":", e.phase);
  if (security && e.dropped > 0) {
    o.str(",\"sink\":", e.sink);
    o.uint(",\"dropped\":", e.dropped);
  }
  writeDetections(o, e.detections);
  if (exchange) {
    o.str(",\"error\":", e.error);
    o.boolean(",\"inspection_skipped\":", e.inspection_skipped);
    o.millis(",\"latency_ms\":", e.latency_ms);
    o.uint(",\"bytes_in\":", e.bytes_in);
    o.uint(",\"bytes_out\":", e.bytes_out);
    if (e.usage.known()) {
      o.lit(",\"usage\":{\"input_tokens\":");
      o.tokens(e.usage.input_tokens);
      o.lit(",\"output_tokens\":");
      o.tokens(e.usage.output_tokens);
      o.lit("}");
    } else {
      o.lit(",\"usage\":null");
    }
  }
}

}  // namespace

std::string encodeEvent(const ReportEvent &e) {
  // Grown to the largest event seen on this thread (a few KiB, more only with captured bodies)
  // and kept: the reporter thread encodes events one after another.
  thread_local std::vector<char> scratch;
  const size_t bound = worstCaseSize(e);
  if (scratch.size() < bound) scratch.resize(bound);
  Writer o(scratch.data());
  o.lit("{\"ts\":\"");
  o.timestamp(e.ts);
  o.lit("\"");
  o.str(",\"kind\":", kindName(e.kind));
  o.str(",\"id\":", e.id.view());
  if (e.kind == EventKind::Tunnel) {
    writeTunnel(o, e);
  } else {
    writeExchangeOrSecurity(o, e);
  }
  o.lit("}");
  const size_t used = static_cast<size_t>(o.end() - scratch.data());
  // worstCaseSize must cover every byte written above; past it, memory is already damaged and
  // carrying on would spread that (the unit tests encode worst-case events to hold this).
  if (used > bound) std::abort();
  return std::string(scratch.data(), used);
}

}  // namespace aiw
