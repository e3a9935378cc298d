// CertificateAuthority: the local interception CA (SPEC §2 STATE_DIR/ca/, §3 `interception:`,
// §1 `aiwarden ca path|pem`, §7 GET /ca.pem). It signs the leaf certificates that LeafCache mints
// for intercepted names, so its key is the most sensitive file aiwarden owns: it is created
// 0600 and a key file that group or others can access is refused, never "fixed" silently.
//
// Immutable after loadOrCreate; shared by every worker thread as
// std::shared_ptr<const CertificateAuthority>. The const accessors hand out BoringSSL handles
// that are only read (signing with an EVP_PKEY and reading a parsed X509 are thread-safe).
#pragma once

#include <openssl/base.h>
#include <openssl/evp.h>
#include <openssl/pool.h>
#include <openssl/x509.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace aiw {

class CertificateAuthority {
 public:
  // The created CA's certificate validity: long enough that users install it once, backdated
  // a day so a client whose clock runs behind still accepts it.
  static constexpr int kValidityDays = 3650;
  static constexpr int kBackdateSeconds = 86400;

  // Loads the CA from `cert_path` (PEM certificate, the first one in the file) and `key_path`
  // (PEM private key, EC or RSA, unencrypted) when both exist; creates a new one (ECDSA P-256,
  // self-signed, key 0600, certificate 0644, missing directories 0700) when neither does.
  // Errors (code "ca"): only one of the two files exists; the key file's mode lets group or
  // others in (mode & 077); the key does not match the certificate; the certificate is not a
  // CA (basicConstraints CA:TRUE, keyCertSign when keyUsage is present); it has expired; a file
  // cannot be read, parsed or written. Runs at start-up and for `aiwarden ca`, never on the
  // data path (it does file I/O and may generate a key).
  static Result<std::shared_ptr<const CertificateAuthority>> loadOrCreate(
      const std::string& cert_path, const std::string& key_path);

  const std::string& certPath() const { return cert_path_; }
  const std::string& keyPath() const { return key_path_; }
  // The certificate as PEM text (re-encoded from the parsed certificate, so comments or extra
  // certificates in the file are not repeated): `aiwarden ca pem` and GET /ca.pem.
  const std::string& certPem() const { return cert_pem_; }
  // True when loadOrCreate created the files (start-up logs where to find the new CA).
  bool created() const { return created_; }

  X509* cert() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }
  // The certificate's DER in a CRYPTO_BUFFER, shared (up-ref'd) by every leaf's chain.
  CRYPTO_BUFFER* certBuffer() const { return cert_buffer_.get(); }
  // subjectKeyIdentifier, for the leaves' authorityKeyIdentifier; empty if the CA has none.
  std::span<const uint8_t> subjectKeyId() const { return subject_key_id_; }
  time_t notAfter() const { return not_after_; }

  // How long an issued CRL is current (its nextUpdate), and how far lastUpdate is backdated for
  // clients whose clock runs behind.
  static constexpr time_t kCrlLifetimeSeconds = 7 * 86400;
  static constexpr time_t kCrlBackdateSeconds = 3600;
  // A CRL revoking nothing, signed by this CA, as DER (GET /ca.crl). Minted leaves name it as
  // their cRLDistributionPoint so that clients which insist on a revocation check (Windows
  // Schannel, hence curl and cargo there) can complete one; they trust nothing more than they
  // already trust the CA for. Issued fresh per call (one ECDSA signature): lastUpdate `now`
  // backdated, nextUpdate `now` + kCrlLifetimeSeconds (never past the CA's notAfter), crlNumber
  // `now` so a later CRL always has a larger number. Thread-safe (only reads the CA).
  Result<std::string> issueEmptyCrl(time_t now) const;

 private:
  CertificateAuthority() = default;
  static Result<std::shared_ptr<const CertificateAuthority>> load(const std::string& cert_path,
                                                                  const std::string& key_path);
  static Result<std::shared_ptr<const CertificateAuthority>> create(const std::string& cert_path,
                                                                    const std::string& key_path);
  // Fills the derived fields (PEM, DER buffer, SKI, notAfter) from cert_ and key_.
  Result<void> finish();

  std::string cert_path_;
  std::string key_path_;
  bssl::UniquePtr<X509> cert_;
  bssl::UniquePtr<EVP_PKEY> key_;
  std::string cert_pem_;
  bssl::UniquePtr<CRYPTO_BUFFER> cert_buffer_;
  std::vector<uint8_t> subject_key_id_;
  time_t not_after_ = 0;
  bool created_ = false;
};

}  // namespace aiw
