// The TLS bufferevent: a libevent filter bufferevent over the socket bufferevent. The SSL's BIO
// reads ciphertext straight from the socket bufferevent's input and appends ciphertext to its
// output (no BIO pair, no intermediate buffer). The input filter decrypts into the TLS
// bufferevent's input; the output filter encrypts from its output. libevent calls the filters on
// data events only, so the handshake is driven from both filters, and whatever they cannot see
// (the end of the handshake while plaintext waits, close_notify, TLS errors) is reported here
// through bufferevent_trigger_event. libevent's own callbacks on the socket bufferevent are
// wrapped (tls_transport_socket.cc), to turn socket events into TLS events (EOF mid-handshake is a
// failure, a second EOF after close_notify is dropped), to read and write the socket in bigger
// and fewer system calls, and to run the graceful close.
#include "tls/tls_transport.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace aiw {

namespace {

constexpr size_t kRecord = 16 * 1024;  // TLS plaintext record limit: one SSL_read/write

TlsSession* sessionOf(void* arg) { return static_cast<TlsSession*>(arg); }

// ---- BIO over the socket bufferevent's buffers -----------------------------------------------

int bioWriteCb(BIO* bio, const char* in, int len) noexcept {
  BIO_clear_retry_flags(bio);
  auto* s = sessionOf(BIO_get_data(bio));
  return s ? s->bioWrite(in, len) : -1;
}

int bioReadCb(BIO* bio, char* out, int len) noexcept {
  BIO_clear_retry_flags(bio);
  auto* s = sessionOf(BIO_get_data(bio));
  if (s == nullptr) return -1;
  int n = s->bioRead(out, len);
  if (n == 0) {  // nothing buffered: come back when the socket has more (EOF arrives as an event)
    BIO_set_retry_read(bio);
    return -1;
  }
  return n;
}

long bioCtrlCb(BIO*, int cmd, long, void*) noexcept { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bioCreateCb(BIO* bio) noexcept {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* bioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "aiw-bufferevent");
    if (m == nullptr || BIO_meth_set_write(m, bioWriteCb) != 1 ||
        BIO_meth_set_read(m, bioReadCb) != 1 || BIO_meth_set_ctrl(m, bioCtrlCb) != 1 ||
        BIO_meth_set_create(m, bioCreateCb) != 1) {
      return static_cast<BIO_METHOD*>(nullptr);  // every wrap then fails with an error
    }
    return m;
  }();
  return method;
}

// ---- libevent callbacks ----------------------------------------------------------------------

bufferevent_filter_result inputFilterCb(evbuffer* src, evbuffer* dst, ev_ssize_t,
                                        bufferevent_flush_mode, void* ctx) noexcept {
  return static_cast<bufferevent_filter_result>(sessionOf(ctx)->filterInput(src, dst));
}

bufferevent_filter_result outputFilterCb(evbuffer* src, evbuffer* dst, ev_ssize_t limit,
                                         bufferevent_flush_mode mode, void* ctx) noexcept {
  return static_cast<bufferevent_filter_result>(
      sessionOf(ctx)->filterOutput(src, dst, limit, static_cast<int>(mode)));
}

void freeSessionCb(void* ctx) noexcept { delete sessionOf(ctx); }

void onSocketReadCb(bufferevent*, void* arg) noexcept { sessionOf(arg)->onSocketRead(); }
void onSocketWriteCb(bufferevent*, void* arg) noexcept { sessionOf(arg)->onSocketWrite(); }
void onSocketEventCb(bufferevent*, short what, void* arg) noexcept {
  sessionOf(arg)->onSocketEvent(what);
}

Result<BufferEventPtr> wrap(BufferEventPtr socket_bev, TlsSession::Role role,
                            Result<bssl::UniquePtr<SSL>> ssl, evbuffer* already_read) {
  if (!ssl.ok()) return ssl.error();
  if (!socket_bev) return makeError("misuse", "no socket bufferevent to wrap");
  if (already_read != nullptr && evbuffer_get_length(already_read) > 0) {
    // Prepended: a socket bufferevent's input is frozen at its end (only its reads append).
    if (evbuffer_prepend_buffer(bufferevent_get_input(socket_bev.get()), already_read) != 0) {
      return makeError("tls", "cannot take over the bytes read before wrapping");
    }
  }
  if (bioMethod() == nullptr) return makeError("tls", "cannot create the BIO method");
  auto session = std::make_unique<TlsSession>(role, std::move(ssl).value());
  bufferevent* raw = bufferevent_filter_new(socket_bev.get(), inputFilterCb, outputFilterCb,
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS,
                                            freeSessionCb, session.get());
  if (raw == nullptr) return makeError("tls", "cannot create the TLS bufferevent");
  bufferevent* socket = socket_bev.release();  // owned by the filter now
  BufferEventPtr tls(raw);
  TlsSession* s = session.release();  // owned by the filter now (freeSessionCb)
  auto attached = s->attach(raw, socket);
  if (!attached.ok()) return attached.error();
  // Failures this early (a refused buffered ClientHello) have no callback to go to yet.
  if (s->failure() != nullptr) return *s->failure();
  return tls;
}

}  // namespace

// ---- TlsSession ------------------------------------------------------------------------------

TlsSession::~TlsSession() = default;

std::string_view TlsSession::host() const {
  const TlsConnFacts* facts = tlsConnFacts(ssl_.get());
  return facts ? std::string_view(facts->host) : std::string_view();
}

Result<void> TlsSession::attach(bufferevent* tls_bev, bufferevent* socket_bev) {
  bev_ = tls_bev;
  socket_ = socket_bev;
  bufferevent_getcb(socket_, &filter_read_, &filter_write_, &filter_event_, &filter_arg_);
  bufferevent_setcb(socket_, onSocketReadCb, onSocketWriteCb, onSocketEventCb, this);
  bufferevent_setwatermark(socket_, EV_READ, 0, 0);  // the TLS bufferevent's own marks rule
  bufferevent_setwatermark(socket_, EV_WRITE, kCipherHighWater / 4, kCipherHighWater);
  bufferevent_set_max_single_write(socket_, kSocketSingleIo);
  bufferevent_disable(socket_, EV_WRITE);  // flushSocket writes; EV_WRITE only on EAGAIN

  BIO* bio = BIO_new(bioMethod());
  if (bio == nullptr) return makeError("tls", "cannot create the BIO");
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_.get(), bio, bio);  // one reference, for both directions

  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  if (role_ == Role::Client && !driveHandshake()) return {};  // sends the ClientHello
  // Ciphertext read before wrapping (a peeked ClientHello) brings no new socket event: feed it.
  if (evbuffer_get_length(bufferevent_get_input(socket_)) > 0) filter_read_(socket_, filter_arg_);
  flushSocket();
  return {};
}

int TlsSession::bioRead(char* out, int len) {
  evbuffer* in = bufferevent_get_input(socket_);
  if (len <= 0 || evbuffer_get_length(in) == 0) return 0;
  int n = evbuffer_remove(in, out, static_cast<size_t>(len));
  return n < 0 ? 0 : n;
}

int TlsSession::bioWrite(const char* in, int len) {
  if (len <= 0) return 0;
  if (evbuffer_add(bufferevent_get_output(socket_), in, static_cast<size_t>(len)) != 0) return -1;
  return len;
}

bool TlsSession::driveHandshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_.get());
  if (r == 1) {
    onHandshakeDone();
    return true;
  }
  int err = SSL_get_error(ssl_.get(), r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
  failFromSsl(r, BEV_EVENT_READING);
  return false;
}

void TlsSession::onHandshakeDone() {
  handshake_done_ = true;
  const uint8_t* proto = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &proto, &len);
  if (proto != nullptr && len > 0) alpn_.assign(reinterpret_cast<const char*>(proto), len);
  signal(BEV_EVENT_CONNECTED);
}

// Both filters end by sending what BoringSSL wrote: records, handshake flights, alerts.
int TlsSession::filterInput(evbuffer* src, evbuffer* dst) {
  int r = decrypt(src, dst);
  flushSocket();
  return r;
}

int TlsSession::filterOutput(evbuffer* src, evbuffer*, ptrdiff_t limit, int mode) {
  int r = encrypt(src, limit, mode);
  flushSocket();
  return r;
}

int TlsSession::decrypt(evbuffer* src, evbuffer* dst) {
  if (closing_ || failure_ || eof_signalled_) {  // nothing more to deliver: discard
    evbuffer_drain(src, evbuffer_get_length(src));
    return BEV_NEED_MORE;
  }
  if (!handshake_done_) {
    if (!driveHandshake()) return BEV_ERROR;
    if (!handshake_done_) return BEV_NEED_MORE;
  }
  // Decrypt everything the socket brought, past the caller's limit if need be: libevent's filter
  // re-reads ciphertext left in the socket buffer only when more arrives, which may be never.
  // The overshoot is bounded by one socket read (the read watermark stops the next one).
  size_t produced = 0;
  for (;;) {
    evbuffer_iovec vec;
    if (evbuffer_reserve_space(dst, kRecord, &vec, 1) < 1) {
      fail("tls_error", "out of memory for decrypted data", BEV_EVENT_READING);
      break;
    }
    ERR_clear_error();
    int n = SSL_read(ssl_.get(), vec.iov_base,
                     static_cast<int>(std::min<size_t>(vec.iov_len, INT_MAX)));
    if (n > 0) {
      vec.iov_len = static_cast<size_t>(n);
      evbuffer_commit_space(dst, &vec, 1);
      produced += static_cast<size_t>(n);
      continue;
    }
    int err = SSL_get_error(ssl_.get(), n);
    if (err == SSL_ERROR_WANT_READ) break;
    if (err == SSL_ERROR_ZERO_RETURN) {  // close_notify: the end of the stream, after `produced`
      close_notify_received_ = true;
      eof_signalled_ = true;
      bufferevent_disable(socket_, EV_READ);
      evbuffer_drain(src, evbuffer_get_length(src));
      signal(BEV_EVENT_EOF | BEV_EVENT_READING);
      break;
    }
    failFromSsl(n, BEV_EVENT_READING);
    break;
  }
  if (output_waiting_ && handshake_done_ && !failure_) {
    // Plaintext written during the handshake: no data event will run the output filter for it.
    output_waiting_ = false;
    bufferevent_flush(bev_, EV_WRITE, BEV_NORMAL);
  }
  return produced > 0 ? BEV_OK : BEV_NEED_MORE;
}

int TlsSession::encrypt(evbuffer* src, ptrdiff_t limit, int mode) {
  if (failure_ || close_notify_sent_ || (closing_ && !handshake_done_)) {
    evbuffer_drain(src, evbuffer_get_length(src));  // can never be sent
    return failure_ ? BEV_ERROR : BEV_NEED_MORE;
  }
  if (!handshake_done_) {
    if (evbuffer_get_length(src) > 0) output_waiting_ = true;
    if (!driveHandshake()) return BEV_ERROR;
    if (!handshake_done_) return BEV_NEED_MORE;
  }
  // Whole records (up to 16 KiB): pullup only copies when the bytes span evbuffer chains.
  size_t written = 0;
  while (evbuffer_get_length(src) > 0 && (limit < 0 || written < static_cast<size_t>(limit))) {
    size_t n = std::min(evbuffer_get_length(src), kRecord);
    unsigned char* p = evbuffer_pullup(src, static_cast<ev_ssize_t>(n));
    if (p == nullptr) {
      fail("tls_error", "out of memory for encrypted data", BEV_EVENT_WRITING);
      return BEV_ERROR;
    }
    ERR_clear_error();
    int r = SSL_write(ssl_.get(), p, static_cast<int>(n));
    if (r > 0) {
      evbuffer_drain(src, static_cast<size_t>(r));
      written += static_cast<size_t>(r);
      continue;
    }
    int err = SSL_get_error(ssl_.get(), r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;  // not with this BIO
    failFromSsl(r, BEV_EVENT_WRITING);
    return BEV_ERROR;
  }
  if (mode == BEV_FINISHED && evbuffer_get_length(src) == 0 && !close_notify_sent_) {
    close_notify_sent_ = true;
    ERR_clear_error();
    if (SSL_shutdown(ssl_.get()) < 0) ERR_clear_error();  // best effort: the socket closes anyway
  }
  return (written > 0 || evbuffer_get_length(src) == 0) ? BEV_OK : BEV_NEED_MORE;
}

void TlsSession::failFromSsl(int ret, short what) {
  int err = SSL_get_error(ssl_.get(), ret);
  const TlsConnFacts* facts = tlsConnFacts(ssl_.get());
  long verify = facts ? facts->verify_error : X509_V_OK;
  int depth = facts ? facts->verify_depth : -1;
  if (verify == X509_V_OK && role_ == Role::Client && !handshake_done_) {
    verify = SSL_get_verify_result(ssl_.get());
  }
  if (verify != X509_V_OK) {
    ERR_clear_error();
    bool name = verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH;
    fail(name ? "tls_hostname_mismatch" : "tls_verify_failed", verifyFailureMessage(verify, depth, host()),
         what);
    return;
  }
  if (err == SSL_ERROR_SYSCALL) {
    fail("tls_io_error", takeTlsErrorReason("TLS I/O error"), what);
    return;
  }
  std::string reason = takeTlsErrorReason("unknown TLS error");
  if (handshake_done_) {
    fail("tls_error", "TLS error: " + reason, what);
  } else {
    fail("tls_handshake_failed", "TLS handshake failed: " + reason, what);
  }
}

void TlsSession::fail(std::string code, std::string message, short what) {
  if (failure_) return;  // the first cause is the one that matters
  failure_ = Error{std::move(code), std::move(message)};
  output_waiting_ = false;
  bufferevent_disable(socket_, EV_READ);
  if (failure_->code != "tls_io_error") flushSocket();  // the alert BoringSSL queued, if any
  signal(BEV_EVENT_ERROR | what);
}

void TlsSession::signal(short what) {
  if (closing_) return;  // nobody listens any more
  // Deferred: delivered from the loop, after the read callback for any plaintext before it.
  bufferevent_trigger_event(bev_, what, BEV_TRIG_DEFER_CALLBACKS);
}

// ---- public functions ------------------------------------------------------------------------

Result<BufferEventPtr> wrapTlsServer(BufferEventPtr socket_bev, const TlsServerContext& ctx,
                                     const std::function<Result<void>(SSL*)>& install_cert,
                                     evbuffer* already_read) {
  auto ssl = ctx.newSsl();
  if (ssl.ok() && install_cert) {
    auto installed = install_cert(ssl->get());
    if (!installed.ok()) return installed.error();
  }
  return wrap(std::move(socket_bev), TlsSession::Role::Server, std::move(ssl), already_read);
}

Result<BufferEventPtr> wrapTlsServer(BufferEventPtr socket_bev, const TlsServerContext& ctx,
                                     X509* leaf, EVP_PKEY* key, X509* chain) {
  return wrapTlsServer(std::move(socket_bev), ctx,
                       [&](SSL* ssl) { return installServerCertificate(ssl, leaf, key, chain); });
}

Result<BufferEventPtr> wrapTlsClient(BufferEventPtr socket_bev, const TlsClientContext& ctx,
                                     std::string_view host) {
  return wrap(std::move(socket_bev), TlsSession::Role::Client, ctx.newSsl(host), nullptr);
}

TlsSession* tlsSession(bufferevent* bev) {
  if (bev == nullptr) return nullptr;
  bufferevent* socket = bufferevent_get_underlying(bev);
  if (socket == nullptr) return nullptr;
  bufferevent_event_cb event_cb = nullptr;
  void* arg = nullptr;
  bufferevent_getcb(socket, nullptr, nullptr, &event_cb, &arg);
  return event_cb == onSocketEventCb ? sessionOf(arg) : nullptr;
}

void closeTlsGracefully(BufferEventPtr bev, uint32_t timeout_ms) {
  TlsSession* s = tlsSession(bev.get());
  if (s == nullptr) return;  // not ours (or already closing): freed by `bev`
  bev.release();             // the session frees it when done
  s->beginGracefulClose(timeout_ms);
}

}  // namespace aiw
