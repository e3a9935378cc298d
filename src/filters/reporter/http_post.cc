#include "filters/reporter/http_post.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/c_handles.h"
#include "filters/reporter/resolve_within.h"
#include "http/http1_parser.h"
#include "tls/tls_context.h"

namespace aiw {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kCancelCheck{100};

// Waits for `events` on `fd` until the deadline, waking every kCancelCheck to look at `cancel`.
Result<void> waitFor(int fd, short events, Clock::time_point deadline,
                     const std::atomic<bool> &cancel) {
  for (;;) {
    if (cancel.load(std::memory_order_relaxed)) return makeError("cancelled", "shutting down");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return makeError("timeout", "no complete answer in time");
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min(left, kCancelCheck).count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeError("io", std::string("poll: ") + std::strerror(errno));
    if (n > 0) return {};
  }
}

Result<UniqueFd> connectTo(const HttpUrl &url, Clock::time_point deadline,
                           const std::atomic<bool> &cancel, ResolvedAddresses &addresses) {
  auto resolved = addresses.get(url.host, url.port, deadline, cancel);
  if (!resolved.ok()) return resolved.error();
  std::string last = "no address";
  for (const addrinfo *a = resolved.value(); a != nullptr; a = a->ai_next) {
    UniqueFd fd(
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd.valid()) {
      last = std::strerror(errno);
      continue;
    }
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = std::strerror(errno);
      continue;
    }
    if (auto w = waitFor(fd.get(), POLLOUT, deadline, cancel); !w.ok()) return w.error();
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      last = std::strerror(err);
      continue;
    }
    int one = 1;
    (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  addresses.forget();  // the collector may have moved: look it up again next time
  return makeError("connect", url.host + ":" + std::to_string(url.port) + ": " + last);
}

// The connection one POST runs over: the socket, and for https:// a TLS session on it. Every
// wait is bounded by the POST's deadline.
class PostConnection {
 public:
  PostConnection(UniqueFd fd, Clock::time_point deadline, const std::atomic<bool> &cancel)
      : fd_(std::move(fd)), deadline_(deadline), cancel_(&cancel) {}

  // The next POST on a kept connection has a deadline (and a cancel flag) of its own.
  void rearm(Clock::time_point deadline, const std::atomic<bool> &cancel) {
    deadline_ = deadline;
    cancel_ = &cancel;
  }

  // Whether an idle kept connection still looks usable: nothing to read (no EOF, no reset, no
  // stray bytes — a collector owes nothing between answers). Anything pending means it closed,
  // or is about to: not worth a POST that would fail half-way.
  bool idleAndOpen() const {
    if (ssl_ && SSL_pending(ssl_.get()) > 0) return false;
    pollfd p{fd_.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }

  Result<void> startTls(const TlsClientContext &ctx, const std::string &host) {
    auto ssl = ctx.newSsl(host);
    if (!ssl.ok()) return makeError("tls", ssl.error().message);
    ssl_ = std::move(ssl).value();
    if (SSL_set_fd(ssl_.get(), fd_.get()) != 1) {
      return makeError("tls", takeTlsErrorReason("cannot attach TLS to the socket"));
    }
    auto done = driveTls([](SSL *s, void *, int) { return SSL_do_handshake(s); }, nullptr, 0);
    if (!done.ok()) return done.error();
    if (done.value() == 0) {
      return makeError("tls", "the collector closed the connection during the TLS handshake");
    }
    return {};
  }

  Result<void> sendAll(std::string_view data) {
    if (ssl_) {
      // One SSL_write takes it all (partial writes are off); retried with the same buffer.
      auto sent = driveTls([](SSL *s, void *buf, int len) { return SSL_write(s, buf, len); },
                           const_cast<char *>(data.data()), static_cast<int>(data.size()));
      if (!sent.ok()) return sent.error();
      if (sent.value() == 0) return makeError("io", "the collector closed the connection");
      return {};
    }
    for (size_t off = 0; off < data.size();) {
      ssize_t n = ::send(fd_.get(), data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (auto w = waitFor(fd_.get(), POLLOUT, deadline_, *cancel_); !w.ok()) return w.error();
        continue;
      }
      return makeError("io", std::string("send: ") + std::strerror(errno));
    }
    return {};
  }

  // Bytes read into `buf`; 0 at the end of the stream.
  Result<size_t> receive(char *buf, size_t size) {
    if (ssl_) {
      auto got = driveTls([](SSL *s, void *b, int len) { return SSL_read(s, b, len); }, buf,
                          static_cast<int>(size));
      if (!got.ok()) return got.error();
      return static_cast<size_t>(got.value());
    }
    for (;;) {
      if (auto w = waitFor(fd_.get(), POLLIN, deadline_, *cancel_); !w.ok()) return w.error();
      ssize_t n = ::recv(fd_.get(), buf, size, 0);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return makeError("io", std::string("recv: ") + std::strerror(errno));
    }
  }

 private:
  // Runs one SSL call until it no longer waits for the socket: its positive result, 0 for the
  // end of the stream (close_notify, or the peer just closing), or why it failed.
  Result<int> driveTls(int (*call)(SSL *, void *, int), void *buf, int len) {
    for (;;) {
      ERR_clear_error();
      int r = call(ssl_.get(), buf, len);
      if (r > 0) return r;
      int err = SSL_get_error(ssl_.get(), r);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        short events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        if (auto w = waitFor(fd_.get(), events, deadline_, *cancel_); !w.ok()) return w.error();
        continue;
      }
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        if (r == 0) return 0;  // EOF without close_notify
        return makeError("io", std::string("TLS socket: ") + std::strerror(errno));
      }
      return tlsFailure();
    }
  }

  Error tlsFailure() {
    const TlsConnFacts *facts = tlsConnFacts(ssl_.get());
    long verify = facts != nullptr ? facts->verify_error : X509_V_OK;
    if (verify == X509_V_OK) verify = SSL_get_verify_result(ssl_.get());
    if (verify != X509_V_OK) {
      ERR_clear_error();
      return makeError("tls", verifyFailureMessage(verify, facts ? facts->verify_depth : -1,
                                                 facts ? facts->host : std::string()));
    }
    return makeError("tls", takeTlsErrorReason("TLS error"));
  }

  UniqueFd fd_;
  bssl::UniquePtr<SSL> ssl_;
  Clock::time_point deadline_;
  const std::atomic<bool> *cancel_;
};

// Reads the collector's answer: its status, whether the connection can carry the next POST, and
// the end of the message (the body is read and dropped: a sink needs only the status).
class AnswerReader : public Http1ParserCallbacks {
 public:
  // A longer body is not read to its end: the connection is closed instead.
  static constexpr uint64_t kMaxBodyBytes = 1 << 20;

  HeadAction onResponseHead(ResponseHead &head) override {
    if (head.isInformational()) return HeadAction::Continue;  // the final answer follows
    status = head.status;
    keep_alive = head.keep_alive;
    return HeadAction::Continue;
  }
  FlowAction onBody(const char *, size_t len) override {
    body_bytes += len;
    return FlowAction::Continue;
  }
  FlowAction onMessageComplete(Headers &) override {
    if (status != 0) complete = true;
    return FlowAction::Continue;
  }
  uint16_t status = 0;
  bool keep_alive = false;
  bool complete = false;
  uint64_t body_bytes = 0;
};

// The error code of a POST that got no byte of an answer: on a kept connection, the collector
// closed it meanwhile (the POST goes again on a new one); otherwise an "io" error.
constexpr std::string_view kNoAnswer = "no_answer";

// One POST on `conn`: the final status, and whether the connection can carry another.
Result<std::pair<uint16_t, bool>> exchangeOn(PostConnection &conn, std::string_view request) {
  if (auto sent = conn.sendAll(request); !sent.ok()) {
    if (sent.error().code != "io") return sent.error();  // timeout, cancelled
    return makeError(std::string(kNoAnswer), sent.error().message);
  }
  AnswerReader answer;
  Http1Parser parser(Http1Parser::Type::Response, answer);
  char buf[8192];
  bool any = false;
  while (!answer.complete) {
    auto got = conn.receive(buf, sizeof buf);
    if (!got.ok()) {
      if (!any && got.error().code == "io") {
        return makeError(std::string(kNoAnswer), got.error().message);
      }
      return got.error();
    }
    if (got.value() == 0) {
      if (!any) return makeError(std::string(kNoAnswer), "the collector closed without a response");
      // A body that runs until the connection closes ends here.
      if (auto done = parser.finish(); !done.ok()) {
        return makeError("bad_response", done.error().message);
      }
      if (!answer.complete) {
        return makeError("bad_response", "the collector closed in the middle of its answer");
      }
      return std::pair<uint16_t, bool>{answer.status, false};
    }
    any = true;
    auto fed = parser.feed(buf, got.value());
    if (!fed.ok()) return makeError("bad_response", fed.error().message);
    if (answer.status != 0 && answer.body_bytes > AnswerReader::kMaxBodyBytes) {
      return std::pair<uint16_t, bool>{answer.status, false};  // not worth reading: close
    }
  }
  return std::pair<uint16_t, bool>{answer.status, answer.keep_alive};
}

}  // namespace

Result<HttpUrl> parseHttpUrl(std::string_view url) {
  constexpr std::string_view kHttp = "http://", kHttps = "https://";
  HttpUrl out;
  std::string_view rest;
  if (url.starts_with(kHttps)) {
    out.tls = true;
    out.port = 443;
    rest = url.substr(kHttps.size());
  } else if (url.starts_with(kHttp)) {
    rest = url.substr(kHttp.size());
  } else {
    return makeError("config", "the url must start with http:// or https://");
  }
  if (rest.find('#') != std::string_view::npos) {
    return makeError("config", "the url must not have a fragment");
  }
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.target.front() == '?') out.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) {
    return makeError("config", "the url must not carry credentials (use headers:)");
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return makeError("config", "the url's IPv6 host lacks ']'");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return makeError("config", "unexpected text after the url's host");
      port_text = after.substr(1);
      if (port_text.empty()) return makeError("config", "the url's port is empty");
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return makeError("config", "the url's port is empty");
    }
  }
  if (out.host.empty()) return makeError("config", "the url has no host");
  for (char c : out.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return makeError("config", "the url's path has spaces or control characters");
    }
  }
  if (!port_text.empty()) {
    uint32_t port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || port > 65535)
        return makeError("config", "the url's port is not a number in 1..65535");
      port = port * 10 + static_cast<uint32_t>(c - '0');
    }
    if (port == 0 || port > 65535)
      return makeError("config", "the url's port is not a number in 1..65535");
    out.port = static_cast<uint16_t>(port);
  }
  return out;
}

struct HttpPoster::Kept {
  std::unique_ptr<PostConnection> conn;
  Clock::time_point idle_since{};
};

HttpPoster::HttpPoster(HttpUrl url, HeaderList headers,
                       std::shared_ptr<const TlsClientContext> tls)
    : url_(std::move(url)),
      headers_(std::move(headers)),
      tls_(std::move(tls)),
      kept_(std::make_unique<Kept>()) {}

HttpPoster::~HttpPoster() = default;

bool HttpPoster::connected() const { return kept_->conn != nullptr; }

std::string HttpPoster::requestHead(size_t body_bytes) const {
  std::string authority =
      url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host;
  if (url_.port != (url_.tls ? 443 : 80)) authority += ":" + std::to_string(url_.port);
  std::string head = "POST " + url_.target + " HTTP/1.1\r\nHost: " + authority +
                     "\r\nContent-Type: application/json\r\nContent-Length: " +
                     std::to_string(body_bytes) + "\r\n";
  for (const auto &[name, value] : headers_) head += name + ": " + value + "\r\n";
  head += "\r\n";
  return head;
}

Result<uint16_t> HttpPoster::post(std::string_view body, std::chrono::milliseconds timeout,
                                  const std::atomic<bool> &cancel) {
  if (url_.tls && tls_ == nullptr) {
    return makeError("misuse", "an https:// url needs a TLS context");
  }
  const Clock::time_point deadline = Clock::now() + timeout;
  std::string request = requestHead(body.size());
  request.append(body);
  Kept &kept = *kept_;
  if (kept.conn && (Clock::now() - kept.idle_since > kIdleMax || !kept.conn->idleAndOpen())) {
    kept.conn.reset();
  }
  // A kept connection can die between the check and the write (the collector's idle timeout):
  // then, before any byte of an answer, the POST goes again on a new connection, once.
  for (bool reused = kept.conn != nullptr;; reused = false) {
    if (!kept.conn) {
      auto connected = connectTo(url_, deadline, cancel, addresses_);
      if (!connected.ok()) return connected.error();
      auto conn = std::make_unique<PostConnection>(std::move(connected).value(), deadline, cancel);
      if (url_.tls) {
        if (auto started = conn->startTls(*tls_, url_.host); !started.ok()) return started.error();
      }
      kept.conn = std::move(conn);
    }
    PostConnection &conn = *kept.conn;
    conn.rearm(deadline, cancel);
    auto answer = exchangeOn(conn, request);
    if (!answer.ok() || !answer.value().second) kept.conn.reset();
    if (!answer.ok()) {
      if (answer.error().code != kNoAnswer) return answer.error();
      if (reused) continue;
      return makeError("io", answer.error().message);
    }
    kept.idle_since = Clock::now();
    return answer.value().first;
  }
}

}  // namespace aiw
