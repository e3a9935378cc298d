// Small X.509 building blocks shared by the interception CA and the leaf minter: BoringSSL's
// extension structures filled in directly (no OpenSSL config strings to parse), random serials,
// key generation, PEM/DER conversion. Every function checks BoringSSL's return codes and turns a
// failure into an Error carrying the library's error queue.
#pragma once

#include <openssl/base.h>
#include <openssl/evp.h>
#include <openssl/pool.h>
#include <openssl/x509.h>

#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace aiw::certutil {

// The BoringSSL error queue of this thread, drained into one line (the queue is cleared, so a
// later failure does not report this one's causes).
std::string drainSslErrors();
// `code` + "what: <queue>".
Error sslError(std::string code, std::string_view what);

// An ECDSA P-256 key pair: fast to sign with, accepted by every TLS client that matters.
Result<bssl::UniquePtr<EVP_PKEY>> generateP256Key();

// A random positive 128-bit serial (top bit set, so 127 bits of entropy: well above the 64 the
// CA/Browser Forum asks for, and never zero or negative).
Result<void> setRandomSerial(X509* x509);
// notBefore / notAfter from Unix times (UTCTime up to 2049, GeneralizedTime after).
Result<void> setValidity(X509* x509, time_t not_before, time_t not_after);
// Unix time of an ASN1_TIME, or nullopt if it cannot be read.
std::optional<time_t> toUnixTime(const ASN1_TIME* t);

// Adds one UTF-8 entry (e.g. NID_commonName) to a name.
Result<void> addNameEntry(X509_NAME* name, int nid, std::string_view value);

// Extensions. `pathlen` < 0 leaves pathLenConstraint out.
Result<void> addBasicConstraints(X509* x509, bool is_ca, int pathlen);
// Key usage bit numbers from RFC 5280 §4.2.1.3 (digitalSignature = 0, keyCertSign = 5, ...).
inline constexpr int kKuDigitalSignature = 0;
inline constexpr int kKuKeyCertSign = 5;
inline constexpr int kKuCrlSign = 6;
Result<void> addKeyUsage(X509* x509, std::initializer_list<int> bits);  // always critical
Result<void> addServerAuthEku(X509* x509);
// SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1). The public key must be set.
Result<void> addSubjectKeyId(X509* x509);
Result<void> addAuthorityKeyId(X509* x509, std::span<const uint8_t> key_id);
// subjectAltName with one entry: a dNSName, or an iPAddress (`ip` = 4 or 16 raw bytes).
// Critical when the subject is empty (RFC 5280 §4.2.1.6).
Result<void> addSubjectAltNameDns(X509* x509, std::string_view dns_name, bool critical);
Result<void> addSubjectAltNameIp(X509* x509, std::span<const uint8_t> ip, bool critical);
// cRLDistributionPoints with one fullName URI (RFC 5280 §4.2.1.13), not critical.
Result<void> addCrlDistributionPoint(X509* x509, std::string_view uri);

Result<std::string> toPem(X509* x509);
Result<bssl::UniquePtr<CRYPTO_BUFFER>> toDerBuffer(X509* x509);

}  // namespace aiw::certutil
