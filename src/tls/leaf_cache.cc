#include "tls/leaf_cache.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/digest.h>
#include <openssl/nid.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "tls/cert_util.h"

namespace aiw {
namespace {

// Clients whose clock runs a little behind must not see a leaf that is "not yet valid".
constexpr time_t kBackdateSeconds = 3600;
constexpr time_t kDaySeconds = 86400;
// X.520 ub-common-name: a longer name goes in the SAN only.
constexpr size_t kMaxCommonName = 64;

Error badHost(std::string_view host, const char* why) {
  return makeError("bad_host",
                   "cannot mint a certificate for \"" + std::string(host) + "\": " + why);
}

// The raw bytes of an IP literal in canonical text form (normalizeHost's output), or 0.
size_t ipBytes(const std::string& name, uint8_t out[16]) {
  if (inet_pton(AF_INET, name.c_str(), out) == 1) return 4;
  if (inet_pton(AF_INET6, name.c_str(), out) == 1) return 16;
  return 0;
}

}  // namespace

Leaf::Leaf(std::string name, bssl::UniquePtr<X509> cert, bssl::UniquePtr<CRYPTO_BUFFER> cert_der,
           bssl::UniquePtr<CRYPTO_BUFFER> ca_der, bssl::UniquePtr<EVP_PKEY> key, time_t not_after)
    : name_(std::move(name)),
      cert_(std::move(cert)),
      cert_der_(std::move(cert_der)),
      ca_der_(std::move(ca_der)),
      key_(std::move(key)),
      not_after_(not_after) {}

Result<void> Leaf::applyTo(SSL* ssl) const {
  CRYPTO_BUFFER* const chain[] = {cert_der_.get(), ca_der_.get()};
  if (SSL_set_chain_and_key(ssl, chain, 2, key_.get(), nullptr) != 1) {
    return certutil::sslError("leaf", "installing the leaf certificate for " + name_);
  }
  return {};
}

Result<std::unique_ptr<LeafCache>> LeafCache::create(std::shared_ptr<const CertificateAuthority> ca,
                                                     LeafCacheOptions options) {
  if (!ca) return makeError("leaf", "a leaf cache needs a certificate authority");
  auto key = certutil::generateP256Key();
  if (!key) return key.error();
  return std::unique_ptr<LeafCache>(
      new LeafCache(std::move(ca), std::move(options), std::move(*key)));
}

LeafCache::LeafCache(std::shared_ptr<const CertificateAuthority> ca, LeafCacheOptions options,
                     bssl::UniquePtr<EVP_PKEY> key)
    : ca_(std::move(ca)),
      capacity_(std::max<size_t>(options.capacity, 1)),
      validity_seconds_(static_cast<time_t>(std::max<uint32_t>(options.validity_days, 1)) *
                        kDaySeconds),
      // Half the validity when that is shorter than a day, so a one-day leaf is still served
      // for half a day rather than re-minted on every connection.
      refresh_margin_(std::min(kDaySeconds, validity_seconds_ / 2)),
      clock_(options.clock ? std::move(options.clock) : [] { return ::time(nullptr); }),
      crl_url_(std::move(options.crl_url)),
      key_(std::move(key)) {}

size_t LeafCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

Result<std::string> LeafCache::normalizeHost(std::string_view host) {
  std::string name(host);
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty()) return badHost(host, "empty name");

  uint8_t ip[16];
  size_t ip_len = ipBytes(name, ip);
  if (ip_len != 0) {
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(ip_len == 4 ? AF_INET : AF_INET6, ip, text, sizeof(text)) == nullptr) {
      return badHost(host, "unprintable IP address");
    }
    return std::string(text);
  }
  if (name.find(':') != std::string::npos) return badHost(host, "not a valid IPv6 address");

  if (name.size() > 253) return badHost(host, "longer than 253 characters");
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return badHost(host, "empty label");
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return badHost(host, "characters other than letters, digits, '-', '_' and '.'");
    if (++label > 63) return badHost(host, "a label longer than 63 characters");
  }
  return name;
}

Result<LeafCache::LeafPtr> LeafCache::get(std::string_view host) {
  auto name = normalizeHost(host);
  if (!name) return name.error();
  const time_t now = clock_();

  // Only a miss pays for a promise (its shared state is a heap allocation).
  std::optional<std::promise<Result<LeafPtr>>> promise;
  {
    std::unique_lock lock(mu_);
    if (auto it = index_.find(*name); it != index_.end()) {
      if (isFresh(*it->second->leaf, now)) {
        lru_.splice(lru_.begin(), lru_, it->second);
        hits_.fetch_add(1, std::memory_order_relaxed);
        return it->second->leaf;
      }
      lru_.erase(it->second);  // near its notAfter: mint a fresh one below
      index_.erase(it);
    }
    if (auto it = in_flight_.find(*name); it != in_flight_.end()) {
      MintFuture pending = it->second;
      lock.unlock();
      coalesced_.fetch_add(1, std::memory_order_relaxed);
      return pending.get();
    }
    promise.emplace();
    in_flight_.emplace(*name, promise->get_future().share());
  }

  Result<LeafPtr> result = mint(*name, now);
  {
    std::lock_guard lock(mu_);
    in_flight_.erase(*name);
    if (result) {
      // No other thread inserts this name while it is in flight, but a stale duplicate must
      // never be left behind in the list if that ever changes.
      if (auto it = index_.find(*name); it != index_.end()) {
        lru_.erase(it->second);
        index_.erase(it);
      }
      lru_.push_front(Entry{*name, *result});
      index_.emplace(*name, lru_.begin());
      while (lru_.size() > capacity_) {
        index_.erase(lru_.back().name);
        lru_.pop_back();
        evictions_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  if (result) {
    minted_.fetch_add(1, std::memory_order_relaxed);
  } else {
    mint_failures_.fetch_add(1, std::memory_order_relaxed);
  }
  promise->set_value(result);
  return result;
}

Result<LeafCache::LeafPtr> LeafCache::mint(const std::string& name, time_t now) const {
  const time_t not_after = std::min(now + validity_seconds_, ca_->notAfter());
  if (not_after <= now) {
    return makeError("leaf", "the interception CA " + ca_->certPath() + " has expired");
  }
  bssl::UniquePtr<X509> cert(X509_new());
  X509* x = cert.get();
  // The issuer name is copied from the CA, whose subject encoding was cached at load time, so
  // concurrent mints only read it.
  if (x == nullptr || X509_set_version(x, X509_VERSION_3) != 1 ||
      X509_set_issuer_name(x, X509_get_subject_name(ca_->cert())) != 1 ||
      X509_set_pubkey(x, key_.get()) != 1) {
    return certutil::sslError("leaf", "building the leaf certificate for " + name);
  }
  if (auto r = certutil::setRandomSerial(x); !r) return r.error();
  if (auto r = certutil::setValidity(x, now - kBackdateSeconds, not_after); !r) return r.error();

  const bool has_cn = name.size() <= kMaxCommonName;
  if (has_cn) {
    if (auto r = certutil::addNameEntry(X509_get_subject_name(x), NID_commonName, name); !r) {
      return r.error();
    }
  }
  if (auto r = certutil::addBasicConstraints(x, /*is_ca=*/false, /*pathlen=*/-1); !r) {
    return r.error();
  }
  if (auto r = certutil::addKeyUsage(x, {certutil::kKuDigitalSignature}); !r) return r.error();
  if (auto r = certutil::addServerAuthEku(x); !r) return r.error();
  uint8_t ip[16];
  size_t ip_len = ipBytes(name, ip);
  // With no CN the subject is empty, and RFC 5280 §4.2.1.6 then wants the SAN critical.
  auto san = ip_len != 0 ? certutil::addSubjectAltNameIp(x, {ip, ip_len}, !has_cn)
                         : certutil::addSubjectAltNameDns(x, name, !has_cn);
  if (!san) return san.error();
  if (!ca_->subjectKeyId().empty()) {
    if (auto r = certutil::addAuthorityKeyId(x, ca_->subjectKeyId()); !r) return r.error();
  }
  if (!crl_url_.empty()) {
    if (auto r = certutil::addCrlDistributionPoint(x, crl_url_); !r) return r.error();
  }
  if (X509_sign(x, ca_->key(), EVP_sha256()) <= 0) {
    return certutil::sslError("leaf", "signing the leaf certificate for " + name);
  }

  auto der = certutil::toDerBuffer(x);
  if (!der) return der.error();
  return std::make_shared<const Leaf>(name, std::move(cert), std::move(*der),
                                      bssl::UpRef(ca_->certBuffer()), bssl::UpRef(key_), not_after);
}

}  // namespace aiw
