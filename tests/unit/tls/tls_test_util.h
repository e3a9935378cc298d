// Helpers for the CA and leaf tests: a temporary directory removed at the end, file modes,
// and certificate facts read back with BoringSSL.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace aiw::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "aiw-ca-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline unsigned fileMode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0xffffffffu;
  return static_cast<unsigned>(st.st_mode & 07777);
}

inline std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// The subjectAltName entries as "DNS:<name>" / "IP:<n> bytes" strings.
inline std::vector<std::string> altNames(X509* x) {
  std::vector<std::string> out;
  bssl::UniquePtr<GENERAL_NAMES> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (size_t i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type == GEN_DNS) {
      const ASN1_STRING* s = gn->d.dNSName;
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                         static_cast<size_t>(ASN1_STRING_length(s))));
    } else if (gn->type == GEN_IPADD) {
      out.push_back("IP:" + std::to_string(ASN1_STRING_length(gn->d.iPAddress)) + " bytes");
    } else {
      out.push_back("other");
    }
  }
  return out;
}

inline bool isCritical(X509* x, int nid) {
  int idx = X509_get_ext_by_NID(x, nid, -1);
  return idx >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, idx)) == 1;
}

inline std::string commonName(X509* x) {
  X509_NAME* name = X509_get_subject_name(x);
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

inline std::string serialHex(X509* x) {
  bssl::UniquePtr<BIGNUM> bn(ASN1_INTEGER_to_BN(X509_get_serialNumber(x), nullptr));
  if (!bn) return {};
  bssl::UniquePtr<char> hex(BN_bn2hex(bn.get()));
  return hex ? std::string(hex.get()) : std::string();
}

// Verifies `leaf` against a store holding only `ca`, at time `at` (0: now). Returns the
// X509_V_* result.
inline int verifyAgainst(X509* leaf, X509* ca, time_t at = 0) {
  bssl::UniquePtr<X509_STORE> store(X509_STORE_new());
  bssl::UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) != 1) {
    return -1;
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  if (at != 0) X509_STORE_CTX_set_time(ctx.get(), 0, at);
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

}  // namespace aiw::test
