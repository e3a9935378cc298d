// The revocation information of minted leaves: each names the admin listener's GET /ca.crl as
// its cRLDistributionPoint, and the CA issues the empty CRL served there. A client that insists
// on a revocation check (Windows Schannel) must be able to complete one with these two alone.
#include <doctest/doctest.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <string>

#include "core/config.h"
#include "tls/cert_util.h"
#include "tls/certificate_authority.h"
#include "tls/interception_context.h"
#include "tls/leaf_cache.h"
#include "tls_test_util.h"

namespace aiw {
namespace {

using test::TempDir;

std::shared_ptr<const CertificateAuthority> makeCa(const TempDir& dir) {
  auto ca = CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key"));
  REQUIRE_MESSAGE(ca.ok(), ca.error().message);
  return *ca;
}

LeafCache::LeafPtr mintLeaf(std::shared_ptr<const CertificateAuthority> ca, std::string crl_url,
                            time_t now) {
  LeafCacheOptions options;
  options.crl_url = std::move(crl_url);
  options.clock = [now] { return now; };
  auto cache = LeafCache::create(std::move(ca), options);
  REQUIRE_MESSAGE(cache.ok(), cache.error().message);
  auto leaf = (*cache)->get("api.openai.com");
  REQUIRE_MESSAGE(leaf.ok(), leaf.error().message);
  return *leaf;
}

bssl::UniquePtr<X509_CRL> parseCrl(const std::string& der) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(der.data());
  bssl::UniquePtr<X509_CRL> crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(crl);
  CHECK(p == reinterpret_cast<const uint8_t*>(der.data()) + der.size());
  return crl;
}

// The URIs of the certificate's cRLDistributionPoints, in order.
std::vector<std::string> distributionPoints(X509* x) {
  std::vector<std::string> out;
  bssl::UniquePtr<CRL_DIST_POINTS> points(static_cast<CRL_DIST_POINTS*>(
      X509_get_ext_d2i(x, NID_crl_distribution_points, nullptr, nullptr)));
  if (!points) return out;
  for (const DIST_POINT* point : points.get()) {
    if (point->distpoint == nullptr || point->distpoint->type != 0) continue;
    for (const GENERAL_NAME* name : point->distpoint->name.fullname) {
      if (name->type != GEN_URI) continue;
      const ASN1_STRING* uri = name->d.uniformResourceIdentifier;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                       static_cast<size_t>(ASN1_STRING_length(uri)));
    }
  }
  return out;
}

// Verifies `leaf` against `ca` as a TLS server certificate with CRL checking on, the CRL (if
// any) being the only revocation information available: X509_V_OK or the verify error.
int verifyWithCrlCheck(X509* leaf, X509* ca, X509_CRL* crl, time_t at) {
  bssl::UniquePtr<X509_STORE> store(X509_STORE_new());
  bssl::UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  REQUIRE(store);
  REQUIRE(ctx);
  REQUIRE(X509_STORE_add_cert(store.get(), ca) == 1);
  if (crl != nullptr) REQUIRE(X509_STORE_add_crl(store.get(), crl) == 1);
  REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) == 1);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_CRL_CHECK);
  X509_STORE_CTX_set_time(ctx.get(), 0, at);
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

TEST_CASE("a leaf names the configured CRL URL as its only distribution point") {
  TempDir dir;
  auto ca = makeCa(dir);
  const time_t now = ::time(nullptr);
  auto leaf = mintLeaf(ca, "http://127.0.0.1:9901/ca.crl", now);
  CHECK(distributionPoints(leaf->cert()) ==
        std::vector<std::string>{"http://127.0.0.1:9901/ca.crl"});
  CHECK_FALSE(test::isCritical(leaf->cert(), NID_crl_distribution_points));

  auto without = mintLeaf(ca, "", now);
  CHECK(X509_get_ext_by_NID(without->cert(), NID_crl_distribution_points, -1) < 0);
}

TEST_CASE("the CA's empty CRL is signed by it, current for a week and revokes nothing") {
  TempDir dir;
  auto ca = makeCa(dir);
  const time_t now = ::time(nullptr);
  auto der = ca->issueEmptyCrl(now);
  REQUIRE_MESSAGE(der.ok(), der.error().message);
  auto crl = parseCrl(*der);

  CHECK(X509_CRL_get_version(crl.get()) == X509_CRL_VERSION_2);
  CHECK(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca->cert())) == 0);
  bssl::UniquePtr<EVP_PKEY> ca_key(X509_get_pubkey(ca->cert()));
  CHECK(X509_CRL_verify(crl.get(), ca_key.get()) == 1);
  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  CHECK(sk_X509_REVOKED_num(revoked) == 0);  // a null stack counts 0 as well
  CHECK(certutil::toUnixTime(X509_CRL_get0_lastUpdate(crl.get())) ==
        now - CertificateAuthority::kCrlBackdateSeconds);
  CHECK(certutil::toUnixTime(X509_CRL_get0_nextUpdate(crl.get())) ==
        now + CertificateAuthority::kCrlLifetimeSeconds);

  // RFC 5280 §5.2: authorityKeyIdentifier (the CA's SKI) and a crlNumber that grows with time.
  bssl::UniquePtr<AUTHORITY_KEYID> aki(static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl.get(), NID_authority_key_identifier, nullptr, nullptr)));
  REQUIRE(aki);
  REQUIRE(aki->keyid != nullptr);
  auto ski = ca->subjectKeyId();
  CHECK(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(aki->keyid)),
                    static_cast<size_t>(ASN1_STRING_length(aki->keyid))) ==
        std::string(reinterpret_cast<const char*>(ski.data()), ski.size()));
  auto number_of = [&](time_t at) {
    auto d = ca->issueEmptyCrl(at);
    REQUIRE(d.ok());
    auto c = parseCrl(*d);
    bssl::UniquePtr<ASN1_INTEGER> n(static_cast<ASN1_INTEGER*>(
        X509_CRL_get_ext_d2i(c.get(), NID_crl_number, nullptr, nullptr)));
    REQUIRE(n);
    uint64_t v = 0;
    REQUIRE(ASN1_INTEGER_get_uint64(&v, n.get()) == 1);
    return v;
  };
  CHECK(number_of(now + 10) > number_of(now));
}

TEST_CASE("with CRL checking on, a minted leaf verifies with the CA's CRL and not without it") {
  TempDir dir;
  auto ca = makeCa(dir);
  const time_t now = ::time(nullptr);
  auto leaf = mintLeaf(ca, "http://127.0.0.1:9901/ca.crl", now);
  auto der = ca->issueEmptyCrl(now);
  REQUIRE(der.ok());
  auto crl = parseCrl(*der);

  CHECK(verifyWithCrlCheck(leaf->cert(), ca->cert(), crl.get(), now) == X509_V_OK);
  CHECK(verifyWithCrlCheck(leaf->cert(), ca->cert(), nullptr, now) ==
        X509_V_ERR_UNABLE_TO_GET_CRL);
  // Past its nextUpdate the CRL no longer counts: clients fetch a fresh one.
  CHECK(verifyWithCrlCheck(leaf->cert(), ca->cert(), crl.get(),
                           now + CertificateAuthority::kCrlLifetimeSeconds + 60) ==
        X509_V_ERR_CRL_HAS_EXPIRED);
}

TEST_CASE("the CRL URL is the admin listener's, loopback for a wildcard bind") {
  CHECK(crlUrl(HostPort{"127.0.0.1", 9901}) == "http://127.0.0.1:9901/ca.crl");
  CHECK(crlUrl(HostPort{"0.0.0.0", 9901}) == "http://127.0.0.1:9901/ca.crl");
  CHECK(crlUrl(HostPort{"::", 19901}) == "http://[::1]:19901/ca.crl");
  CHECK(crlUrl(HostPort{"proxy.corp", 80}) == "http://proxy.corp:80/ca.crl");
}

}  // namespace
}  // namespace aiw
