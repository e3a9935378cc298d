// CertificateAuthority: creating the local CA on first use, loading it back, and refusing the
// files it must not use (a key others can read, one of the two missing, a mismatched pair, a
// certificate that is not a CA, an expired CA).
#include "tls/certificate_authority.h"

#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/mem.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <string>

#include "tls/cert_util.h"
#include "tls_test_util.h"

namespace aiw {
namespace {

using test::TempDir;

std::string keyPem(EVP_PKEY* key) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  const uint8_t* data = nullptr;
  size_t len = 0;
  REQUIRE(BIO_mem_contents(bio.get(), &data, &len) == 1);
  return std::string(reinterpret_cast<const char*>(data), len);
}

// A self-signed certificate for `key`, a CA or not, valid in [not_before, not_after].
bssl::UniquePtr<X509> selfSigned(EVP_PKEY* key, bool is_ca, time_t not_before, time_t not_after) {
  bssl::UniquePtr<X509> x(X509_new());
  REQUIRE(x);
  REQUIRE(X509_set_version(x.get(), X509_VERSION_3) == 1);
  REQUIRE(X509_set_pubkey(x.get(), key) == 1);
  REQUIRE(certutil::setRandomSerial(x.get()).ok());
  REQUIRE(certutil::setValidity(x.get(), not_before, not_after).ok());
  REQUIRE(certutil::addNameEntry(X509_get_subject_name(x.get()), NID_commonName, "test").ok());
  REQUIRE(X509_set_issuer_name(x.get(), X509_get_subject_name(x.get())) == 1);
  REQUIRE(certutil::addBasicConstraints(x.get(), is_ca, -1).ok());
  REQUIRE(X509_sign(x.get(), key, EVP_sha256()) > 0);
  return x;
}

// Writes a key (0600) and certificate pair into `dir`.
void writePair(const TempDir& dir, EVP_PKEY* key, X509* cert) {
  auto pem = certutil::toPem(cert);
  REQUIRE(pem.ok());
  test::writeText(dir.file("ca.pem"), *pem);
  test::writeText(dir.file("ca.key"), keyPem(key));
  REQUIRE(::chmod(dir.file("ca.key").c_str(), 0600) == 0);
}

TEST_CASE("creates a P-256 CA with a private key file on first use") {
  TempDir dir;
  REQUIRE(!dir.path().empty());
  const std::string cert_path = dir.file("state/ca/ca.pem");
  const std::string key_path = dir.file("state/ca/ca.key");
  const time_t before = ::time(nullptr);

  auto ca = CertificateAuthority::loadOrCreate(cert_path, key_path);
  REQUIRE_MESSAGE(ca.ok(), ca.error().message);
  const CertificateAuthority& c = **ca;
  CHECK(c.created());
  CHECK(c.certPath() == cert_path);
  CHECK(c.keyPath() == key_path);

  CHECK(test::fileMode(key_path) == 0600);
  CHECK(test::fileMode(cert_path) == 0644);
  CHECK(test::fileMode(dir.file("state/ca")) == 0700);
  CHECK(test::fileMode(dir.file("state")) == 0700);
  CHECK(test::readText(cert_path) == c.certPem());
  CHECK(c.certPem().rfind("-----BEGIN CERTIFICATE-----", 0) == 0);

  X509* x = c.cert();
  CHECK(EVP_PKEY_id(c.key()) == EVP_PKEY_EC);
  CHECK(X509_check_private_key(x, c.key()) == 1);
  CHECK(test::commonName(x).rfind("aiwarden interception CA ", 0) == 0);
  CHECK(test::commonName(x).size() == std::string("aiwarden interception CA ").size() + 8);
  CHECK(X509_check_issued(x, x) == X509_V_OK);  // self-signed
  CHECK(test::verifyAgainst(x, x) == X509_V_OK);

  bssl::UniquePtr<BASIC_CONSTRAINTS> bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(x, NID_basic_constraints, nullptr, nullptr)));
  REQUIRE(bc);
  CHECK(bc->ca != 0);
  REQUIRE(bc->pathlen != nullptr);
  CHECK(ASN1_INTEGER_get(bc->pathlen) == 0);
  CHECK(test::isCritical(x, NID_basic_constraints));
  CHECK(test::isCritical(x, NID_key_usage));
  CHECK(X509_get_key_usage(x) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  CHECK(c.subjectKeyId().size() == 20);

  auto not_before = certutil::toUnixTime(X509_get0_notBefore(x));
  REQUIRE(not_before.has_value());
  CHECK(*not_before <= before - 86400 + 5);
  CHECK(*not_before >= before - 86400 - 5);
  CHECK(c.notAfter() >= before + 3650L * 86400 - 5);
  CHECK(c.notAfter() <= ::time(nullptr) + 3650L * 86400 + 5);
  // A positive serial of 128 bits (16 bytes, top bit set).
  CHECK(test::serialHex(x).size() == 32);
  CHECK(test::serialHex(x)[0] >= '8');
}

TEST_CASE("loads the CA it created, byte for byte, without creating a new one") {
  TempDir dir;
  auto first = CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key"));
  REQUIRE(first.ok());
  const std::string key_text = test::readText(dir.file("ca.key"));

  auto again = CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key"));
  REQUIRE_MESSAGE(again.ok(), again.error().message);
  CHECK_FALSE((*again)->created());
  CHECK((*again)->certPem() == (*first)->certPem());
  CHECK(X509_cmp((*again)->cert(), (*first)->cert()) == 0);
  CHECK(EVP_PKEY_cmp((*again)->key(), (*first)->key()) == 1);
  CHECK((*again)->subjectKeyId().size() == (*first)->subjectKeyId().size());
  CHECK(test::readText(dir.file("ca.key")) == key_text);

  // Owner-only modes other than 0600 are fine too.
  REQUIRE(::chmod(dir.file("ca.key").c_str(), 0400) == 0);
  CHECK(CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key")).ok());
}

TEST_CASE("two machines' CAs have different names and serials") {
  TempDir a;
  TempDir b;
  auto ca_a = CertificateAuthority::loadOrCreate(a.file("ca.pem"), a.file("ca.key"));
  auto ca_b = CertificateAuthority::loadOrCreate(b.file("ca.pem"), b.file("ca.key"));
  REQUIRE(ca_a.ok());
  REQUIRE(ca_b.ok());
  CHECK(test::commonName((*ca_a)->cert()) != test::commonName((*ca_b)->cert()));
  CHECK(test::serialHex((*ca_a)->cert()) != test::serialHex((*ca_b)->cert()));
}

TEST_CASE("refuses a CA key that group or others can read, naming the file and its mode") {
  TempDir dir;
  REQUIRE(CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key")).ok());
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    CAPTURE(mode);
    REQUIRE(::chmod(dir.file("ca.key").c_str(), mode) == 0);
    auto ca = CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key"));
    REQUIRE_FALSE(ca.ok());
    CHECK(ca.error().code == "ca");
    CHECK(ca.error().message.find(dir.file("ca.key")) != std::string::npos);
    char octal[8];
    std::snprintf(octal, sizeof(octal), "0%o", static_cast<unsigned>(mode));
    CHECK(ca.error().message.find(octal) != std::string::npos);
    CHECK(ca.error().message.find("chmod 600") != std::string::npos);
  }
}

TEST_CASE("refuses to go on when only one of the certificate and the key exists") {
  TempDir dir;
  REQUIRE(CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key")).ok());
  const std::string cert_text = test::readText(dir.file("ca.pem"));

  REQUIRE(::unlink(dir.file("ca.pem").c_str()) == 0);
  auto no_cert = CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key"));
  REQUIRE_FALSE(no_cert.ok());
  CHECK(no_cert.error().message.find(dir.file("ca.pem")) != std::string::npos);
  CHECK(test::fileMode(dir.file("ca.pem")) == 0xffffffffu);  // not silently recreated

  test::writeText(dir.file("ca.pem"), cert_text);
  REQUIRE(::unlink(dir.file("ca.key").c_str()) == 0);
  auto no_key = CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key"));
  REQUIRE_FALSE(no_key.ok());
  CHECK(no_key.error().message.find(dir.file("ca.key")) != std::string::npos);
  CHECK(test::readText(dir.file("ca.pem")) == cert_text);
}

TEST_CASE("refuses a key that does not belong to the certificate") {
  TempDir a;
  TempDir b;
  REQUIRE(CertificateAuthority::loadOrCreate(a.file("ca.pem"), a.file("ca.key")).ok());
  REQUIRE(CertificateAuthority::loadOrCreate(b.file("ca.pem"), b.file("ca.key")).ok());
  auto mixed = CertificateAuthority::loadOrCreate(a.file("ca.pem"), b.file("ca.key"));
  REQUIRE_FALSE(mixed.ok());
  CHECK(mixed.error().message.find("does not belong") != std::string::npos);
}

TEST_CASE("refuses a certificate that is not a CA") {
  TempDir dir;
  auto key = certutil::generateP256Key();
  REQUIRE(key.ok());
  const time_t now = ::time(nullptr);
  auto cert = selfSigned(key->get(), /*is_ca=*/false, now - 60, now + 86400);
  writePair(dir, key->get(), cert.get());
  auto ca = CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key"));
  REQUIRE_FALSE(ca.ok());
  CHECK(ca.error().message.find("not a CA") != std::string::npos);
}

TEST_CASE("loads a CA made elsewhere and refuses one that has expired") {
  TempDir dir;
  auto key = certutil::generateP256Key();
  REQUIRE(key.ok());
  const time_t now = ::time(nullptr);

  auto valid = selfSigned(key->get(), /*is_ca=*/true, now - 60, now + 86400);
  writePair(dir, key->get(), valid.get());
  auto ok = CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key"));
  REQUIRE_MESSAGE(ok.ok(), ok.error().message);
  CHECK((*ok)->subjectKeyId().empty());  // this one has no SKI: leaves then carry no AKI

  auto expired = selfSigned(key->get(), /*is_ca=*/true, now - 3 * 86400, now - 86400);
  writePair(dir, key->get(), expired.get());
  auto refused = CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("expired") != std::string::npos);
}

TEST_CASE("refuses files that are not PEM, and empty or identical paths") {
  TempDir dir;
  REQUIRE(CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key")).ok());
  test::writeText(dir.file("ca.pem"), "not a certificate\n");
  auto bad_cert = CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key"));
  REQUIRE_FALSE(bad_cert.ok());
  CHECK(bad_cert.error().message.find(dir.file("ca.pem")) != std::string::npos);

  test::writeText(dir.file("other.key"), "garbage\n");
  REQUIRE(::chmod(dir.file("other.key").c_str(), 0600) == 0);
  auto bad_key = CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("other.key"));
  REQUIRE_FALSE(bad_key.ok());
  CHECK(bad_key.error().message.find(dir.file("other.key")) != std::string::npos);

  CHECK_FALSE(CertificateAuthority::loadOrCreate("", dir.file("ca.key")).ok());
  CHECK_FALSE(CertificateAuthority::loadOrCreate(dir.file("x"), dir.file("x")).ok());
}

TEST_CASE("reports a directory it cannot create instead of half-creating the CA") {
  TempDir dir;
  test::writeText(dir.file("blocker"), "a file where a directory should be\n");
  auto ca = CertificateAuthority::loadOrCreate(dir.file("blocker/ca/ca.pem"),
                                               dir.file("blocker/ca/ca.key"));
  REQUIRE_FALSE(ca.ok());
  CHECK(ca.error().code == "ca");
}

}  // namespace
}  // namespace aiw
