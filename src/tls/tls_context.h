// TLS contexts for interception (SPEC §3 `upstream:` / `interception:`, §4 forward listener):
// TlsServerContext terminates the client's TLS with a minted leaf, TlsClientContext opens
// verified TLS connections to origins. Both wrap one BoringSSL SSL_CTX, are built once per
// configuration snapshot and are immutable afterwards, so every worker thread creates SSL objects
// from them concurrently (SSL_new only takes references).
//
// What each context needs at run time (the ALPN list, the client session cache) hangs off the
// SSL_CTX itself (ex_data freed with it), and each SSL holds a reference to its SSL_CTX: a
// connection may outlive the context object that created it (a reload mid-handshake).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace aiw {

// What the contexts' callbacks learn about one connection, owned by its SSL (ex_data).
struct TlsConnFacts {
  std::string host;       // client: the name or IP verified (also the session cache key)
  long verify_error = 0;  // X509_V_OK, or the first X509_V_ERR_* the chain check hit
  int verify_depth = -1;  // ... and the depth of the certificate it was about (0 = leaf)
};

// The facts recorded on `ssl`, or nullptr for an SSL that no context here created.
const TlsConnFacts* tlsConnFacts(const SSL* ssl);

// Server side of interception. TLS 1.2 and 1.3 only; for 1.2, ECDHE with AES-GCM or
// ChaCha20-Poly1305 only (1.3 suites are all AEAD). No renegotiation and no compression
// (BoringSSL has neither on a server). Session tickets on, stateful session cache off: tickets
// resume without any state shared between workers. ALPN is chosen by server preference: the
// first protocol of `alpn` that the client also offers; no overlap (or no ALPN from the
// client) completes the handshake without ALPN, which both sides read as HTTP/1.1.
class TlsServerContext {
 public:
  // `alpn`: the protocols this listener speaks, most preferred first ({"http/1.1"} today;
  // {"h2", "http/1.1"} once HTTP/2 is served). Each must be 1..255 bytes. Errors: "config".
  static Result<std::shared_ptr<const TlsServerContext>> create(std::vector<std::string> alpn);

  // A fresh server SSL (accept state) for one connection, without a certificate: the caller
  // installs the leaf for the host it intercepts (installServerCertificate, or Leaf::applyTo).
  Result<bssl::UniquePtr<SSL>> newSsl() const;

  SSL_CTX* raw() const { return ctx_.get(); }
  const std::vector<std::string>& alpn() const { return alpn_; }

  explicit TlsServerContext(bssl::UniquePtr<SSL_CTX> ctx, std::vector<std::string> alpn)
      : ctx_(std::move(ctx)), alpn_(std::move(alpn)) {}

 private:
  bssl::UniquePtr<SSL_CTX> ctx_;
  std::vector<std::string> alpn_;
};

// Installs a leaf, its key and (optionally) the issuing CA as the chain on a server SSL.
// Takes references; the caller keeps its own. Errors: "tls_certificate" (e.g. key mismatch).
Result<void> installServerCertificate(SSL* ssl, X509* leaf, EVP_PKEY* key, X509* chain);

// Client side, toward origins. Verification is always on: the chain against `ca_file` and the
// host name (or IP literal) given per connection; no option turns either off. TLS 1.2+ only,
// no renegotiation. A bounded client session cache (per context, shared by the workers) resumes
// sessions per host.
class TlsClientContext {
 public:
  // `ca_file`: "system" (the system bundle /etc/ssl/certs/ca-certificates.crt, else BoringSSL's
  // default paths) or a PEM file. A missing, unreadable or certificate-less bundle is an error
  // ("config"). `alpn`: the protocols offered, most preferred first ({"http/1.1"} today).
  static Result<std::shared_ptr<const TlsClientContext>> create(const std::string& ca_file,
                                                                std::vector<std::string> alpn);

  // A fresh client SSL (connect state) for `host` (DNS name or IP literal without a port, IPv6
  // with or without brackets, one trailing dot ignored): SNI set for names only, the certificate
  // must match the name (dNSName, no partial wildcards) or the IP (iPAddress), a cached session for
  // the host is offered. Errors: "bad_host" for an empty host, "tls" if BoringSSL refuses.
  Result<bssl::UniquePtr<SSL>> newSsl(std::string_view host) const;

  SSL_CTX* raw() const { return ctx_.get(); }
  // Sessions cached for resumption, over all hosts (for tests and metrics).
  size_t cachedSessions() const;

  explicit TlsClientContext(bssl::UniquePtr<SSL_CTX> ctx) : ctx_(std::move(ctx)) {}

 private:
  bssl::UniquePtr<SSL_CTX> ctx_;
};

// ALPN list to wire format (RFC 7301 §3.1: length-prefixed strings). Errors: "config".
Result<std::string> alpnWireFormat(const std::vector<std::string>& protocols);

// Why a client refused the peer's certificate: `code` an X509_V_ERR_*, `depth` the certificate
// it was about (-1: unknown), `host` the name or IP verified. "hostname mismatch: the
// certificate is not valid for api.example.com", "certificate verify failed: certificate has
// expired (depth 0)".
std::string verifyFailureMessage(long code, int depth, std::string_view host);

// Turns BoringSSL's error queue into one line ("wrong version number", "peer sent alert:
// unknown CA") and clears it; `fallback` when the queue is empty.
std::string takeTlsErrorReason(std::string_view fallback);

}  // namespace aiw
