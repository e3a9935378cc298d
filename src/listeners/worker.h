// Worker: one event-loop thread with its own event_base, its own SO_REUSEPORT listening
// sockets, resolver, upstream pool and metrics shard. Connections accepted by a worker live and
// die on it; nothing on the request path takes a lock.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/c_handles.h"
#include "core/runtime.h"
#include "listeners/h2_upstream.h"
#include "upstream/pool.h"
#include "upstream/resolver.h"

namespace aiw {

struct AdminRequest;   // admin/admin_routes.h
struct AdminResponse;
// Hands an admin API request to the main thread and calls back there with the answer
// (AdminServer::submit): how a sidecar with `admin_routes: true` serves the admin API.
using AdminSubmitFn =
    std::function<void(AdminRequest, std::function<void(AdminResponse)>)>;

// A connection owned by a worker (an HTTP session, a tunnel…).
class WorkerConnection {
 public:
  virtual ~WorkerConnection() = default;
  // Draining has begun: finish what is in flight, then close (idle connections close now).
  virtual void drain() = 0;
  // A downstream connection, counted in Runtime::open_connections (accepted ones). False for
  // the sessions behind an HTTP/2 connection's streams, and for a connection handed over to
  // another object that carries on counting it.
  bool counts_as_connection = true;
};

struct BoundListener {
  ListenerConfig config;
  UniqueFd fd;  // bound and listening; SO_REUSEPORT so every worker has its own
};

class Worker {
 public:
  using AcceptFn = std::function<void(Worker&, const ListenerConfig&, UniqueFd, std::string peer)>;

  Worker(size_t index, Runtime& runtime, AcceptFn on_accept);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Takes this worker's listening sockets; call before start().
  void addListener(BoundListener listener);
  // The admin API for sidecar listeners that mount it; call before start().
  void setAdminSubmit(AdminSubmitFn submit) { admin_submit_ = std::move(submit); }
  const AdminSubmitFn& adminSubmit() const { return admin_submit_; }
  // `on_exit` runs on the worker thread when its loop has ended (after drain).
  void start(std::function<void()> on_exit);
  void join();
  // Runs `fn` on the worker's thread (thread-safe).
  void post(std::function<void()> fn);
  // Stop accepting; in-flight exchanges finish; the loop ends when the last connection goes,
  // or at the deadline, when the rest are closed.
  void beginDrain(uint32_t drain_timeout_ms);

  size_t index() const { return index_; }
  event_base* base() { return base_.get(); }
  Runtime& runtime() { return runtime_; }
  MetricsShard& metrics() { return runtime_.metrics.shard(index_); }
  Resolver& resolver() { return *resolver_; }
  ConnectionPool& pool() { return *pool_; }
  H2UpstreamPool& h2Upstreams() { return *h2_pool_; }
  // The snapshot for new connections; refreshes per-worker settings after a reload.
  std::shared_ptr<const Snapshot> snapshot();
  bool draining() const { return draining_; }

  // Ownership of connections: adopt on accept; release from anywhere, even from inside the
  // connection's own callback — destruction is deferred to the next loop turn.
  WorkerConnection* adopt(std::unique_ptr<WorkerConnection> conn);
  void release(WorkerConnection* conn);
  // Destroys every connection (the worker is ending).
  void closeAllConnections();

  // Internal, for the libevent callbacks.
  void onAccept(size_t listener_index, int fd, const sockaddr* addr, int len);
  void runPosted();
  void reapReleased();
  void onDrainDeadline();

 private:
  void maybeFinishDrain();

  size_t index_;
  Runtime& runtime_;
  AcceptFn on_accept_;
  AdminSubmitFn admin_submit_;
  EventBasePtr base_;
  std::unique_ptr<Resolver> resolver_;
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<H2UpstreamPool> h2_pool_;  // after pool_: destroyed first
  std::vector<BoundListener> bound_;
  std::vector<EvconnListenerPtr> listeners_;
  std::vector<std::shared_ptr<void>> listener_args_;  // callback args of listeners_
  std::unordered_map<WorkerConnection*, std::unique_ptr<WorkerConnection>> connections_;
  std::vector<std::unique_ptr<WorkerConnection>> released_;
  EventPtr reap_ev_;
  EventPtr post_ev_;
  EventPtr drain_deadline_ev_;
  std::mutex post_mu_;  // guards posted_ only (control plane: reload, drain)
  std::vector<std::function<void()>> posted_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::thread thread_;
  bool draining_ = false;
};

// Creates a listening TCP socket on `address` with SO_REUSEADDR and SO_REUSEPORT.
Result<UniqueFd> bindListener(const HostPort& address);

}  // namespace aiw
