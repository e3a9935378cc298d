// The sidecar's sessions (SPEC §4, §7): per session id, its totals and a timeline of its last
// calls, for GET /proxy/v1/sessions[/{session}]. Shared by every worker, bounded in sessions and
// in calls per session, so a client that invents ids cannot grow it.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/utf8.h"

namespace aiw {

namespace session_json {
struct SessionCopy;  // session_json.h
}

enum class CallStatus : uint8_t { Ok, Blocked, RateLimited, Error };

// "ok", "blocked", "rate_limited", "error": the JSON spelling.
std::string_view callStatusName(CallStatus status);

// toValidUtf8 (core/utf8.h): session ids and paths are whatever bytes a client sent; JSON text
// must be UTF-8 (the admin routes echo ids).

// One call of a session, as the sidecar saw it when the call completed.
struct CallRecord {
  int64_t time_ms = 0;  // Unix epoch milliseconds when the call started
  std::string call_id;
  std::string kind;  // "tool" | "mcp" | "route"
  std::string tool;  // tool name or MCP tools/call name; empty for other calls
  std::string method;
  std::string host;
  std::string path;
  CallStatus status = CallStatus::Ok;
  uint16_t http_status = 0;
  double latency_ms = 0;
  std::string rule;    // matched rule; empty = none (JSON null)
  std::string reason;  // block or error reason; may be empty (then omitted)
};

// Locking: the sessions are split over up to 16 shards by a hash of the session id; each shard
// has its own mutex, LRU list and index, and every method holds at most one shard's mutex at a
// time — except resize(), which takes all of them (in index order) because it may move sessions
// between shards. The shard count is atomic and changes only while every shard mutex is held, so
// a writer that re-reads it under its shard's mutex knows it picked the right shard. JSON is
// rendered from copies, after the shard's mutex is released. All methods are thread-safe.
//
// Bounds: at most max_sessions sessions in all (each shard holds its exact share: shard count =
// min(16, max_sessions), capacities differ by at most one); a full shard evicts its least
// recently active session. Each session keeps its last `history` calls; its totals are kept
// whole for as long as the session is.
class SessionStore {
 public:
  SessionStore(size_t max_sessions, size_t history);
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // Adds a completed call to its session, creating the session (and evicting the shard's least
  // recently active one when full) when it is new; the session becomes the shard's most recent.
  // Runs on worker threads when a sidecar call completes. An empty id is ignored (no session),
  // as is everything while max_sessions is 0.
  void record(std::string_view session_id, CallRecord call);

  // After a configuration reload (main thread): keeps the most recently active sessions that fit
  // the new bounds, evicts the rest, and trims every history to the new length. A no-op when
  // both values are unchanged.
  void resize(size_t max_sessions, size_t history);

  // {"sessions":[{"session_id","calls","blocked","rate_limited","errors","first_seen",
  // "last_seen","recent":[the last up to 10 calls, oldest first]}...],"count":N,"max_sessions":M}
  // with at most `limit` sessions, most recently active first; N is the number of sessions held
  // (it may exceed the array's length). first_seen and last_seen are ISO-8601 UTC times.
  std::string listJson(size_t limit) const;

  // {"session_id","total_calls","blocked","rate_limited","errors","first_seen","last_seen",
  // "calls":[the whole kept history, oldest first]}, or nullopt when the store holds no session
  // `id` ("calls" being the timeline here, the count is "total_calls"). Reading does not make
  // the session more recent.
  std::optional<std::string> sessionJson(std::string_view id) const;

  // POST /proxy/v1/reset: forgets every session (not counted as evictions).
  void clear();

  size_t size() const { return total_.load(std::memory_order_relaxed); }
  size_t maxSessions() const { return max_sessions_.load(std::memory_order_relaxed); }
  // Sessions dropped to make room (record) or to fit smaller bounds (resize), since start-up.
  uint64_t evicted() const { return evicted_.load(std::memory_order_relaxed); }

  static constexpr size_t kMaxShards = 16;
  static constexpr size_t kRecentCalls = 10;  // calls per session in listJson

 private:
  struct Session {
    std::string id;
    uint64_t calls = 0;
    uint64_t blocked = 0;
    uint64_t rate_limited = 0;
    uint64_t errors = 0;
    int64_t first_seen_ms = 0;
    int64_t last_seen_ms = 0;
    // activity_seq_ at the last record(): orders activity across shards (within a shard it
    // agrees with the LRU order, both being set under the shard's mutex).
    uint64_t active_seq = 0;
    std::deque<CallRecord> history;  // oldest first, at most history_ long
  };
  using SessionList = std::list<Session>;  // most recently active first

  struct Shard {
    std::mutex mu;
    size_t capacity = 0;  // guarded by mu (written by resize() holding every shard's mu)
    SessionList lru;      // guarded by mu
    // Keys view the ids inside lru's nodes: list nodes never move, not even when spliced.
    std::unordered_map<std::string_view, SessionList::iterator> index;  // guarded by mu
  };

  size_t shardOf(std::string_view id, size_t count) const;
  // The shard that holds (or would hold) `id`, locked; null when max_sessions is 0.
  std::pair<Shard*, std::unique_lock<std::mutex>> lockShardOf(std::string_view id) const;
  // Shard's mu held: drops its least recently active session.
  void evictOldest(Shard& shard);
  // Every shard's mu held: lays the shards out for `max_sessions`.
  void setCapacities(size_t max_sessions);
  // Shard's mu held: what rendering needs, with the last `max_calls` calls.
  static session_json::SessionCopy copyOf(const Session& s, size_t max_calls);

  // mutable: the const readers lock them.
  mutable std::array<Shard, kMaxShards> shards_;
  std::atomic<size_t> shard_count_{0};  // shards in use; see the locking note above
  size_t history_ = 0;                  // guarded by every shard's mu (read under any one)
  std::atomic<size_t> max_sessions_{0};
  std::atomic<size_t> total_{0};  // sessions held; only changed under a shard's mu
  std::atomic<uint64_t> evicted_{0};
  // One tick per record(): a total order of activity that a clock could not give (ties).
  std::atomic<uint64_t> activity_seq_{0};
};

}  // namespace aiw
