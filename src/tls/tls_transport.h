// TLS transport: turns a socket bufferevent that carries ciphertext into a bufferevent that
// carries plaintext, so that sessions written against libevent bufferevents (read/write
// callbacks, watermarks, enable/disable, bufferevent_write_buffer, timeouts) run over TLS
// unchanged. Both ends of interception use it: wrapTlsServer toward the client (the minted
// leaf), wrapTlsClient toward the origin (verified). libevent_openssl is not an option (it is
// built against OpenSSL, and BoringSSL must not meet OpenSSL in one process), so this is a
// libevent filter bufferevent driving a BoringSSL SSL whose BIO reads and writes the socket
// bufferevent's own buffers.
//
// Semantics of the returned bufferevent (the "TLS bufferevent"):
// * Handshake: runs by itself from the moment of wrapping (the client sends its ClientHello at
//   once; ciphertext already sitting in the socket bufferevent's input, e.g. a peeked
//   ClientHello, is fed in while wrapping, and wrapping fails if it is refused). Completion is
//   signalled, as in bufferevent_openssl, by the event callback with BEV_EVENT_CONNECTED, always
//   before the read callback for the first plaintext. Plaintext written before completion waits in
//   the output buffer and leaves once the handshake is done. Keep EV_READ enabled until then: the
//   handshake reads through it (wrapping enables EV_READ | EV_WRITE).
// * Errors: BEV_EVENT_ERROR (| READING or WRITING) for a failed handshake (verification,
//   hostname, protocol, the peer closing mid-handshake), TLS errors later (bad record, alert) and
//   socket errors. TlsSession::failure() says why, e.g. "certificate verify failed: unable to get
//   local issuer certificate (depth 0)" or "hostname mismatch: ...". EVUTIL_SOCKET_ERROR() is
//   meaningless for TLS failures.
// * End of stream: BEV_EVENT_EOF | BEV_EVENT_READING after the last plaintext, on the peer's
//   close_notify or on a TCP EOF after the handshake (closeNotifyReceived() tells them apart: a
//   TCP EOF without close_notify may be a truncation). Delivered once.
// * Callbacks are deferred (BEV_OPT_DEFER_CALLBACKS): they run from the loop, never from inside
//   a bufferevent_write or another callback, so the session may free the bufferevent in any of
//   them.
// * Back-pressure: the output buffer holds plaintext not yet encrypted. Ciphertext waiting for
//   the socket is bounded (kCipherHighWater, one record over at most); beyond it plaintext stays
//   in the output buffer, where evbuffer_get_length(bufferevent_get_output(bev)) and write
//   watermarks see it. On input, a read high watermark stops socket reads; decryption overshoots
//   it by at most what one socket read brought (64 KiB) rather than strand ciphertext.
// * Closing: freeing the bufferevent drops whatever has not reached the kernel (as with a
//   socket bufferevent, but "output empty" here only means "encrypted"). To end a connection
//   properly, hand it to closeTlsGracefully. bufferevent_flush(bev, EV_WRITE, BEV_FINISHED)
//   sends close_notify without closing (a TLS half-close).
// * bufferevent_getfd / bufferevent_get_underlying work (the socket bufferevent). The socket
//   bufferevent belongs to the TLS layer: its callbacks, watermarks and EV_WRITE are set here.
//   Ciphertext is written to the fd at once (EPOLLOUT armed only when the kernel pushes back: no
//   epoll_ctl per message), and reads are topped up to 64 KiB per readiness event (libevent 2.1
//   reads 4 KiB, a quarter of a record).
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/c_handles.h"
#include "core/result.h"
#include "tls/tls_context.h"

struct evbuffer;

namespace aiw {

// Ciphertext bytes queued on the socket bufferevent before the TLS bufferevent keeps plaintext
// in its own output buffer instead (socket write watermarks: this high, a quarter of it low).
inline constexpr size_t kCipherHighWater = 256 * 1024;
// Socket bytes read (and written) per readiness event at most.
inline constexpr size_t kSocketSingleIo = 64 * 1024;

// The TLS state of one TLS bufferevent, owned by it (freed with it: never keep the pointer past
// bufferevent_free). Read it from the bufferevent's callbacks; all accessors are cheap.
class TlsSession {
 public:
  enum class Role : uint8_t { Server, Client };

  Role role() const { return role_; }
  bool handshakeDone() const { return handshake_done_; }
  // The negotiated ALPN protocol ("http/1.1", "h2"), empty if none; set with handshakeDone().
  const std::string& alpn() const { return alpn_; }
  // "TLSv1.3", "TLSv1.2"; meaningful once the handshake is done.
  const char* version() const { return SSL_get_version(ssl_.get()); }
  bool resumed() const { return handshake_done_ && SSL_session_reused(ssl_.get()) == 1; }
  // Client: the host the certificate was verified against (normalized). Server: empty.
  std::string_view host() const;
  // Why the connection failed, set when BEV_EVENT_ERROR is signalled. Codes: "tls_verify_failed",
  // "tls_hostname_mismatch", "tls_handshake_failed", "tls_error" (after the handshake),
  // "tls_io_error" (socket error). nullptr while all is well.
  const Error* failure() const { return failure_ ? &*failure_ : nullptr; }
  // The peer ended with close_notify (as opposed to a bare TCP EOF).
  bool closeNotifyReceived() const { return close_notify_received_; }
  // For what the accessors do not cover (peer certificate, cipher); do not read or write on it.
  SSL* ssl() const { return ssl_.get(); }

  // ---- internal: called by the C callbacks in tls_transport*.cc -------------------------------
  TlsSession(Role role, bssl::UniquePtr<SSL> ssl) : role_(role), ssl_(std::move(ssl)) {}
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  Result<void> attach(bufferevent* tls_bev, bufferevent* socket_bev);
  int filterInput(evbuffer* src, evbuffer* dst);
  int filterOutput(evbuffer* src, evbuffer* dst, ptrdiff_t limit, int mode);
  void onSocketRead();
  void onSocketWrite();
  void onSocketEvent(short what);
  void onCloseTimeout();
  void beginGracefulClose(uint32_t timeout_ms);
  // BIO: ciphertext from the socket input / to the socket output.
  int bioRead(char* out, int len);
  int bioWrite(const char* in, int len);

 private:
  bool driveHandshake();  // false: failed (already reported)
  int decrypt(evbuffer* src, evbuffer* dst);
  int encrypt(evbuffer* src, ptrdiff_t limit, int mode);
  void topUpSocketInput();
  void flushSocket();
  void onHandshakeDone();
  void fail(std::string code, std::string message, short what);
  void failFromSsl(int ret, short what);
  void signal(short what);
  void finishClose();

  Role role_;
  bssl::UniquePtr<SSL> ssl_;
  bufferevent* bev_ = nullptr;     // the TLS bufferevent: it owns this object
  bufferevent* socket_ = nullptr;  // owned by bev_ (BEV_OPT_CLOSE_ON_FREE), outlives this object
  // libevent's own filter callbacks on the socket bufferevent, which ours wrap.
  void (*filter_read_)(bufferevent*, void*) = nullptr;
  void (*filter_write_)(bufferevent*, void*) = nullptr;
  void (*filter_event_)(bufferevent*, short, void*) = nullptr;
  void* filter_arg_ = nullptr;
  EventPtr close_ev_;  // graceful close deadline

  std::optional<Error> failure_;
  std::string alpn_;
  int read_errno_ = 0;  // a socket error our own read saw (libevent's next sees EOF)
  bool handshake_done_ = false;
  bool output_waiting_ = false;  // plaintext waited for the handshake: flush it when done
  bool eof_signalled_ = false;
  bool close_notify_received_ = false;
  bool close_notify_sent_ = false;
  bool closing_ = false;  // handed to closeTlsGracefully: we own bev_ now
  bool close_done_ = false;
};

// Wraps an accepted client connection's socket bufferevent for interception. The socket
// bufferevent is owned by the result from then on (freed with it), its callbacks belong to the
// TLS layer, and it must not have BEV_OPT_DEFER_CALLBACKS. `install_cert` puts the leaf on the
// SSL (Leaf::applyTo, or installServerCertificate). On error the socket bufferevent is freed.
// `already_read`: ciphertext read from the connection before, held elsewhere (e.g. the input of
// the bufferevent that peeked the ClientHello, when a new socket bufferevent takes over the fd):
// moved in ahead of anything the socket brings. (A socket bufferevent keeps the end of its input
// frozen, so a plain evbuffer_add_buffer into it fails.)
Result<BufferEventPtr> wrapTlsServer(BufferEventPtr socket_bev, const TlsServerContext& ctx,
                                     const std::function<Result<void>(SSL*)>& install_cert,
                                     evbuffer* already_read = nullptr);
// The same with the leaf, its key and the CA (chain) given directly.
Result<BufferEventPtr> wrapTlsServer(BufferEventPtr socket_bev, const TlsServerContext& ctx,
                                     X509* leaf, EVP_PKEY* key, X509* chain);

// Wraps a connected upstream socket bufferevent (connected: its write interest is the TLS layer's
// from now on, so libevent cannot watch a connect); the certificate must be valid for `host` (see
// TlsClientContext::newSsl). Ownership as for wrapTlsServer.
Result<BufferEventPtr> wrapTlsClient(BufferEventPtr socket_bev, const TlsClientContext& ctx,
                                     std::string_view host);

// The TlsSession of a TLS bufferevent; nullptr for any other bufferevent.
TlsSession* tlsSession(bufferevent* bev);

// Takes the bufferevent and ends the connection properly: pending plaintext is encrypted and
// sent, then close_notify (if the handshake completed and nothing failed), then the socket
// closes once all of it reached the kernel, the peer goes away, or `timeout_ms` passes. Its
// callbacks are cleared at once, and bytes arriving meanwhile are discarded. A non-TLS
// bufferevent is just freed. The socket bufferevent must own its fd (BEV_OPT_CLOSE_ON_FREE):
// the close outlives the caller. Must not outlive the event_base (a pending close holds a timer,
// so a loop run until it has no events finishes it).
void closeTlsGracefully(BufferEventPtr bev, uint32_t timeout_ms);

}  // namespace aiw
