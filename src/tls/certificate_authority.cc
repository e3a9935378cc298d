#include "tls/certificate_authority.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <system_error>

#include "core/c_handles.h"
#include "tls/cert_util.h"

namespace aiw {
namespace {

// A PEM certificate or key is a few KiB; anything much larger is not what we expect to read.
constexpr off_t kMaxPemFileBytes = 1 << 20;

std::string errnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string octalMode(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0%03o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string isoDate(time_t t) {
  struct tm tm {};
  char buf[32];
  if (gmtime_r(&t, &tm) == nullptr ||
      std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm) == 0) {
    return std::to_string(t);
  }
  return buf;
}

Error caError(std::string message) { return makeError("ca", std::move(message)); }

enum class Exists : uint8_t { Yes, No };

Result<Exists> fileExists(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return Exists::Yes;
  if (errno == ENOENT) return Exists::No;
  return caError("cannot check " + path + ": " + errnoText(errno));
}

// Reads a small regular file through one descriptor; for the key, the mode is checked on that
// same descriptor (fstat), so the file checked is the file read.
Result<std::string> readPemFile(const std::string& path, bool is_private_key) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return caError("cannot open " + path + ": " + errnoText(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return caError("cannot stat " + path + ": " + errnoText(errno));
  if (!S_ISREG(st.st_mode)) return caError(path + " is not a regular file");
  if (is_private_key && (st.st_mode & 077) != 0) {
    return caError("CA key " + path + " has mode " + octalMode(st.st_mode) +
                   ": group or others can access it, and whoever reads it can intercept this "
                   "machine's TLS traffic. Refusing to use it: run `chmod 600 " +
                   path + "` (and replace the CA if others may have read the key)");
  }
  if (st.st_size > kMaxPemFileBytes) return caError(path + " is too large for a PEM file");
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return caError("cannot read " + path + ": " + errnoText(errno));
    if (n == 0) break;  // the file shrank meanwhile: parse what is there
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  return data;
}

// Creates `path` exclusively (never replaces an existing file, never follows a symlink) with
// exactly `mode`, writes `data` and syncs it. The file is created with `mode` already, so a key
// is never readable by others, not even between open and fchmod; fchmod then only undoes umask
// (which can only have removed bits). On failure the half-written file is removed.
Result<void> writeNewFile(const std::string& path, const std::string& data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd.valid()) return caError("cannot create " + path + ": " + errnoText(errno));
  auto fail = [&](const char* what) {
    Error e = caError(std::string("cannot ") + what + " " + path + ": " + errnoText(errno));
    fd.reset();
    ::unlink(path.c_str());
    return e;
  };
  if (::fchmod(fd.get(), mode) != 0) return fail("set the mode of");
  size_t put = 0;
  while (put < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + put, data.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    put += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail("sync");
  if (::close(fd.release()) != 0) return fail("close");
  return {};
}

// mkdir -p of the directory holding `path`; directories it creates are 0700 (they hold the key).
Result<void> ensureParentDirectory(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};
  std::string dir = path.substr(0, slash);
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    struct stat st {};
    if (::stat(prefix.c_str(), &st) == 0) continue;
    if (::mkdir(prefix.c_str(), 0700) == 0 || errno == EEXIST) continue;
    return caError("cannot create directory " + prefix + ": " + errnoText(errno));
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return caError(dir + " is not a directory");
  }
  return {};
}

// This machine's host name, reduced to characters safe in a certificate name and capped at the
// 64 characters X.520 allows; empty if unknown.
std::string printableHostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return {};
  std::string out;
  for (const char* p = buf; *p != '\0' && out.size() < 64; ++p) {
    char c = *p;
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-' || c == '_';
    out += safe ? c : '_';
  }
  return out;
}

int passwordRefused(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) noexcept {
  return 0;  // no prompt: an encrypted key fails to load with a clear error instead
}

}  // namespace

Result<std::shared_ptr<const CertificateAuthority>> CertificateAuthority::loadOrCreate(
    const std::string& cert_path, const std::string& key_path) {
  if (cert_path.empty() || key_path.empty()) {
    return caError("the CA certificate and key paths must not be empty");
  }
  if (cert_path == key_path) {
    return caError("the CA certificate and key must be two files, both are " + cert_path);
  }
  auto cert_exists = fileExists(cert_path);
  if (!cert_exists) return cert_exists.error();
  auto key_exists = fileExists(key_path);
  if (!key_exists) return key_exists.error();
  if (*cert_exists == Exists::Yes && *key_exists == Exists::Yes) return load(cert_path, key_path);
  if (*cert_exists == Exists::No && *key_exists == Exists::No) return create(cert_path, key_path);
  const std::string& present = *cert_exists == Exists::Yes ? cert_path : key_path;
  const std::string& missing = *cert_exists == Exists::Yes ? key_path : cert_path;
  return caError("CA " + std::string(*cert_exists == Exists::Yes ? "certificate " : "key ") +
                 present + " exists but its " +
                 (*cert_exists == Exists::Yes ? "key " : "certificate ") + missing +
                 " does not: restore the missing file, or remove " + present +
                 " to create a new CA (clients must then trust the new one)");
}

Result<std::shared_ptr<const CertificateAuthority>> CertificateAuthority::load(
    const std::string& cert_path, const std::string& key_path) {
  std::shared_ptr<CertificateAuthority> ca(new CertificateAuthority());
  ca->cert_path_ = cert_path;
  ca->key_path_ = key_path;

  auto key_pem = readPemFile(key_path, /*is_private_key=*/true);
  if (!key_pem) return key_pem.error();
  {
    bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(key_pem->data(), key_pem->size()));
    if (bio) ca->key_.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, passwordRefused, nullptr));
    OPENSSL_cleanse(key_pem->data(), key_pem->size());
  }
  if (!ca->key_) {
    return caError("cannot read a PEM private key (unencrypted) from " + key_path + ": " +
                   certutil::drainSslErrors());
  }
  int key_type = EVP_PKEY_id(ca->key_.get());
  if (key_type != EVP_PKEY_EC && key_type != EVP_PKEY_RSA) {
    return caError("CA key " + key_path + " is neither an EC nor an RSA key");
  }

  auto cert_pem = readPemFile(cert_path, /*is_private_key=*/false);
  if (!cert_pem) return cert_pem.error();
  {
    bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(cert_pem->data(), cert_pem->size()));
    if (bio) ca->cert_.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  }
  if (!ca->cert_) {
    return caError("cannot read a PEM certificate from " + cert_path + ": " +
                   certutil::drainSslErrors());
  }

  if (X509_check_private_key(ca->cert_.get(), ca->key_.get()) != 1) {
    ERR_clear_error();
    return caError("CA key " + key_path + " does not belong to the certificate " + cert_path);
  }
  bssl::UniquePtr<BASIC_CONSTRAINTS> bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(ca->cert_.get(), NID_basic_constraints, nullptr, nullptr)));
  if (!bc || bc->ca == 0) {
    ERR_clear_error();
    return caError("certificate " + cert_path +
                   " is not a CA certificate (no basicConstraints CA:TRUE): it cannot sign "
                   "leaf certificates");
  }
  // X509_get_key_usage answers all ones when the extension is absent (no restriction).
  if ((X509_get_key_usage(ca->cert_.get()) & KU_KEY_CERT_SIGN) == 0) {
    return caError("certificate " + cert_path + " has a keyUsage without keyCertSign");
  }
  if (auto r = ca->finish(); !r) return r.error();
  if (ca->not_after_ <= ::time(nullptr)) {
    return caError("CA certificate " + cert_path + " expired on " + isoDate(ca->not_after_) +
                   ": remove " + cert_path + " and " + key_path + " to create a new CA");
  }
  return std::shared_ptr<const CertificateAuthority>(std::move(ca));
}

Result<std::shared_ptr<const CertificateAuthority>> CertificateAuthority::create(
    const std::string& cert_path, const std::string& key_path) {
  std::shared_ptr<CertificateAuthority> ca(new CertificateAuthority());
  ca->cert_path_ = cert_path;
  ca->key_path_ = key_path;
  ca->created_ = true;

  auto key = certutil::generateP256Key();
  if (!key) return key.error();
  ca->key_ = std::move(*key);

  ca->cert_.reset(X509_new());
  X509* x = ca->cert_.get();
  if (x == nullptr || X509_set_version(x, X509_VERSION_3) != 1 ||
      X509_set_pubkey(x, ca->key_.get()) != 1) {
    return certutil::sslError("ca", "building the CA certificate");
  }
  if (auto r = certutil::setRandomSerial(x); !r) return r.error();
  time_t now = ::time(nullptr);
  if (auto r = certutil::setValidity(x, now - kBackdateSeconds,
                                     now + static_cast<time_t>(kValidityDays) * 86400);
      !r) {
    return r.error();
  }

  // A random suffix in the CN tells two machines' CAs apart in a trust store list; the host
  // name (OU) tells the user which machine a CA came from.
  uint8_t suffix[4];
  if (RAND_bytes(suffix, sizeof(suffix)) != 1) return certutil::sslError("ca", "RAND_bytes");
  char cn[64];
  std::snprintf(cn, sizeof(cn), "aiwarden interception CA %02x%02x%02x%02x", suffix[0], suffix[1],
                suffix[2], suffix[3]);
  X509_NAME* name = X509_get_subject_name(x);
  if (auto r = certutil::addNameEntry(name, NID_organizationName, "aiwarden"); !r) {
    return r.error();
  }
  if (std::string host = printableHostName(); !host.empty()) {
    if (auto r = certutil::addNameEntry(name, NID_organizationalUnitName, host); !r) {
      return r.error();
    }
  }
  if (auto r = certutil::addNameEntry(name, NID_commonName, cn); !r) return r.error();
  if (X509_set_issuer_name(x, name) != 1) return certutil::sslError("ca", "setting the issuer");

  // pathlen:0: this CA signs leaves only, never another CA.
  if (auto r = certutil::addBasicConstraints(x, /*is_ca=*/true, /*pathlen=*/0); !r) {
    return r.error();
  }
  if (auto r = certutil::addKeyUsage(x, {certutil::kKuKeyCertSign, certutil::kKuCrlSign}); !r) {
    return r.error();
  }
  if (auto r = certutil::addSubjectKeyId(x); !r) return r.error();
  if (X509_sign(x, ca->key_.get(), EVP_sha256()) <= 0) {
    return certutil::sslError("ca", "self-signing the CA certificate");
  }
  if (auto r = ca->finish(); !r) return r.error();

  std::string key_pem;
  {
    bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
    const uint8_t* data = nullptr;
    size_t len = 0;
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), ca->key_.get(), nullptr, nullptr, 0, nullptr,
                                 nullptr) != 1 ||
        BIO_mem_contents(bio.get(), &data, &len) != 1) {
      return certutil::sslError("ca", "encoding the CA key as PEM");
    }
    key_pem.assign(reinterpret_cast<const char*>(data), len);
  }

  if (auto r = ensureParentDirectory(key_path); !r) return r.error();
  if (auto r = ensureParentDirectory(cert_path); !r) return r.error();
  // The key first: if the certificate then fails, the key is removed again, so a failed
  // creation leaves neither file (and the next start creates a CA afresh).
  Result<void> wrote_key = writeNewFile(key_path, key_pem, 0600);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (!wrote_key) return wrote_key.error();
  if (auto r = writeNewFile(cert_path, ca->cert_pem_, 0644); !r) {
    ::unlink(key_path.c_str());
    return r.error();
  }
  return std::shared_ptr<const CertificateAuthority>(std::move(ca));
}

Result<void> CertificateAuthority::finish() {
  auto pem = certutil::toPem(cert_.get());
  if (!pem) return pem.error();
  cert_pem_ = std::move(*pem);
  auto der = certutil::toDerBuffer(cert_.get());
  if (!der) return der.error();
  cert_buffer_ = std::move(*der);
  if (const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert_.get()); ski != nullptr) {
    const uint8_t* bytes = ASN1_STRING_get0_data(ski);
    subject_key_id_.assign(bytes, bytes + ASN1_STRING_length(ski));
  }
  auto not_after = certutil::toUnixTime(X509_get0_notAfter(cert_.get()));
  if (!not_after) return caError("cannot read the CA certificate's notAfter in " + cert_path_);
  not_after_ = *not_after;
  // Encode the subject name once now, while the CA is still private to this thread: later
  // leaf minting on many threads then only reads its cached encoding.
  if (i2d_X509_NAME(X509_get_subject_name(cert_.get()), nullptr) <= 0) {
    return certutil::sslError("ca", "encoding the CA subject name");
  }
  return {};
}

}  // namespace aiw

namespace aiw {

Result<std::string> CertificateAuthority::issueEmptyCrl(time_t now) const {
  ERR_clear_error();
  const time_t next_update = std::min(now + kCrlLifetimeSeconds, not_after_);
  bssl::UniquePtr<X509_CRL> crl(X509_CRL_new());
  bssl::UniquePtr<ASN1_TIME> last(ASN1_TIME_set(nullptr, now - kCrlBackdateSeconds));
  bssl::UniquePtr<ASN1_TIME> next(ASN1_TIME_set(nullptr, next_update));
  bssl::UniquePtr<ASN1_INTEGER> number(ASN1_INTEGER_new());
  if (!crl || !last || !next || !number || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(cert_.get())) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1 ||
      ASN1_INTEGER_set_uint64(number.get(), static_cast<uint64_t>(now)) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return certutil::sslError("ca", "building the CRL");
  }
  // RFC 5280 §5.2.1: a conforming CRL issuer includes authorityKeyIdentifier.
  if (!subject_key_id_.empty()) {
    bssl::UniquePtr<AUTHORITY_KEYID> aki(AUTHORITY_KEYID_new());
    bssl::UniquePtr<ASN1_OCTET_STRING> id(ASN1_OCTET_STRING_new());
    if (!aki || !id ||
        ASN1_OCTET_STRING_set(id.get(), subject_key_id_.data(),
                              static_cast<int>(subject_key_id_.size())) != 1) {
      return certutil::sslError("ca", "building the CRL's authorityKeyIdentifier");
    }
    aki->keyid = id.release();
    if (X509_CRL_add1_ext_i2d(crl.get(), NID_authority_key_identifier, aki.get(), 0,
                              X509V3_ADD_DEFAULT) != 1) {
      return certutil::sslError("ca", "adding the CRL's authorityKeyIdentifier");
    }
  }
  if (X509_CRL_sign(crl.get(), key_.get(), EVP_sha256()) <= 0) {
    return certutil::sslError("ca", "signing the CRL");
  }
  uint8_t* der = nullptr;
  const int len = i2d_X509_CRL(crl.get(), &der);
  if (len <= 0) return certutil::sslError("ca", "encoding the CRL");
  bssl::UniquePtr<uint8_t> owned(der);
  return std::string(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
}

}  // namespace aiw
