// Runtime: the little state every thread shares for the whole run — the published snapshot,
// the metrics shards, the open-connection count behind max_connections, the admin token and
// the draining flag. Everything here is either immutable after start-up or atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/metrics.h"
#include "core/snapshot.h"

namespace aiw {

struct InterceptionContext;  // tls/interception_context.h
class Reporter;              // filters/reporter/reporter.h
class SessionStore;          // sessions/session_store.h
class TlsClientContext;      // tls/tls_context.h

struct Runtime {
  explicit Runtime(size_t workers) : metrics(workers) {}

  SnapshotHolder snapshot;
  Metrics metrics;
  // Downstream connections open across all workers (data-plane listeners only). A worker
  // increments before accepting work on a connection and refuses it above max_connections.
  std::atomic<uint32_t> open_connections{0};
  std::atomic<bool> draining{false};
  std::atomic<uint64_t> next_stream_id{1};
  std::string admin_token;  // set once at start-up, before any thread reads it
  std::string state_dir;    // idem
  // The CA, leaf cache and the client-facing TLS context: set once at start-up, before the
  // workers start (a new CA needs a restart: clients must install it anyway).
  std::shared_ptr<const InterceptionContext> interception;
  // The context that verifies origins (upstream.ca_file): rebuilt by every reload, read when an
  // upstream TLS connection is made.
  std::atomic<std::shared_ptr<const TlsClientContext>> upstream_tls;
  std::string ca_pem;  // the interception CA certificate, for GET /ca.pem
  // The reporting service (queue, thread, sinks, recent events): created at start-up before the
  // first snapshot, shared with every snapshot's reporter stage, shut down (flushed) last, after
  // the workers have stopped. Set once before any thread reads it; thread-safe itself.
  std::shared_ptr<Reporter> reporter;
  // The sidecar's sessions (sessions.max_sessions, sessions.history): set once at start-up before
  // the workers start, resized by each reload. Thread-safe itself (sharded locks).
  // Null in tests that build a Runtime by hand: the session routes then have nothing to show.
  std::shared_ptr<SessionStore> sessions;
};

}  // namespace aiw
