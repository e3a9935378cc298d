// ConnectionPool: idle upstream HTTP/1.1 connections of one worker, keyed by origin
// ("http://host:port"), reused LIFO (the most recently used is the least likely to have been
// closed by the origin). While idle, a connection is watched: any byte or EOF from the origin,
// or idle_timeout_ms, closes it and takes it out of the pool. Single-threaded: the worker's.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/c_handles.h"

struct event_base;

namespace aiw {

class ConnectionPool;

struct PooledConnection {
  PooledConnection() = default;
  PooledConnection(const PooledConnection&) = delete;
  PooledConnection& operator=(const PooledConnection&) = delete;

  std::string key;
  BufferEventPtr bev;     // owns the socket (BEV_OPT_CLOSE_ON_FREE)
  uint64_t requests = 0;  // exchanges carried so far
  // Set while idle in the pool: lets the idle callbacks find and drop this entry. The pool
  // outlives its entries (it is destroyed last by the worker), so the pointer cannot dangle.
  ConnectionPool* pool = nullptr;
  // While this connection's TLS handshake runs: what tells the exchanges waiting to learn
  // whether the origin speaks h2 that it is over (released when the handshake ends).
  std::shared_ptr<void> probe;
};

class ConnectionPool {
 public:
  ConnectionPool(event_base* base, uint32_t idle_timeout_ms, size_t max_idle_per_origin);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // An idle connection to `key`, taken out of the pool with its callbacks cleared; or null.
  std::unique_ptr<PooledConnection> take(const std::string& key);
  // Parks a connection whose last exchange ended cleanly (response complete, keep-alive).
  void put(std::unique_ptr<PooledConnection> conn);
  void setIdleTimeout(uint32_t ms) { idle_timeout_ms_ = ms; }
  size_t idleCount() const;
  size_t idleCount(const std::string& key) const;  // idle connections to `key` only
  void clear() { idle_.clear(); }

  // Called by the idle watch callbacks: the origin closed it, sent stray bytes, or timed out.
  void drop(PooledConnection* conn);

 private:
  event_base* base_;
  uint32_t idle_timeout_ms_;
  size_t max_idle_per_origin_;
  std::unordered_map<std::string, std::list<std::unique_ptr<PooledConnection>>> idle_;
};

}  // namespace aiw
