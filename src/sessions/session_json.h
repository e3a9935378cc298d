// Rendering sessions as JSON (session_store.h documents the shapes). Internal to the sessions
// library: SessionStore copies what it needs under a shard's mutex and renders with none held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sessions/session_store.h"

namespace aiw::session_json {

// One session as copied out of its shard: the totals and the calls to show.
struct SessionCopy {
  std::string id;
  uint64_t calls = 0;
  uint64_t blocked = 0;
  uint64_t rate_limited = 0;
  uint64_t errors = 0;
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  uint64_t active_seq = 0;        // for ordering only; not rendered
  std::vector<CallRecord> shown;  // oldest first
};

// {"sessions":[... each with "recent" ...],"count":count,"max_sessions":max_sessions}
std::string renderList(const std::vector<SessionCopy>& sessions, size_t count, size_t max_sessions);

// One session with its whole kept history as "calls" (its count as "total_calls").
std::string renderOne(const SessionCopy& session);

// "2026-11-21T10:00:00.123Z" for Unix epoch milliseconds (negative: before 1970, still valid).
std::string isoTimeMs(int64_t ms);

}  // namespace aiw::session_json
