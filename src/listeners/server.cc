#include "listeners/server.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "admin/admin_server.h"
#include "core/config_loader.h"
#include "core/log.h"
#include "core/runtime.h"
#include "filters/reporter/reporter.h"
#include "filters/snapshot_builder.h"
#include "listeners/admin_token.h"
#include "listeners/forward_session.h"
#include "listeners/patterns_store.h"
#include "listeners/rules_store.h"
#include "listeners/snapshot_publish.h"
#include "listeners/worker.h"
#include "sessions/session_store.h"
#include "tls/certificate_authority.h"
#include "tls/interception_context.h"
#include "tls/tls_context.h"

namespace aiw {

namespace {

struct MainLoop {
  EventBasePtr base;
  EventPtr sighup, sigterm, sigint, workers_done;
  std::atomic<size_t> workers_running{0};
  std::function<void()> on_reload;
  std::function<void()> on_drain;
};

void onSignal(evutil_socket_t sig, short, void* arg) noexcept {
  auto* m = static_cast<MainLoop*>(arg);
  if (sig == SIGHUP) {
    m->on_reload();
  } else {
    m->on_drain();
  }
}
void onWorkersDone(evutil_socket_t, short, void* arg) noexcept {
  auto* m = static_cast<MainLoop*>(arg);
  if (m->workers_running.load() == 0) event_base_loopexit(m->base.get(), nullptr);
}

void acceptConnection(Worker& w, const ListenerConfig& listener, UniqueFd fd, std::string peer) {
  // Forward and sidecar listeners share the HTTP session: the listener type decides how a
  // request's target is read (forward_session.cc, forward_sidecar.cc).
  startForwardSession(w, listener, std::move(fd), std::move(peer));
}

// Restart-only settings: a reload takes the rest and says which of these it could not apply.
void warnRestartOnly(const Config& old_cfg, const Config& new_cfg) {
  auto same_listeners = [&] {
    if (old_cfg.listeners.size() != new_cfg.listeners.size()) return false;
    for (size_t i = 0; i < old_cfg.listeners.size(); ++i) {
      if (old_cfg.listeners[i].name != new_cfg.listeners[i].name ||
          old_cfg.listeners[i].address.toString() != new_cfg.listeners[i].address.toString()) {
        return false;
      }
    }
    return true;
  };
  if (!same_listeners()) log::warn("reload: listener changes take effect after a restart");
  if (old_cfg.admin.address.toString() != new_cfg.admin.address.toString()) {
    log::warn("reload: admin address changes take effect after a restart");
  }
  if (old_cfg.workers != new_cfg.workers) log::warn("reload: workers changes take effect after a restart");
  if (old_cfg.interception.ca_cert != new_cfg.interception.ca_cert ||
      old_cfg.interception.ca_key != new_cfg.interception.ca_key) {
    log::warn("reload: a new interception CA takes effect after a restart");
  }
}

}  // namespace

Result<Config> loadConfigFor(const ServerOptions& options) {
  if (options.config_path.empty()) return loadEmbeddedDefaultConfig();
  return loadConfigFile(options.config_path, validateFilterSpecs);
}

int runServer(const ServerOptions& options, Config initial) {
  evthread_use_pthreads();
  ::signal(SIGPIPE, SIG_IGN);

  // The state dir first: stored patterns and rules come from it, and the reporter's relative
  // sink paths resolve under it before the first snapshot configures the sinks.
  const std::string state_dir = resolveStateDir(options.state_dir_override, initial.state_dir);
  if (auto r = makeDirectories(state_dir); !r.ok()) {
    log::error(r.error().message);
    return 1;
  }
  // Lists updated through PUT /proxy/v1/patterns replace the configured ones (here and on every
  // reload).
  applyStoredPatterns(initial, state_dir);
  applyStoredRules(initial, state_dir);
  // One per process, outliving every snapshot (reporter.h); shut down after the workers.
  auto reporter = std::make_shared<Reporter>(state_dir);
  auto built = buildSnapshot(std::move(initial), 1, reporter);
  if (!built.ok()) {
    for (size_t pos = 0; pos < built.error().message.size();) {
      size_t nl = built.error().message.find('\n', pos);
      log::error(built.error().message.substr(pos, nl - pos));
      pos = nl == std::string::npos ? nl : nl + 1;
    }
    return 1;
  }
  std::shared_ptr<const Snapshot> snap = built.value();
  const Config& cfg = snap->config;

  size_t workers = cfg.workers != 0 ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
  Runtime runtime(workers);
  runtime.state_dir = state_dir;
  runtime.reporter = reporter;
  runtime.sessions =
      std::make_shared<SessionStore>(cfg.sessions.max_sessions, cfg.sessions.history);
  publishSnapshot(runtime, snap);
  auto token = ensureAdminToken(cfg.admin.token, runtime.state_dir);
  if (!token.ok()) {
    log::error(token.error().message);
    return 1;
  }
  runtime.admin_token = token.value();
  auto interception = InterceptionContext::create(cfg, runtime.state_dir);
  if (!interception.ok()) {
    log::error(interception.error().message);
    return 1;
  }
  runtime.interception = interception.value();
  auto upstream_tls = makeUpstreamTlsContext(cfg);
  if (!upstream_tls.ok()) {
    log::error(upstream_tls.error().message);
    return 1;
  }
  runtime.upstream_tls.store(upstream_tls.value());
  runtime.ca_pem = runtime.interception->ca->certPem();
  log::info("interception CA", {{"path", runtime.interception->ca->certPath()}});

  MainLoop main;
  main.base.reset(event_base_new());

  // Bind everything before starting anything: a busy port stops start-up cleanly.
  std::vector<std::unique_ptr<Worker>> pool;
  for (size_t i = 0; i < workers; ++i) {
    pool.push_back(std::make_unique<Worker>(i, runtime, acceptConnection));
    for (const auto& l : cfg.listeners) {
      auto fd = bindListener(l.address);
      if (!fd.ok()) {
        log::error(fd.error().message, {{"listener", l.name}});
        return 1;
      }
      pool.back()->addListener(BoundListener{l, std::move(fd.value())});
    }
  }

  auto reload = [&]() -> Result<void> {
    auto config = loadConfigFor(options);
    if (!config.ok()) return config.error();
    applyStoredPatterns(config.value(), runtime.state_dir);
    applyStoredRules(config.value(), runtime.state_dir);
    auto current = runtime.snapshot.get();
    warnRestartOnly(current->config, config.value());
    // Everything is validated before anything is swapped: a reload applies whole or not at all.
    auto upstream_tls = makeUpstreamTlsContext(config.value());
    if (!upstream_tls.ok()) return upstream_tls.error();
    auto next = buildSnapshot(std::move(config.value()), current->generation + 1,
                              runtime.reporter, current.get());
    if (!next.ok()) return next.error();
    runtime.upstream_tls.store(upstream_tls.value());
    publishSnapshot(runtime, next.value());
    // Sessions kept so far stay when they fit the new bounds (the least recently active go).
    runtime.sessions->resize(next.value()->config.sessions.max_sessions,
                             next.value()->config.sessions.history);
    log::info("configuration reloaded", {{"generation", std::to_string(next.value()->generation)}});
    return {};
  };
  main.on_reload = [&] {
    auto r = reload();
    if (!r.ok()) {
      log::error("reload failed; keeping the running configuration");
      for (size_t pos = 0; pos < r.error().message.size();) {
        size_t nl = r.error().message.find('\n', pos);
        log::error(r.error().message.substr(pos, nl - pos));
        pos = nl == std::string::npos ? nl : nl + 1;
      }
    }
  };
  main.on_drain = [&] {
    if (runtime.draining.exchange(true)) return;
    uint32_t timeout = runtime.snapshot.get()->config.drain_timeout_ms;
    log::info("draining", {{"timeout_ms", std::to_string(timeout)}});
    for (auto& w : pool) {
      Worker* raw = w.get();
      raw->post([raw, timeout] { raw->beginDrain(timeout); });
    }
  };

  auto admin = AdminServer::create(
      main.base.get(), runtime, cfg.admin.address, reload,
      [&runtime](const DomainClassifierConfig& patterns) {
        return replacePatterns(runtime, patterns);
      },
      [&runtime](std::optional<std::string> rules, AdminRoutes::ChainState state) {
        return replaceRules(runtime, std::move(rules), state == AdminRoutes::ChainState::Fresh);
      });
  if (!admin.ok()) {
    log::error(admin.error().message);
    return 1;
  }
  // Sidecars with admin_routes: true serve the admin API through the admin server's thread.
  AdminServer* admin_server = admin.value().get();
  for (auto& w : pool) {
    w->setAdminSubmit([admin_server](AdminRequest request,
                                     std::function<void(AdminResponse)> done) {
      admin_server->submit(std::move(request), std::move(done));
    });
  }

  main.sighup.reset(evsignal_new(main.base.get(), SIGHUP, onSignal, &main));
  main.sigterm.reset(evsignal_new(main.base.get(), SIGTERM, onSignal, &main));
  main.sigint.reset(evsignal_new(main.base.get(), SIGINT, onSignal, &main));
  main.workers_done.reset(event_new(main.base.get(), -1, 0, onWorkersDone, &main));
  for (auto* ev : {main.sighup.get(), main.sigterm.get(), main.sigint.get()}) event_add(ev, nullptr);

  main.workers_running = pool.size();
  for (auto& w : pool) {
    w->start([&main] {
      main.workers_running.fetch_sub(1);
      event_active(main.workers_done.get(), 0, 0);
    });
  }
  for (const auto& l : cfg.listeners) {
    log::info("listening", {{"listener", l.name}, {"address", l.address.toString()},
                            {"workers", std::to_string(workers)}});
  }
  log::info("admin listening", {{"address", cfg.admin.address.toString()},
                                {"state_dir", runtime.state_dir}});

  event_base_loop(main.base.get(), EVLOOP_NO_EXIT_ON_EMPTY);
  for (auto& w : pool) w->join();
  admin.value().reset();
  pool.clear();
  // Last: the workers are gone, so every exchange and tunnel they finished has been submitted.
  // The queue is drained into the sinks and fsynced before exit (SPEC §1: flush the reporter).
  runtime.reporter->shutdown();
  log::info("reporter flushed", {{"written", std::to_string(runtime.reporter->written())},
                                 {"dropped", std::to_string(runtime.reporter->dropped())}});
  log::info("stopped");
  return 0;
}

}  // namespace aiw
