#include "tls/cert_util.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/digest.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/obj.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <climits>
#include <utility>

namespace aiw::certutil {

std::string drainSslErrors() {
  std::string out;
  while (uint32_t e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from BoringSSL" : out;
}

Error sslError(std::string code, std::string_view what) {
  return makeError(std::move(code), std::string(what) + ": " + drainSslErrors());
}

Result<bssl::UniquePtr<EVP_PKEY>> generateP256Key() {
  bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  if (!ec || EC_KEY_generate_key(ec.get()) != 1) {
    return sslError("crypto", "generating an ECDSA P-256 key");
  }
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  if (!key || EVP_PKEY_set1_EC_KEY(key.get(), ec.get()) != 1) {
    return sslError("crypto", "wrapping the ECDSA P-256 key");
  }
  return key;
}

Result<void> setRandomSerial(X509* x509) {
  bssl::UniquePtr<BIGNUM> bn(BN_new());
  if (!bn || BN_rand(bn.get(), 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x509)) == nullptr) {
    return sslError("crypto", "drawing a random serial number");
  }
  return {};
}

Result<void> setValidity(X509* x509, time_t not_before, time_t not_after) {
  if (ASN1_TIME_set(X509_getm_notBefore(x509), not_before) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x509), not_after) == nullptr) {
    return sslError("crypto", "setting the validity period");
  }
  return {};
}

std::optional<time_t> toUnixTime(const ASN1_TIME* t) {
  if (t == nullptr) return std::nullopt;
  // This BoringSSL has no ASN1_TIME_to_posix: the distance from the epoch does the same.
  bssl::UniquePtr<ASN1_TIME> epoch(ASN1_TIME_set(nullptr, 0));
  int days = 0;
  int seconds = 0;
  if (!epoch || ASN1_TIME_diff(&days, &seconds, epoch.get(), t) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  return static_cast<time_t>(days) * 86400 + seconds;
}

Result<void> addNameEntry(X509_NAME* name, int nid, std::string_view value) {
  if (value.size() > INT_MAX ||
      X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return sslError("crypto", "adding a subject name entry");
  }
  return {};
}

namespace {

Result<void> addExtension(X509* x509, int nid, void* value, bool critical, const char* what) {
  if (X509_add1_ext_i2d(x509, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT) != 1) {
    return sslError("crypto", std::string("adding the ") + what + " extension");
  }
  return {};
}

Result<void> addOneAltName(X509* x509, int type, bssl::UniquePtr<ASN1_STRING> value,
                           bool critical) {
  bssl::UniquePtr<GENERAL_NAMES> names(GENERAL_NAMES_new());
  bssl::UniquePtr<GENERAL_NAME> name(GENERAL_NAME_new());
  if (!names || !name) return sslError("crypto", "allocating subjectAltName");
  GENERAL_NAME_set0_value(name.get(), type, value.release());
  if (!bssl::PushToStack(names.get(), std::move(name))) {
    return sslError("crypto", "building subjectAltName");
  }
  return addExtension(x509, NID_subject_alt_name, names.get(), critical, "subjectAltName");
}

Result<bssl::UniquePtr<ASN1_STRING>> newString(int type, const void* data, size_t len) {
  bssl::UniquePtr<ASN1_STRING> s(ASN1_STRING_type_new(type));
  if (!s || len > INT_MAX || ASN1_STRING_set(s.get(), data, static_cast<int>(len)) != 1) {
    return sslError("crypto", "allocating an ASN.1 string");
  }
  return s;
}

}  // namespace

Result<void> addBasicConstraints(X509* x509, bool is_ca, int pathlen) {
  bssl::UniquePtr<BASIC_CONSTRAINTS> bc(BASIC_CONSTRAINTS_new());
  if (!bc) return sslError("crypto", "allocating basicConstraints");
  bc->ca = is_ca ? 0xff : 0;  // DER BOOLEAN TRUE; FALSE is the default and is left out
  if (pathlen >= 0) {
    bc->pathlen = ASN1_INTEGER_new();
    if (bc->pathlen == nullptr || ASN1_INTEGER_set(bc->pathlen, pathlen) != 1) {
      return sslError("crypto", "setting pathLenConstraint");
    }
  }
  return addExtension(x509, NID_basic_constraints, bc.get(), true, "basicConstraints");
}

Result<void> addKeyUsage(X509* x509, std::initializer_list<int> bits) {
  bssl::UniquePtr<ASN1_BIT_STRING> usage(ASN1_BIT_STRING_new());
  if (!usage) return sslError("crypto", "allocating keyUsage");
  for (int bit : bits) {
    if (ASN1_BIT_STRING_set_bit(usage.get(), bit, 1) != 1) {
      return sslError("crypto", "setting a keyUsage bit");
    }
  }
  return addExtension(x509, NID_key_usage, usage.get(), true, "keyUsage");
}

Result<void> addServerAuthEku(X509* x509) {
  bssl::UniquePtr<EXTENDED_KEY_USAGE> eku(sk_ASN1_OBJECT_new_null());
  // OBJ_nid2obj returns a static object: the stack's free of it is a no-op.
  ASN1_OBJECT* server_auth = OBJ_nid2obj(NID_server_auth);
  if (!eku || server_auth == nullptr || sk_ASN1_OBJECT_push(eku.get(), server_auth) == 0) {
    return sslError("crypto", "building extendedKeyUsage");
  }
  return addExtension(x509, NID_ext_key_usage, eku.get(), false, "extendedKeyUsage");
}

Result<void> addSubjectKeyId(X509* x509) {
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_pubkey_digest(x509, EVP_sha1(), digest, &len) != 1) {
    return sslError("crypto", "hashing the public key for subjectKeyIdentifier");
  }
  auto ski = newString(V_ASN1_OCTET_STRING, digest, len);
  if (!ski) return ski.error();
  return addExtension(x509, NID_subject_key_identifier, ski->get(), false, "subjectKeyIdentifier");
}

Result<void> addAuthorityKeyId(X509* x509, std::span<const uint8_t> key_id) {
  bssl::UniquePtr<AUTHORITY_KEYID> aki(AUTHORITY_KEYID_new());
  if (!aki) return sslError("crypto", "allocating authorityKeyIdentifier");
  auto id = newString(V_ASN1_OCTET_STRING, key_id.data(), key_id.size());
  if (!id) return id.error();
  aki->keyid = id->release();  // owned by aki from here
  return addExtension(x509, NID_authority_key_identifier, aki.get(), false,
                      "authorityKeyIdentifier");
}

Result<void> addSubjectAltNameDns(X509* x509, std::string_view dns_name, bool critical) {
  auto value = newString(V_ASN1_IA5STRING, dns_name.data(), dns_name.size());
  if (!value) return value.error();
  return addOneAltName(x509, GEN_DNS, std::move(*value), critical);
}

Result<void> addSubjectAltNameIp(X509* x509, std::span<const uint8_t> ip, bool critical) {
  if (ip.size() != 4 && ip.size() != 16) {
    return makeError("crypto", "an iPAddress subjectAltName needs 4 or 16 bytes");
  }
  auto value = newString(V_ASN1_OCTET_STRING, ip.data(), ip.size());
  if (!value) return value.error();
  return addOneAltName(x509, GEN_IPADD, std::move(*value), critical);
}

Result<void> addCrlDistributionPoint(X509* x509, std::string_view uri) {
  auto value = newString(V_ASN1_IA5STRING, uri.data(), uri.size());
  if (!value) return value.error();
  bssl::UniquePtr<GENERAL_NAME> name(GENERAL_NAME_new());
  bssl::UniquePtr<DIST_POINT> point(DIST_POINT_new());
  bssl::UniquePtr<CRL_DIST_POINTS> points(sk_DIST_POINT_new_null());
  if (!name || !point || !points) return sslError("crypto", "allocating cRLDistributionPoints");
  GENERAL_NAME_set0_value(name.get(), GEN_URI, value->release());
  point->distpoint = DIST_POINT_NAME_new();
  if (point->distpoint == nullptr) return sslError("crypto", "allocating a distribution point");
  point->distpoint->type = 0;  // fullName
  point->distpoint->name.fullname = GENERAL_NAMES_new();
  if (point->distpoint->name.fullname == nullptr ||
      !bssl::PushToStack(point->distpoint->name.fullname, std::move(name)) ||
      !bssl::PushToStack(points.get(), std::move(point))) {
    return sslError("crypto", "building cRLDistributionPoints");
  }
  return addExtension(x509, NID_crl_distribution_points, points.get(), false,
                      "cRLDistributionPoints");
}

Result<std::string> toPem(X509* x509) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!bio || PEM_write_bio_X509(bio.get(), x509) != 1 ||
      BIO_mem_contents(bio.get(), &data, &len) != 1) {
    return sslError("crypto", "encoding a certificate as PEM");
  }
  return std::string(reinterpret_cast<const char*>(data), len);
}

Result<bssl::UniquePtr<CRYPTO_BUFFER>> toDerBuffer(X509* x509) {
  uint8_t* der = nullptr;
  int len = i2d_X509(x509, &der);
  if (len <= 0) return sslError("crypto", "encoding a certificate as DER");
  bssl::UniquePtr<uint8_t> owned(der);
  bssl::UniquePtr<CRYPTO_BUFFER> buffer(
      CRYPTO_BUFFER_new(der, static_cast<size_t>(len), /*pool=*/nullptr));
  if (!buffer) return sslError("crypto", "copying a certificate into a CRYPTO_BUFFER");
  return buffer;
}

}  // namespace aiw::certutil
