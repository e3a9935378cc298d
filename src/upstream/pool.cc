#include "upstream/pool.h"

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/timeval.h"

namespace aiw {

namespace {
void onIdleRead(bufferevent*, void* arg) noexcept {
  auto* c = static_cast<PooledConnection*>(arg);
  c->pool->drop(c);  // an idle HTTP/1.1 origin has nothing to say: the connection is unusable
}
void onIdleEvent(bufferevent*, short what, void* arg) noexcept {
  auto* c = static_cast<PooledConnection*>(arg);
  // A TLS connection parked while its handshake runs reports the handshake's end: still good.
  if (what == BEV_EVENT_CONNECTED) return;
  c->pool->drop(c);  // EOF, error or idle timeout
}
}  // namespace

ConnectionPool::ConnectionPool(event_base* base, uint32_t idle_timeout_ms,
                               size_t max_idle_per_origin)
    : base_(base), idle_timeout_ms_(idle_timeout_ms), max_idle_per_origin_(max_idle_per_origin) {}

ConnectionPool::~ConnectionPool() = default;

std::unique_ptr<PooledConnection> ConnectionPool::take(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  auto conn = std::move(it->second.back());
  it->second.pop_back();
  if (it->second.empty()) idle_.erase(it);
  // Read interest stays on: the taker installs its callbacks in the same loop turn, and turning
  // it off and on again would cost two epoll_ctl calls per reused request.
  bufferevent_setcb(conn->bev.get(), nullptr, nullptr, nullptr, nullptr);
  bufferevent_set_timeouts(conn->bev.get(), nullptr, nullptr);
  conn->pool = nullptr;
  return conn;
}

void ConnectionPool::put(std::unique_ptr<PooledConnection> conn) {
  if (max_idle_per_origin_ == 0) return;  // pooling off: the connection closes here
  auto& list = idle_[conn->key];
  if (list.size() >= max_idle_per_origin_) {
    list.pop_front();  // the oldest idle one goes
  }
  conn->pool = this;
  auto* raw = conn.get();
  bufferevent_setcb(raw->bev.get(), onIdleRead, nullptr, onIdleEvent, raw);
  timeval tv = millisToTimeval(idle_timeout_ms_);
  bufferevent_set_timeouts(raw->bev.get(), idle_timeout_ms_ ? &tv : nullptr, nullptr);
  bufferevent_enable(raw->bev.get(), EV_READ);
  list.push_back(std::move(conn));
}

void ConnectionPool::drop(PooledConnection* conn) {
  auto it = idle_.find(conn->key);
  if (it == idle_.end()) return;
  it->second.remove_if([conn](const auto& p) { return p.get() == conn; });
  if (it->second.empty()) idle_.erase(it);
}

size_t ConnectionPool::idleCount() const {
  size_t n = 0;
  for (const auto& [k, v] : idle_) n += v.size();
  return n;
}

size_t ConnectionPool::idleCount(const std::string& key) const {
  auto it = idle_.find(key);
  return it == idle_.end() ? 0 : it->second.size();
}

}  // namespace aiw
