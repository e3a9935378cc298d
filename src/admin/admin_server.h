// AdminServer: the admin listener (SPEC §7) on the main thread's event loop. HTTP/1.1 with the
// same strict parser and limits as the data plane (max_header_bytes, header_timeout_ms, a
// bounded body); requests are answered by AdminRoutes.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "admin/admin_routes.h"
#include "core/c_handles.h"
#include "core/config.h"
#include "core/result.h"
#include "core/runtime.h"

namespace aiw {

class AdminConnection;

class AdminServer {
 public:
  static Result<std::unique_ptr<AdminServer>> create(event_base* base, Runtime& runtime,
                                                     const HostPort& address,
                                                     AdminRoutes::ReloadFn reload,
                                                     AdminRoutes::PatternsFn patterns = {},
                                                     AdminRoutes::RulesFn rules = {});
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Answers `request` on the main thread, as if it had come to the admin listener, then calls
  // `done` with the response there. Thread-safe: the sidecar's workers mount the admin API
  // (`admin_routes: true`) this way, so every state change (rules, patterns, reload) stays on
  // the one thread that makes them.
  using Done = std::function<void(AdminResponse)>;
  void submit(AdminRequest request, Done done);

  // Internal, for the libevent callbacks and connections.
  void onAccept(int fd);
  void release(AdminConnection* conn);  // deferred destruction
  void reap();
  void runSubmitted();
  event_base* base() { return base_; }
  Runtime& runtime() { return runtime_; }
  AdminRoutes& routes() { return routes_; }

 private:
  AdminServer(event_base* base, Runtime& runtime, AdminRoutes::ReloadFn reload,
              AdminRoutes::PatternsFn patterns, AdminRoutes::RulesFn rules);

  event_base* base_;
  Runtime& runtime_;
  AdminRoutes routes_;
  EvconnListenerPtr listener_;
  EventPtr reap_ev_;
  std::unordered_map<AdminConnection*, std::unique_ptr<AdminConnection>> connections_;
  std::vector<std::unique_ptr<AdminConnection>> released_;
  EventPtr submitted_ev_;
  std::mutex submitted_mu_;  // guards submitted_ only (workers push, the main thread takes)
  std::vector<std::pair<AdminRequest, Done>> submitted_;
};

}  // namespace aiw
