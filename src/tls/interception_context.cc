#include "tls/interception_context.h"

#include "tls/certificate_authority.h"
#include "tls/leaf_cache.h"
#include "tls/tls_context.h"

namespace aiw {

CaPaths caPaths(const Config& config, const std::string& state_dir) {
  CaPaths p;
  p.cert = config.interception.ca_cert.empty() ? state_dir + "/ca/ca.pem"
                                                : config.interception.ca_cert;
  p.key = config.interception.ca_key.empty() ? state_dir + "/ca/ca.key"
                                              : config.interception.ca_key;
  return p;
}

std::string crlUrl(const HostPort& admin) {
  // A wildcard bind is reachable on loopback; clients on this machine fetch the CRL from there
  // (directly, or through the forward listener, which proxies it like any request).
  HostPort where = admin;
  if (where.host == "0.0.0.0") where.host = "127.0.0.1";
  if (where.host == "::") where.host = "::1";
  return "http://" + where.toString() + "/ca.crl";
}

Result<std::shared_ptr<const InterceptionContext>> InterceptionContext::create(
    const Config& config, const std::string& state_dir) {
  auto ctx = std::make_shared<InterceptionContext>();
  CaPaths paths = caPaths(config, state_dir);
  auto ca = CertificateAuthority::loadOrCreate(paths.cert, paths.key);
  if (!ca.ok()) return ca.error();
  ctx->ca = ca.value();
  LeafCacheOptions options;
  options.validity_days = config.interception.leaf_validity_days;
  options.crl_url = crlUrl(config.admin.address);
  auto leaves = LeafCache::create(ctx->ca, options);
  if (!leaves.ok()) return leaves.error();
  ctx->leaves = std::move(leaves.value());
  // Server preference: h2 whenever the client offers it (SPEC §4), as nginx and Envoy do. The
  // upstream side stays HTTP/1.1 (pooled keep-alive) until the upstream h2 pool lands.
  auto server = TlsServerContext::create({"h2", "http/1.1"});
  if (!server.ok()) return server.error();
  ctx->server = server.value();
  return std::shared_ptr<const InterceptionContext>(std::move(ctx));
}

Result<std::shared_ptr<const TlsClientContext>> makeUpstreamTlsContext(const Config& config) {
  auto client = TlsClientContext::create(config.upstream.ca_file, {"h2", "http/1.1"});
  if (!client.ok()) {
    return makeError(client.error().code, "upstream.ca_file: " + client.error().message);
  }
  return client.value();
}

}  // namespace aiw
