#include "sessions/session_store.h"

#include <algorithm>
#include <functional>
#include <iterator>
#include <unordered_set>
#include <vector>

#include "sessions/session_json.h"

namespace aiw {

std::string_view callStatusName(CallStatus status) {
  switch (status) {
    case CallStatus::Ok:
      return "ok";
    case CallStatus::Blocked:
      return "blocked";
    case CallStatus::RateLimited:
      return "rate_limited";
    case CallStatus::Error:
      return "error";
  }
  return "error";
}

SessionStore::SessionStore(size_t max_sessions, size_t history) : history_(history) {
  setCapacities(max_sessions);  // no other thread can see the store yet
}

size_t SessionStore::shardOf(std::string_view id, size_t count) const {
  return std::hash<std::string_view>{}(id) % count;
}

void SessionStore::setCapacities(size_t max_sessions) {
  const size_t n = std::min(kMaxShards, max_sessions);
  for (size_t i = 0; i < kMaxShards; ++i) {
    // The remainder goes one each to the first shards: the total is exactly max_sessions.
    shards_[i].capacity = i < n ? max_sessions / n + (i < max_sessions % n ? 1 : 0) : 0;
  }
  shard_count_.store(n, std::memory_order_release);
  max_sessions_.store(max_sessions, std::memory_order_relaxed);
}

std::pair<SessionStore::Shard*, std::unique_lock<std::mutex>> SessionStore::lockShardOf(
    std::string_view id) const {
  for (;;) {
    const size_t n = shard_count_.load(std::memory_order_acquire);
    if (n == 0) return {nullptr, std::unique_lock<std::mutex>()};
    Shard& shard = shards_[shardOf(id, n)];
    std::unique_lock lock(shard.mu);
    // The count only changes while resize() holds every mutex, ours included: unchanged now
    // means the shard is right for as long as we hold it. Changed: a resize ran in between.
    if (shard_count_.load(std::memory_order_relaxed) == n) return {&shard, std::move(lock)};
  }
}

void SessionStore::evictOldest(Shard& shard) {
  SessionList::iterator victim = std::prev(shard.lru.end());
  shard.index.erase(std::string_view(victim->id));  // before the node (the key's storage) goes
  shard.lru.erase(victim);
  total_.fetch_sub(1, std::memory_order_relaxed);
  evicted_.fetch_add(1, std::memory_order_relaxed);
}

void SessionStore::record(std::string_view session_id, CallRecord call) {
  if (session_id.empty()) return;
  auto [shard, lock] = lockShardOf(session_id);
  if (shard == nullptr) return;
  Session* s = nullptr;
  if (auto it = shard->index.find(session_id); it != shard->index.end()) {
    shard->lru.splice(shard->lru.begin(), shard->lru, it->second);
    s = &*it->second;
  } else {
    // Make room first, so the store never holds more than max_sessions, not even briefly.
    while (!shard->lru.empty() && shard->lru.size() >= shard->capacity) evictOldest(*shard);
    shard->lru.emplace_front();
    s = &shard->lru.front();
    s->id.assign(session_id);
    s->first_seen_ms = s->last_seen_ms = call.time_ms;
    shard->index.emplace(std::string_view(s->id), shard->lru.begin());
    total_.fetch_add(1, std::memory_order_relaxed);
  }
  ++s->calls;
  s->blocked += call.status == CallStatus::Blocked ? 1 : 0;
  s->rate_limited += call.status == CallStatus::RateLimited ? 1 : 0;
  s->errors += call.status == CallStatus::Error ? 1 : 0;
  // Calls complete out of order (time_ms is when each started): the bounds, not the last one.
  s->first_seen_ms = std::min(s->first_seen_ms, call.time_ms);
  s->last_seen_ms = std::max(s->last_seen_ms, call.time_ms);
  // Taken under the mutex, so it agrees with the LRU order within the shard.
  s->active_seq = activity_seq_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (history_ == 0) return;
  while (s->history.size() >= history_) s->history.pop_front();
  s->history.push_back(std::move(call));
}

void SessionStore::resize(size_t max_sessions, size_t history) {
  // Every shard, in index order (the only place more than one is held, so no deadlock): the
  // shard count may change, and then sessions move between shards.
  std::array<std::unique_lock<std::mutex>, kMaxShards> locks;
  for (size_t i = 0; i < kMaxShards; ++i) locks[i] = std::unique_lock(shards_[i].mu);
  if (max_sessions == max_sessions_.load(std::memory_order_relaxed) && history == history_) return;

  history_ = history;
  SessionList all;  // spliced, never copied: the index keys stay valid until rebuilt below
  for (Shard& shard : shards_) {
    shard.index.clear();
    all.splice(all.end(), shard.lru);
  }
  // Most recently active first across shards (the stamps are unique).
  all.sort([](const Session& a, const Session& b) { return a.active_seq > b.active_seq; });
  setCapacities(max_sessions);
  const size_t n = shard_count_.load(std::memory_order_relaxed);
  size_t kept = 0;
  uint64_t dropped = 0;
  while (!all.empty()) {
    SessionList::iterator node = all.begin();
    Shard* target = n > 0 ? &shards_[shardOf(node->id, n)] : nullptr;
    if (target == nullptr || target->lru.size() >= target->capacity) {
      all.erase(node);
      ++dropped;
      continue;
    }
    while (node->history.size() > history_) node->history.pop_front();
    target->lru.splice(target->lru.end(), all, node);
    target->index.emplace(std::string_view(node->id), node);
    ++kept;
  }
  total_.store(kept, std::memory_order_relaxed);
  evicted_.fetch_add(dropped, std::memory_order_relaxed);
}

void SessionStore::clear() {
  for (Shard& shard : shards_) {
    SessionList gone;  // freed after the mutex is released
    {
      std::lock_guard lock(shard.mu);
      shard.index.clear();
      gone.swap(shard.lru);
      total_.fetch_sub(gone.size(), std::memory_order_relaxed);
    }
  }
}

session_json::SessionCopy SessionStore::copyOf(const Session& s, size_t max_calls) {
  session_json::SessionCopy c;
  c.id = s.id;
  c.calls = s.calls;
  c.blocked = s.blocked;
  c.rate_limited = s.rate_limited;
  c.errors = s.errors;
  c.first_seen_ms = s.first_seen_ms;
  c.last_seen_ms = s.last_seen_ms;
  c.active_seq = s.active_seq;
  const size_t skip = s.history.size() > max_calls ? s.history.size() - max_calls : 0;
  c.shown.assign(s.history.begin() + static_cast<std::ptrdiff_t>(skip), s.history.end());
  return c;
}

std::string SessionStore::listJson(size_t limit) const {
  std::vector<session_json::SessionCopy> picked;
  // Shard by shard, one mutex at a time. Each shard's list is in recency order, so the global
  // most recent `limit` are among the first `limit` of each shard.
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    size_t taken = 0;
    for (const Session& s : shard.lru) {
      if (taken++ == limit) break;
      picked.push_back(copyOf(s, kRecentCalls));
    }
  }
  std::sort(picked.begin(), picked.end(), [](const auto& a, const auto& b) {
    return a.active_seq != b.active_seq ? a.active_seq > b.active_seq : a.id < b.id;
  });
  // A resize that ran between two shards' copies may have moved a session past the walk: it was
  // copied twice. The first (most recent) copy stays.
  std::unordered_set<std::string> seen;  // copies: the ids below are moved out
  std::vector<session_json::SessionCopy> shown;
  for (auto& c : picked) {
    if (shown.size() == limit) break;
    if (seen.insert(c.id).second) shown.push_back(std::move(c));
  }
  return session_json::renderList(shown, size(), maxSessions());
}

std::optional<std::string> SessionStore::sessionJson(std::string_view id) const {
  if (id.empty()) return std::nullopt;
  session_json::SessionCopy copy;
  {
    auto [shard, lock] = lockShardOf(id);
    if (shard == nullptr) return std::nullopt;
    auto it = shard->index.find(id);
    if (it == shard->index.end()) return std::nullopt;
    copy = copyOf(*it->second, it->second->history.size());
  }
  return session_json::renderOne(copy);
}

}  // namespace aiw
