// Test PKI for the TLS transport tests: an ECDSA P-256 CA and leaves it signs, built here with
// BoringSSL (independent of the production CA in src/tls), and PEM files on disk for
// TlsClientContext's ca_file.
#pragma once

#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace aiw::test {

struct TestCert {
  bssl::UniquePtr<X509> cert;
  bssl::UniquePtr<EVP_PKEY> key;
};

inline bssl::UniquePtr<EVP_PKEY> newP256Key() {
  bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  REQUIRE(ec);
  REQUIRE(EC_KEY_generate_key(ec.get()) == 1);
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  REQUIRE(key);
  REQUIRE(EVP_PKEY_assign_EC_KEY(key.get(), ec.release()) == 1);
  return key;
}

inline void addExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  bssl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
  REQUIRE(ext);
  REQUIRE(X509_add_ext(cert, ext.get(), -1) == 1);
}

inline void setName(X509* cert, const std::string& cn) {
  X509_NAME* name = X509_get_subject_name(cert);
  REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const uint8_t*>(cn.c_str()), -1, -1, 0) == 1);
}

// A certificate valid from `from_days` to `to_days` relative to now, signed by `issuer` (or
// self-signed when issuer is null).
inline TestCert makeCert(const std::string& cn, const TestCert* issuer, bool is_ca,
                         const std::vector<std::string>& sans, long from_days = -1,
                         long to_days = 30) {
  static long serial = 1000;
  TestCert out{bssl::UniquePtr<X509>(X509_new()), newP256Key()};
  X509* c = out.cert.get();
  REQUIRE(c);
  REQUIRE(X509_set_version(c, X509_VERSION_3) == 1);
  REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(c), ++serial) == 1);
  REQUIRE(X509_gmtime_adj(X509_getm_notBefore(c), from_days * 86400) != nullptr);
  REQUIRE(X509_gmtime_adj(X509_getm_notAfter(c), to_days * 86400) != nullptr);
  REQUIRE(X509_set_pubkey(c, out.key.get()) == 1);
  setName(c, cn);
  X509* issuer_cert = issuer ? issuer->cert.get() : c;
  REQUIRE(X509_set_issuer_name(c, X509_get_subject_name(issuer_cert)) == 1);
  if (is_ca) {
    addExt(c, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    addExt(c, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExt(c, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    addExt(c, issuer_cert, NID_key_usage, "critical,digitalSignature");
    addExt(c, issuer_cert, NID_ext_key_usage, "serverAuth");
  }
  if (!sans.empty()) {
    std::string list;
    for (const std::string& s : sans) list += (list.empty() ? "" : ",") + s;
    addExt(c, issuer_cert, NID_subject_alt_name, list);
  }
  EVP_PKEY* signer = issuer ? issuer->key.get() : out.key.get();
  REQUIRE(X509_sign(c, signer, EVP_sha256()) > 0);
  return out;
}

inline TestCert makeCa(const std::string& cn) { return makeCert(cn, nullptr, true, {}); }

// `sans` in OpenSSL's notation: "DNS:good.test", "IP:127.0.0.1".
inline TestCert makeLeaf(const TestCert& ca, const std::string& cn,
                         const std::vector<std::string>& sans) {
  return makeCert(cn, &ca, false, sans);
}

inline std::string toPem(X509* cert) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), cert) == 1);
  const uint8_t* data = nullptr;
  size_t len = 0;
  REQUIRE(BIO_mem_contents(bio.get(), &data, &len) == 1);
  return std::string(reinterpret_cast<const char*>(data), len);
}

// A file removed when the object goes.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/aiw-tls-test-XXXXXX";
    int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    path_ = tmpl;
    size_t off = 0;
    while (off < content.size()) {
      ssize_t n = ::write(fd, content.data() + off, content.size() - off);
      REQUIRE(n > 0);
      off += static_cast<size_t>(n);
    }
    ::close(fd);
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace aiw::test
