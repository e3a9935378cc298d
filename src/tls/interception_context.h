// InterceptionContext: what TLS interception needs, built at start-up and shared by every
// worker — the local CA (created on first use), the cache of minted leaves, the server context
// for the client side and the verifying client context for the origin side.
#pragma once

#include <memory>
#include <string>

#include "core/config.h"
#include "core/result.h"

namespace aiw {

class CertificateAuthority;
class LeafCache;
class TlsServerContext;
class TlsClientContext;

struct CaPaths {
  std::string cert;
  std::string key;
};

// interception.ca_cert / ca_key, defaulting to STATE_DIR/ca/ca.pem and STATE_DIR/ca/ca.key.
CaPaths caPaths(const Config& config, const std::string& state_dir);

// The URL minted leaves give as their cRLDistributionPoint: GET /ca.crl on the admin listener.
std::string crlUrl(const HostPort& admin);

struct InterceptionContext {
  std::shared_ptr<const CertificateAuthority> ca;
  std::shared_ptr<LeafCache> leaves;  // thread-safe
  std::shared_ptr<const TlsServerContext> server;

  // Loads (or creates) the CA and builds the client-facing context. Errors: a CA key others can
  // read, a CA that does not load — start-up stops on either.
  static Result<std::shared_ptr<const InterceptionContext>> create(const Config& config,
                                                                   const std::string& state_dir);
};

// The context that verifies origins against upstream.ca_file (start-up and every reload; an
// unusable file is an error that keeps the previous configuration).
Result<std::shared_ptr<const TlsClientContext>> makeUpstreamTlsContext(const Config& config);

}  // namespace aiw
