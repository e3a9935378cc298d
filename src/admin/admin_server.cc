#include "admin/admin_server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstring>

#include "core/log.h"
#include "core/timeval.h"
#include "http/http1_feed.h"
#include "http/http1_parser.h"
#include "http/http1_writer.h"

namespace aiw {

namespace {
constexpr size_t kMaxAdminBody = 1 << 20;  // rulesets and pattern lists fit; more is refused
}  // namespace

class AdminConnection : public Http1ParserCallbacks {
 public:
  AdminConnection(AdminServer& server, int fd)
      : server_(server),
        fd_(fd),
        parser_(Http1Parser::Type::Request, *this,
                server.runtime().snapshot.get()->config.limits.max_header_bytes) {}

  void start();
  void onRead();
  void onWrite();
  void onEvent(short what);
  void onTimeout();

  HeadAction onRequestHead(RequestHead& head) override {
    evtimer_del(timer_.get());
    request_ = AdminRequest{};
    request_.method = head.method;
    std::string_view target = head.target;
    size_t q = target.find('?');
    request_.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request_.query = std::string(target.substr(q + 1));
    request_.headers = std::move(head.headers);
    keep_alive_ = head.keep_alive;
    if (head.framing == BodyFraming::ContentLength && head.content_length > kMaxAdminBody) {
      too_large_ = true;
      return HeadAction::Stop;
    }
    return HeadAction::Continue;
  }
  FlowAction onBody(const char* data, size_t len) override {
    if (request_.body.size() + len > kMaxAdminBody) {
      too_large_ = true;
      return FlowAction::Pause;
    }
    request_.body.append(data, len);
    return FlowAction::Continue;
  }
  FlowAction onMessageComplete(Headers&) override {
    complete_ = true;
    return FlowAction::Pause;  // one request at a time
  }

 private:
  void respond(const AdminResponse& r, bool close);
  void close() { server_.release(this); }

  AdminServer& server_;
  UniqueFd fd_;
  BufferEventPtr bev_;  // after fd_: destroyed first
  EventPtr timer_;
  Http1Parser parser_;
  AdminRequest request_;
  bool keep_alive_ = true;
  bool complete_ = false;
  bool too_large_ = false;
  bool closing_ = false;
};

namespace {
void onAcceptCb(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) noexcept {
  static_cast<AdminServer*>(arg)->onAccept(fd);
}
void onReapCb(evutil_socket_t, short, void* arg) noexcept { static_cast<AdminServer*>(arg)->reap(); }
void onSubmittedCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<AdminServer*>(arg)->runSubmitted();
}
void onReadCb(bufferevent*, void* arg) noexcept { static_cast<AdminConnection*>(arg)->onRead(); }
void onWriteCb(bufferevent*, void* arg) noexcept { static_cast<AdminConnection*>(arg)->onWrite(); }
void onEventCb(bufferevent*, short what, void* arg) noexcept {
  static_cast<AdminConnection*>(arg)->onEvent(what);
}
void onTimeoutCb(evutil_socket_t, short, void* arg) noexcept {
  static_cast<AdminConnection*>(arg)->onTimeout();
}
}  // namespace

void AdminConnection::start() {
  bev_.reset(bufferevent_socket_new(server_.base(), fd_.get(), 0));
  if (!bev_) {
    close();
    return;
  }
  bufferevent_setcb(bev_.get(), onReadCb, onWriteCb, onEventCb, this);
  bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
  timer_.reset(evtimer_new(server_.base(), onTimeoutCb, this));
  uint32_t ms = server_.runtime().snapshot.get()->config.limits.header_timeout_ms;
  timeval tv = millisToTimeval(ms);
  evtimer_add(timer_.get(), &tv);
}

void AdminConnection::onRead() {
  if (closing_) return;
  auto fed = feedFromBuffer(parser_, bufferevent_get_input(bev_.get()));
  if (!fed.ok()) {
    AdminResponse resp;
    resp.status = parser_.errorStatus();
    resp.body = jsonError(fed.error().code, fed.error().message);
    respond(resp, true);
    return;
  }
  if (too_large_) {
    AdminResponse resp;
    resp.status = 413;
    resp.body = jsonError("body_too_large", "admin request bodies are limited to 1 MiB");
    respond(resp, true);
    return;
  }
  if (complete_) {
    complete_ = false;
    AdminResponse resp = server_.routes().handle(request_);
    respond(resp, !keep_alive_);
    if (!closing_) {
      parser_.resume();
      onRead();  // a pipelined request may be waiting
    }
  }
}

void AdminConnection::respond(const AdminResponse& r, bool close_after) {
  Buffer out;
  Headers extra = r.extra_headers;
  extra.set("Content-Type", r.content_type);
  writeJsonResponse(out, r.status, r.body, extra, close_after);
  bufferevent_write_buffer(bev_.get(), out.raw());
  if (close_after) {
    closing_ = true;
    bufferevent_disable(bev_.get(), EV_READ);
  }
}

void AdminConnection::onWrite() {
  if (closing_ && evbuffer_get_length(bufferevent_get_output(bev_.get())) == 0) close();
}

void AdminConnection::onEvent(short) { close(); }

void AdminConnection::onTimeout() {
  if (parser_.messageInProgress() || !complete_) {
    AdminResponse resp;
    resp.status = 408;
    resp.body = jsonError("header_timeout", "the request head did not arrive in time");
    respond(resp, true);
  }
}

Result<std::unique_ptr<AdminServer>> AdminServer::create(event_base* base, Runtime& runtime,
                                                         const HostPort& address,
                                                         AdminRoutes::ReloadFn reload,
                                                         AdminRoutes::PatternsFn patterns,
                                                         AdminRoutes::RulesFn rules) {
  std::unique_ptr<AdminServer> s(new AdminServer(base, runtime, std::move(reload),
                                                 std::move(patterns), std::move(rules)));
  sockaddr_storage ss{};
  int len = sizeof ss;
  std::string text = address.host.find(':') != std::string::npos
                         ? "[" + address.host + "]:" + std::to_string(address.port)
                         : address.host + ":" + std::to_string(address.port);
  if (address.host == "localhost") text = "127.0.0.1:" + std::to_string(address.port);
  if (evutil_parse_sockaddr_port(text.c_str(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return makeError("bind", "admin address " + address.toString() +
                                 ": the host must be an IP address or localhost");
  }
  s->listener_.reset(evconnlistener_new_bind(
      base, onAcceptCb, s.get(), LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
      128, reinterpret_cast<sockaddr*>(&ss), len));
  if (!s->listener_) {
    return makeError("bind", "cannot listen on admin address " + address.toString() + ": " +
                                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
  }
  return s;
}

AdminServer::AdminServer(event_base* base, Runtime& runtime, AdminRoutes::ReloadFn reload,
                         AdminRoutes::PatternsFn patterns, AdminRoutes::RulesFn rules)
    : base_(base),
      runtime_(runtime),
      routes_(runtime, std::move(reload), std::move(patterns), std::move(rules)) {
  reap_ev_.reset(event_new(base_, -1, 0, onReapCb, this));
  submitted_ev_.reset(event_new(base_, -1, 0, onSubmittedCb, this));
}

AdminServer::~AdminServer() {
  listener_.reset();
  released_.clear();
  connections_.clear();
}

void AdminServer::onAccept(int fd) {
  evutil_make_socket_nonblocking(fd);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto conn = std::make_unique<AdminConnection>(*this, fd);
  auto* raw = conn.get();
  connections_.emplace(raw, std::move(conn));
  raw->start();
}

void AdminServer::release(AdminConnection* conn) {
  auto it = connections_.find(conn);
  if (it == connections_.end()) return;
  released_.push_back(std::move(it->second));
  connections_.erase(it);
  event_active(reap_ev_.get(), 0, 0);
}

void AdminServer::reap() { released_.clear(); }

void AdminServer::submit(AdminRequest request, Done done) {
  {
    std::lock_guard<std::mutex> lock(submitted_mu_);
    submitted_.emplace_back(std::move(request), std::move(done));
  }
  event_active(submitted_ev_.get(), 0, 0);  // thread-safe: evthread_use_pthreads() is on
}

void AdminServer::runSubmitted() {
  std::vector<std::pair<AdminRequest, Done>> batch;
  {
    std::lock_guard<std::mutex> lock(submitted_mu_);
    batch.swap(submitted_);
  }
  for (auto& [request, done] : batch) done(routes_.handle(request));
}

}  // namespace aiw
