#include "sessions/session_json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "core/utf8.h"

namespace aiw::session_json {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Session ids, paths and reasons come from the network and may be any bytes. RapidJSON's writer
// escapes quotes and control characters but copies other bytes as they are, so bytes that are
// not UTF-8 would make the document invalid: they become U+FFFD.
void writeText(JsonWriter& w, std::string_view s) {
  std::string fixed;
  if (!isValidUtf8(s)) {
    fixed = toValidUtf8(s);
    s = fixed;
  }
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void writeKey(JsonWriter& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

void writeTextField(JsonWriter& w, std::string_view key, std::string_view value) {
  writeKey(w, key);
  writeText(w, value);
}

void writeCall(JsonWriter& w, const CallRecord& c) {
  w.StartObject();
  writeTextField(w, "time", isoTimeMs(c.time_ms));
  writeTextField(w, "call_id", c.call_id);
  writeTextField(w, "kind", c.kind);
  if (!c.tool.empty()) writeTextField(w, "tool", c.tool);
  writeTextField(w, "method", c.method);
  writeTextField(w, "host", c.host);
  writeTextField(w, "path", c.path);
  writeTextField(w, "status", callStatusName(c.status));
  writeKey(w, "http_status");
  w.Uint(c.http_status);
  writeKey(w, "latency_ms");
  // The writer refuses NaN and infinities (it would leave the document broken).
  w.Double(std::isfinite(c.latency_ms) && c.latency_ms > 0 ? c.latency_ms : 0.0);
  writeKey(w, "rule");
  if (c.rule.empty()) {
    w.Null();
  } else {
    writeText(w, c.rule);
  }
  if (!c.reason.empty()) writeTextField(w, "reason", c.reason);
  w.EndObject();
}

// The keys a session has in both shapes; the caller closes the object. `calls_key` names the
// count of calls: "calls" in the list, "total_calls" where "calls" is the timeline itself.
void writeSessionHead(JsonWriter& w, const SessionCopy& s, std::string_view calls_key) {
  w.StartObject();
  writeTextField(w, "session_id", s.id);
  writeKey(w, calls_key);
  w.Uint64(s.calls);
  writeKey(w, "blocked");
  w.Uint64(s.blocked);
  writeKey(w, "rate_limited");
  w.Uint64(s.rate_limited);
  writeKey(w, "errors");
  w.Uint64(s.errors);
  writeTextField(w, "first_seen", isoTimeMs(s.first_seen_ms));
  writeTextField(w, "last_seen", isoTimeMs(s.last_seen_ms));
}

void writeCalls(JsonWriter& w, std::string_view key, const std::vector<CallRecord>& calls) {
  writeKey(w, key);
  w.StartArray();
  for (const CallRecord& c : calls) writeCall(w, c);
  w.EndArray();
}

void configure(JsonWriter& w) {
  w.SetMaxDecimalPlaces(3);  // latencies: microseconds are plenty
}

}  // namespace

std::string isoTimeMs(int64_t ms) {
  // Floor division, so times before 1970 keep a millisecond part in 0..999.
  int64_t secs = ms / 1000;
  int64_t rem = ms % 1000;
  if (rem < 0) {
    rem += 1000;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  tm utc{};
  if (gmtime_r(&t, &utc) == nullptr) {  // a year past int: not a time any call has
    t = 0;
    rem = 0;
    gmtime_r(&t, &utc);
  }
  char buf[96];  // room for any int the format could print (the compiler checks it)
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(rem));
  return buf;
}

std::string renderList(const std::vector<SessionCopy>& sessions, size_t count,
                       size_t max_sessions) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  configure(w);
  w.StartObject();
  writeKey(w, "sessions");
  w.StartArray();
  for (const SessionCopy& s : sessions) {
    writeSessionHead(w, s, "calls");
    writeCalls(w, "recent", s.shown);
    w.EndObject();
  }
  w.EndArray();
  writeKey(w, "count");
  w.Uint64(count);
  writeKey(w, "max_sessions");
  w.Uint64(max_sessions);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string renderOne(const SessionCopy& session) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  configure(w);
  writeSessionHead(w, session, "total_calls");
  writeCalls(w, "calls", session.shown);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace aiw::session_json
