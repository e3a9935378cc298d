// LeafCache: the leaves it mints (names, extensions, validity, signature), its LRU and expiry,
// one mint for concurrent first requests, and a real in-memory TLS handshake with a leaf.
#include "tls/leaf_cache.h"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tls/cert_util.h"
#include "tls_test_util.h"

namespace aiw {
namespace {

using test::TempDir;

struct Fixture {
  TempDir dir;
  std::shared_ptr<const CertificateAuthority> ca;
  std::atomic<time_t> now{::time(nullptr)};

  Fixture() {
    auto loaded = CertificateAuthority::loadOrCreate(dir.file("ca.pem"), dir.file("ca.key"));
    REQUIRE_MESSAGE(loaded.ok(), loaded.error().message);
    ca = *loaded;
  }
  std::unique_ptr<LeafCache> cache(size_t capacity = 100, uint32_t days = 7) {
    LeafCacheOptions options;
    options.capacity = capacity;
    options.validity_days = days;
    options.clock = [this] { return now.load(); };
    auto c = LeafCache::create(ca, options);
    REQUIRE_MESSAGE(c.ok(), c.error().message);
    return std::move(*c);
  }
};

// BoringSSL's X509_check_host takes the length literally (0 is not "use strlen").
bool matchesHost(X509* x, std::string_view host) {
  return X509_check_host(x, host.data(), host.size(), 0, nullptr) == 1;
}

TEST_CASE("a leaf names exactly its host, is no CA, serves TLS servers and chains to the CA") {
  Fixture f;
  auto cache = f.cache();
  auto leaf = cache->get("api.openai.com");
  REQUIRE_MESSAGE(leaf.ok(), leaf.error().message);
  X509* x = (*leaf)->cert();

  CHECK((*leaf)->name() == "api.openai.com");
  CHECK(test::altNames(x) == std::vector<std::string>{"DNS:api.openai.com"});
  CHECK(test::commonName(x) == "api.openai.com");
  CHECK_FALSE(test::isCritical(x, NID_subject_alt_name));
  CHECK(matchesHost(x, "api.openai.com"));
  CHECK(!matchesHost(x, "chatgpt.com"));

  bssl::UniquePtr<BASIC_CONSTRAINTS> bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(x, NID_basic_constraints, nullptr, nullptr)));
  REQUIRE(bc);
  CHECK(bc->ca == 0);
  CHECK(test::isCritical(x, NID_basic_constraints));
  CHECK(X509_check_ca(x) == 0);
  CHECK(X509_get_key_usage(x) == KU_DIGITAL_SIGNATURE);
  CHECK(test::isCritical(x, NID_key_usage));
  CHECK(X509_get_extended_key_usage(x) == XKU_SSL_SERVER);

  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(x);
  REQUIRE(aki != nullptr);
  auto ski = f.ca->subjectKeyId();
  CHECK(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(aki)),
                    static_cast<size_t>(ASN1_STRING_length(aki))) ==
        std::string(reinterpret_cast<const char*>(ski.data()), ski.size()));
  CHECK(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(f.ca->cert())) == 0);

  auto not_before = certutil::toUnixTime(X509_get0_notBefore(x));
  auto not_after = certutil::toUnixTime(X509_get0_notAfter(x));
  REQUIRE(not_before.has_value());
  REQUIRE(not_after.has_value());
  CHECK(*not_before == f.now - 3600);
  CHECK(*not_after == f.now + 7 * 86400);
  CHECK((*leaf)->notAfter() == *not_after);

  EVP_PKEY* ca_key = X509_get_pubkey(f.ca->cert());
  CHECK(X509_verify(x, ca_key) == 1);
  EVP_PKEY_free(ca_key);
  CHECK(X509_check_private_key(x, (*leaf)->key()) == 1);
  CHECK(test::verifyAgainst(x, f.ca->cert()) == X509_V_OK);
  // Outside its validity window the same chain no longer verifies.
  CHECK(test::verifyAgainst(x, f.ca->cert(), f.now + 8 * 86400) == X509_V_ERR_CERT_HAS_EXPIRED);
  CHECK(test::verifyAgainst(x, f.ca->cert(), f.now - 7200) == X509_V_ERR_CERT_NOT_YET_VALID);
}

TEST_CASE("every mint draws a new serial; every leaf shares the cache's one key") {
  Fixture f;
  auto cache = f.cache();
  std::set<std::string> serials;
  EVP_PKEY* key = nullptr;
  for (int i = 0; i < 20; ++i) {
    auto leaf = cache->get("host" + std::to_string(i) + ".example");
    REQUIRE(leaf.ok());
    std::string serial = test::serialHex((*leaf)->cert());
    CHECK(serial.size() == 32);
    serials.insert(serial);
    if (key == nullptr) key = (*leaf)->key();
    CHECK(EVP_PKEY_cmp((*leaf)->key(), key) == 1);
  }
  CHECK(serials.size() == 20);
  CHECK(cache->minted() == 20);
}

TEST_CASE("a cached leaf is returned as is; the least recently used goes when full") {
  Fixture f;
  auto cache = f.cache(/*capacity=*/2);
  auto a = cache->get("a.example");
  auto b = cache->get("b.example");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto a_again = cache->get("A.Example.");  // the same name, normalized
  REQUIRE(a_again.ok());
  CHECK(a_again->get() == a->get());
  CHECK(cache->hits() == 1);
  CHECK(cache->minted() == 2);

  auto c = cache->get("c.example");  // b is now the least recently used
  REQUIRE(c.ok());
  CHECK(cache->evictions() == 1);
  CHECK(cache->size() == 2);
  CHECK(cache->get("a.example")->get() == a->get());
  auto b_again = cache->get("b.example");
  REQUIRE(b_again.ok());
  CHECK(b_again->get() != b->get());
  CHECK(cache->minted() == 4);
  CHECK(cache->evictions() == 2);  // c went to make room for b
}

TEST_CASE("a leaf within a day of its notAfter is minted again") {
  Fixture f;
  auto cache = f.cache(100, /*days=*/7);
  auto first = cache->get("api.anthropic.com");
  REQUIRE(first.ok());
  f.now += 5 * 86400;  // two days left: still served
  CHECK(cache->get("api.anthropic.com")->get() == first->get());
  f.now += static_cast<time_t>(86400 + 3600);  // under a day left
  auto renewed = cache->get("api.anthropic.com");
  REQUIRE(renewed.ok());
  CHECK(renewed->get() != first->get());
  CHECK((*renewed)->notAfter() == f.now + 7 * 86400);
  CHECK(cache->minted() == 2);
  CHECK(cache->evictions() == 0);
  CHECK(cache->size() == 1);

  // A one-day validity refreshes after half a day instead of on every request.
  auto short_cache = f.cache(100, /*days=*/1);
  auto one = short_cache->get("x.example");
  f.now += 3600;
  CHECK(short_cache->get("x.example")->get() == one->get());
  f.now += 12 * 3600;
  CHECK(short_cache->get("x.example")->get() != one->get());
}

TEST_CASE("a leaf never outlives the CA, and an expired CA mints nothing") {
  Fixture f;
  auto cache = f.cache(100, /*days=*/7);
  f.now = f.ca->notAfter() - 3 * 86400;
  auto late = cache->get("late.example");
  REQUIRE(late.ok());
  CHECK((*late)->notAfter() == f.ca->notAfter());
  f.now = f.ca->notAfter() + 1;
  auto none = cache->get("later.example");
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == "leaf");
  CHECK(cache->mintFailures() == 1);
}

TEST_CASE("an IP literal gets an iPAddress SAN") {
  Fixture f;
  auto cache = f.cache();
  auto v4 = cache->get("127.0.0.1");
  REQUIRE(v4.ok());
  CHECK(test::altNames((*v4)->cert()) == std::vector<std::string>{"IP:4 bytes"});
  CHECK(X509_check_ip_asc((*v4)->cert(), "127.0.0.1", 0) == 1);
  CHECK(!matchesHost((*v4)->cert(), "127.0.0.1"));

  auto v6 = cache->get("[::0:1]");
  REQUIRE(v6.ok());
  CHECK((*v6)->name() == "::1");
  CHECK(test::altNames((*v6)->cert()) == std::vector<std::string>{"IP:16 bytes"});
  CHECK(X509_check_ip_asc((*v6)->cert(), "::1", 0) == 1);
  CHECK(cache->get("::1")->get() == v6->get());
  CHECK(test::verifyAgainst((*v6)->cert(), f.ca->cert()) == X509_V_OK);
}

TEST_CASE("a name longer than 64 characters goes in a critical SAN with no CN") {
  Fixture f;
  auto cache = f.cache();
  const std::string name = std::string(60, 'a') + ".example.com";
  auto leaf = cache->get(name);
  REQUIRE(leaf.ok());
  CHECK(test::commonName((*leaf)->cert()).empty());
  CHECK(test::altNames((*leaf)->cert()) == std::vector<std::string>{"DNS:" + name});
  CHECK(test::isCritical((*leaf)->cert(), NID_subject_alt_name));
  CHECK(test::verifyAgainst((*leaf)->cert(), f.ca->cert()) == X509_V_OK);
}

TEST_CASE("names that are not hosts are refused without minting") {
  Fixture f;
  auto cache = f.cache();
  const std::string long_label = std::string(64, 'a') + ".com";
  std::string too_long;
  while (too_long.size() < 254) too_long += "abcdefgh.";
  too_long += "com";
  for (std::string bad :
       {std::string(""), std::string("."), std::string("a..b"), std::string("*.example.com"),
        std::string("exa mple.com"), std::string("a/b"), std::string("1:2:3"),
        std::string("fe80::1%eth0"), long_label, too_long, std::string("caf\xc3\xa9.com")}) {
    CAPTURE(bad);
    auto leaf = cache->get(bad);
    REQUIRE_FALSE(leaf.ok());
    CHECK(leaf.error().code == "bad_host");
  }
  CHECK(cache->minted() == 0);
  CHECK(LeafCache::normalizeHost("API.OpenAI.com.").value() == "api.openai.com");
  CHECK(LeafCache::normalizeHost("bedrock_runtime.x-y.aws").value() == "bedrock_runtime.x-y.aws");
}

TEST_CASE("eight threads asking for one new name mint it once") {
  Fixture f;
  auto cache = f.cache();
  for (int round = 0; round < 20; ++round) {
    const std::string name = "race" + std::to_string(round) + ".example";
    std::atomic<int> ready{0};
    std::vector<LeafCache::LeafPtr> got(8);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < 8) std::this_thread::yield();
        auto leaf = cache->get(name);
        if (leaf.ok()) got[static_cast<size_t>(t)] = *leaf;
      });
    }
    for (auto& th : threads) th.join();
    for (const auto& leaf : got) {
      REQUIRE(leaf != nullptr);
      CHECK(leaf.get() == got[0].get());
    }
  }
  CHECK(cache->minted() == 20);
  CHECK(cache->hits() + cache->coalesced() == 20 * 7);
}

// Runs a TLS handshake in memory: a server presenting `leaf`, a client trusting only `ca` and
// checking the peer against `expected` (a host name, or an IP literal when `ip`).
struct Handshake {
  bool ok = false;
  long verify_result = -1;
  size_t chain_length = 0;
};

Handshake handshake(const Leaf& leaf, X509* ca, const std::string& expected, bool ip,
                    uint16_t max_version = TLS1_3_VERSION) {
  Handshake out;
  bssl::UniquePtr<SSL_CTX> server_ctx(SSL_CTX_new(TLS_method()));
  bssl::UniquePtr<SSL_CTX> client_ctx(SSL_CTX_new(TLS_method()));
  REQUIRE(server_ctx);
  REQUIRE(client_ctx);
  REQUIRE(X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx.get()), ca) == 1);
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);
  REQUIRE(SSL_CTX_set_max_proto_version(client_ctx.get(), max_version) == 1);

  bssl::UniquePtr<SSL> server(SSL_new(server_ctx.get()));
  bssl::UniquePtr<SSL> client(SSL_new(client_ctx.get()));
  REQUIRE(server);
  REQUIRE(client);
  auto applied = leaf.applyTo(server.get());
  REQUIRE_MESSAGE(applied.ok(), applied.error().message);
  SSL_set_accept_state(server.get());
  SSL_set_connect_state(client.get());
  X509_VERIFY_PARAM* param = SSL_get0_param(client.get());
  if (ip) {
    REQUIRE(X509_VERIFY_PARAM_set1_ip_asc(param, expected.c_str()) == 1);
  } else {
    REQUIRE(SSL_set_tlsext_host_name(client.get(), expected.c_str()) == 1);
    REQUIRE(X509_VERIFY_PARAM_set1_host(param, expected.data(), expected.size()) == 1);
  }

  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  REQUIRE(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) == 1);
  SSL_set_bio(client.get(), client_bio, client_bio);  // each SSL takes its end's reference
  SSL_set_bio(server.get(), server_bio, server_bio);

  bool client_done = false;
  bool server_done = false;
  for (int i = 0; i < 50 && !(client_done && server_done); ++i) {
    if (!client_done) {
      int rc = SSL_do_handshake(client.get());
      int err = SSL_get_error(client.get(), rc);
      if (rc == 1) {
        client_done = true;
      } else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        break;
      }
    }
    if (!server_done) {
      int rc = SSL_do_handshake(server.get());
      int err = SSL_get_error(server.get(), rc);
      if (rc == 1) {
        server_done = true;
      } else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        break;
      }
    }
  }
  ERR_clear_error();
  out.ok = client_done && server_done;
  out.verify_result = SSL_get_verify_result(client.get());
  if (const STACK_OF(CRYPTO_BUFFER)* chain = SSL_get0_peer_certificates(client.get())) {
    out.chain_length = sk_CRYPTO_BUFFER_num(chain);
  }
  return out;
}

TEST_CASE("a TLS client trusting the CA accepts the leaf for its name and only for it") {
  Fixture f;
  auto cache = f.cache();
  auto leaf = cache->get("api.openai.com");
  REQUIRE(leaf.ok());

  for (uint16_t version : {uint16_t{TLS1_3_VERSION}, uint16_t{TLS1_2_VERSION}}) {
    CAPTURE(version);
    Handshake good = handshake(**leaf, f.ca->cert(), "api.openai.com", false, version);
    CHECK(good.ok);
    CHECK(good.verify_result == X509_V_OK);
    CHECK(good.chain_length == 2);  // leaf + CA
  }

  Handshake wrong = handshake(**leaf, f.ca->cert(), "api.anthropic.com", false);
  CHECK_FALSE(wrong.ok);
  CHECK(wrong.verify_result == X509_V_ERR_HOSTNAME_MISMATCH);

  // A client that trusts another CA refuses the leaf.
  TempDir other_dir;
  auto other =
      CertificateAuthority::loadOrCreate(other_dir.file("ca.pem"), other_dir.file("ca.key"));
  REQUIRE(other.ok());
  Handshake untrusted = handshake(**leaf, (*other)->cert(), "api.openai.com", false);
  CHECK_FALSE(untrusted.ok);
  CHECK(untrusted.verify_result != X509_V_OK);
}

TEST_CASE("a TLS client checking an IP address accepts the IP literal's leaf") {
  Fixture f;
  auto cache = f.cache();
  auto leaf = cache->get("127.0.0.1");
  REQUIRE(leaf.ok());
  Handshake good = handshake(**leaf, f.ca->cert(), "127.0.0.1", true);
  CHECK(good.ok);
  CHECK(good.verify_result == X509_V_OK);
  Handshake wrong = handshake(**leaf, f.ca->cert(), "127.0.0.2", true);
  CHECK_FALSE(wrong.ok);
  CHECK(wrong.verify_result == X509_V_ERR_IP_ADDRESS_MISMATCH);
}

}  // namespace
}  // namespace aiw
