// LeafCache: the leaf certificates presented to intercepted clients (SPEC §4 forward listener),
// minted per name by the local CertificateAuthority and kept in a bounded LRU.
//
// A leaf names exactly one host: SAN = that dNSName (or iPAddress for an IP literal), CN = the
// name when it fits X.520's 64 characters, CA:FALSE, keyUsage digitalSignature, EKU serverAuth,
// authorityKeyIdentifier = the CA's SKI, a random 128-bit serial, valid from one hour ago (clock
// skew) to `validity_days` ahead (never past the CA's own notAfter), ECDSA-SHA256.
//
// Shared by every worker thread (one per process). Locking: one mutex guards the LRU and the
// in-flight table; it is never held while minting or while waiting for another thread's mint.
// Counters are relaxed atomics.
#pragma once

#include <openssl/base.h>
#include <openssl/evp.h>
#include <openssl/pool.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <cstdint>
#include <ctime>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/result.h"
#include "tls/certificate_authority.h"

namespace aiw {

// One minted leaf with its chain, ready to install on any number of SSL objects (concurrently:
// installing only takes references). Immutable.
class Leaf {
 public:
  Leaf(std::string name, bssl::UniquePtr<X509> cert, bssl::UniquePtr<CRYPTO_BUFFER> cert_der,
       bssl::UniquePtr<CRYPTO_BUFFER> ca_der, bssl::UniquePtr<EVP_PKEY> key, time_t not_after);

  // The normalized host name or IP literal the leaf was minted for (the cache key).
  const std::string& name() const { return name_; }
  X509* cert() const { return cert_.get(); }
  EVP_PKEY* key() const { return key_.get(); }
  time_t notAfter() const { return not_after_; }

  // Installs the chain (leaf, then the CA: clients that trust the CA need nothing else) and the
  // key on a server SSL before its handshake runs, or from its certificate callback. Uses the
  // CRYPTO_BUFFER API: the DER is shared by reference, nothing is re-encoded per connection.
  Result<void> applyTo(SSL* ssl) const;

 private:
  std::string name_;
  bssl::UniquePtr<X509> cert_;
  bssl::UniquePtr<CRYPTO_BUFFER> cert_der_;
  bssl::UniquePtr<CRYPTO_BUFFER> ca_der_;
  bssl::UniquePtr<EVP_PKEY> key_;  // the cache's one key pair, shared by reference count
  time_t not_after_;
};

struct LeafCacheOptions {
  size_t capacity = 10000;        // leaves kept; the least recently used goes first (min 1)
  uint32_t validity_days = 7;     // interception.leaf_validity_days (min 1)
  std::string crl_url;            // the leaves' cRLDistributionPoint; empty: none
  std::function<time_t()> clock;  // empty: time(nullptr); tests pass a fake clock
};

class LeafCache {
 public:
  using LeafPtr = std::shared_ptr<const Leaf>;

  // Generates the cache's leaf key pair. Fails only if BoringSSL cannot.
  static Result<std::unique_ptr<LeafCache>> create(std::shared_ptr<const CertificateAuthority> ca,
                                                   LeafCacheOptions options = {});

  // The leaf for `host` (a DNS name or an IP literal, IPv6 with or without brackets; normalized
  // by normalizeHost). Runs on a worker thread when an intercepted client's ClientHello has
  // named the host. A cached leaf is returned as is (the same pointer) unless it is within
  // refresh margin of its notAfter (one day, or half the validity if that is shorter), when it
  // is minted again. A name no thread has minted yet is minted once: threads asking for it
  // meanwhile wait for that one mint (a few tens of microseconds) and share its result.
  // Errors: "bad_host" for a name that is not a valid host, "leaf" if minting fails (the
  // failure is not cached: the next call tries again).
  Result<LeafPtr> get(std::string_view host);

  // Lower-cases, strips IPv6 brackets and one trailing dot, gives IP literals their canonical
  // text (so "::0:1" and "::1" share a leaf); refuses what is not a DNS name or IP literal
  // (empty, over 253 characters, labels over 63, characters other than letters, digits, '-',
  // '_' and '.', wildcards).
  static Result<std::string> normalizeHost(std::string_view host);

  uint64_t minted() const { return minted_.load(std::memory_order_relaxed); }
  // Served from the cache without minting.
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  // Served by waiting for another thread's mint of the same name.
  uint64_t coalesced() const { return coalesced_.load(std::memory_order_relaxed); }
  // Dropped because the cache was full (not counting expired leaves replaced).
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }
  uint64_t mintFailures() const { return mint_failures_.load(std::memory_order_relaxed); }
  size_t size() const;
  size_t capacity() const { return capacity_; }

 private:
  LeafCache(std::shared_ptr<const CertificateAuthority> ca, LeafCacheOptions options,
            bssl::UniquePtr<EVP_PKEY> key);
  // Builds and signs one leaf; thread-safe (reads the CA and the key only), no lock held.
  Result<LeafPtr> mint(const std::string& name, time_t now) const;
  bool isFresh(const Leaf& leaf, time_t now) const {
    return now + refresh_margin_ < leaf.notAfter();
  }

  struct Entry {
    std::string name;
    LeafPtr leaf;
  };
  using MintFuture = std::shared_future<Result<LeafPtr>>;

  const std::shared_ptr<const CertificateAuthority> ca_;
  const size_t capacity_;
  const time_t validity_seconds_;
  const time_t refresh_margin_;
  const std::function<time_t()> clock_;
  const std::string crl_url_;
  // One key pair for every leaf: a fresh P-256 key per name would double the cost of a mint
  // for no gain, since every leaf is signed by the same local CA and lives in this process only
  // (which is also where a per-name key would live). A mint is then a single ECDSA signature.
  const bssl::UniquePtr<EVP_PKEY> key_;

  mutable std::mutex mu_;
  std::list<Entry> lru_;                                               // front: most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // name -> node in lru_
  std::unordered_map<std::string, MintFuture> in_flight_;              // names being minted now

  std::atomic<uint64_t> minted_{0};
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> coalesced_{0};
  std::atomic<uint64_t> evictions_{0};
  std::atomic<uint64_t> mint_failures_{0};
};

}  // namespace aiw
