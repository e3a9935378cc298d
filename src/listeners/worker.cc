#include "listeners/worker.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "core/thread_name.h"
#include "core/timeval.h"

namespace aiw {

namespace {

struct ListenerArg {
  Worker* worker;
  size_t index;
};

void onAcceptCb(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* arg) noexcept {
  auto* a = static_cast<ListenerArg*>(arg);
  a->worker->onAccept(a->index, fd, addr, len);
}
void onPostedCb(evutil_socket_t, short, void* arg) noexcept { static_cast<Worker*>(arg)->runPosted(); }
void onReapCb(evutil_socket_t, short, void* arg) noexcept { static_cast<Worker*>(arg)->reapReleased(); }
void onDrainDeadlineCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<Worker*>(arg)->onDrainDeadline();
}

std::string peerString(const sockaddr* addr) {
  char ip[INET6_ADDRSTRLEN] = {0};
  if (addr->sa_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (addr->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "unknown";
}

}  // namespace

Result<UniqueFd> bindListener(const HostPort& address) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, address.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(address.port);
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, address.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(address.port);
    len = sizeof(sockaddr_in6);
  } else if (address.host == "localhost") {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(address.port);
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sockaddr_in);
  } else {
    return makeError("bind", "listen address " + address.toString() +
                                 ": the host must be an IP address or localhost");
  }
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return makeError("bind", std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (ss.ss_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return makeError("bind", "cannot listen on " + address.toString() + ": " + std::strerror(errno));
  }
  if (::listen(fd.get(), 4096) != 0) {
    return makeError("bind", "cannot listen on " + address.toString() + ": " + std::strerror(errno));
  }
  return fd;
}

Worker::Worker(size_t index, Runtime& runtime, AcceptFn on_accept)
    : index_(index), runtime_(runtime), on_accept_(std::move(on_accept)) {
  base_.reset(event_base_new());
  post_ev_.reset(event_new(base_.get(), -1, 0, onPostedCb, this));
  reap_ev_.reset(event_new(base_.get(), -1, 0, onReapCb, this));
  drain_deadline_ev_.reset(evtimer_new(base_.get(), onDrainDeadlineCb, this));
  snapshot_ = runtime_.snapshot.get();
  const auto& up = snapshot_->config.upstream;
  resolver_ = std::make_unique<Resolver>(base_.get(), up.connect_timeout_ms);
  resolver_->setFixed(up.resolve);
  pool_ = std::make_unique<ConnectionPool>(base_.get(), up.idle_timeout_ms, 64);
  h2_pool_ = std::make_unique<H2UpstreamPool>(base_.get(), snapshot_->config.limits.max_header_bytes);
}

Worker::~Worker() {
  // Order matters: connections use the pool and resolver; listeners reference this worker.
  listeners_.clear();
  released_.clear();
  closeAllConnections();
  h2_pool_.reset();  // null already when the loop ran
  pool_.reset();
  resolver_.reset();
}

void Worker::addListener(BoundListener listener) { bound_.push_back(std::move(listener)); }

void Worker::start(std::function<void()> on_exit) {
  for (size_t i = 0; i < bound_.size(); ++i) {
    // The callback argument lives as long as the worker (listener_args_), past its listener.
    auto arg = std::make_unique<ListenerArg>(ListenerArg{this, i});
    evconnlistener* l = evconnlistener_new(base_.get(), onAcceptCb, arg.get(),
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
                                           bound_[i].fd.release());
    listener_args_.push_back(std::shared_ptr<void>(arg.release(), [](void* p) {
      delete static_cast<ListenerArg*>(p);
    }));
    listeners_.emplace_back(l);
  }
  thread_ = std::thread([this, on_exit = std::move(on_exit)] {
    nameThisThread("aiw-worker-" + std::to_string(index_));
    event_base_loop(base_.get(), EVLOOP_NO_EXIT_ON_EMPTY);
    // Whatever is left (drain deadline passed) is closed here, on the owning thread.
    listeners_.clear();
    closeAllConnections();
    released_.clear();
    pool_->clear();
    h2_pool_.reset();  // on the owning thread, like the rest of its connections
    on_exit();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    posted_.push_back(std::move(fn));
  }
  event_active(post_ev_.get(), 0, 0);  // thread-safe: evthread_use_pthreads() is on
}

void Worker::runPosted() {
  std::vector<std::function<void()>> fns;
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    fns.swap(posted_);
  }
  for (auto& fn : fns) fn();
}

std::shared_ptr<const Snapshot> Worker::snapshot() {
  auto current = runtime_.snapshot.get();
  if (current != snapshot_) {
    snapshot_ = current;
    const auto& up = snapshot_->config.upstream;
    resolver_->setFixed(up.resolve);
    pool_->setIdleTimeout(up.idle_timeout_ms);
  }
  return snapshot_;
}

void Worker::onAccept(size_t listener_index, int fd, const sockaddr* addr, int /*len*/) {
  UniqueFd sock(fd);
  auto& m = metrics();
  const auto& limits = snapshot()->config.limits;
  // max_connections: refuse at once (close) rather than queue, so existing ones are unaffected.
  uint32_t open = runtime_.open_connections.fetch_add(1, std::memory_order_relaxed) + 1;
  if (open > limits.max_connections || draining_) {
    runtime_.open_connections.fetch_sub(1, std::memory_order_relaxed);
    MetricsShard::bump(m.connections_refused);
    return;  // sock closes
  }
  MetricsShard::bump(m.connections_accepted);
  int one = 1;
  ::setsockopt(sock.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  on_accept_(*this, bound_[listener_index].config, std::move(sock), peerString(addr));
}

WorkerConnection* Worker::adopt(std::unique_ptr<WorkerConnection> conn) {
  auto* raw = conn.get();
  connections_.emplace(raw, std::move(conn));
  return raw;
}

void Worker::release(WorkerConnection* conn) {
  auto it = connections_.find(conn);
  if (it == connections_.end()) return;
  if (conn->counts_as_connection) {
    runtime_.open_connections.fetch_sub(1, std::memory_order_relaxed);
  }
  released_.push_back(std::move(it->second));
  connections_.erase(it);
  event_active(reap_ev_.get(), 0, 0);
}

// A connection's destructor may close others (an HTTP/2 connection aborts its streams'
// exchanges, which release themselves): the map is emptied before any of them runs, so those
// releases find nothing to erase in it.
void Worker::closeAllConnections() {
  auto doomed = std::move(connections_);
  connections_.clear();
  doomed.clear();
  released_.clear();
}

void Worker::reapReleased() {
  auto doomed = std::move(released_);
  released_.clear();
  doomed.clear();  // destructors may release more: they land in released_ and a new reap
  maybeFinishDrain();
}

void Worker::beginDrain(uint32_t drain_timeout_ms) {
  if (draining_) return;
  draining_ = true;
  listeners_.clear();  // closes this worker's listening sockets: new connections are refused
  pool_->clear();
  std::vector<WorkerConnection*> current;
  current.reserve(connections_.size());
  for (auto& [raw, owned] : connections_) current.push_back(raw);
  for (auto* c : current) c->drain();
  timeval tv = millisToTimeval(drain_timeout_ms);
  evtimer_add(drain_deadline_ev_.get(), &tv);
  maybeFinishDrain();
}

void Worker::onDrainDeadline() {
  if (!connections_.empty()) {
    log::warn("drain deadline reached; closing remaining connections",
              {{"worker", std::to_string(index_)}, {"open", std::to_string(connections_.size())}});
  }
  event_base_loopexit(base_.get(), nullptr);
}

void Worker::maybeFinishDrain() {
  if (draining_ && connections_.empty() && released_.empty()) {
    event_base_loopexit(base_.get(), nullptr);
  }
}

}  // namespace aiw
