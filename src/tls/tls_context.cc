#include "tls/tls_context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>

namespace aiw {

namespace {

constexpr const char* kSystemBundle = "/etc/ssl/certs/ca-certificates.crt";
constexpr size_t kSessionCacheHosts = 1024;

// TLS 1.2 suites: forward secrecy and AEAD only (strict: an unknown name is an error).
constexpr const char* kServerCiphers12 =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";

// The client's resumable sessions, one per host, least recently stored evicted first.
// Locking: mu_ guards everything; held only for map operations (never across BoringSSL calls
// that could call back).
class ClientSessionCache {
 public:
  void store(const std::string& host, SSL_SESSION* session) {  // takes the reference
    bssl::UniquePtr<SSL_SESSION> owned(session);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(host);
    if (it != index_.end()) {
      it->second->session = std::move(owned);
      lru_.splice(lru_.begin(), lru_, it->second);
      return;
    }
    lru_.push_front(Entry{host, std::move(owned)});
    index_[host] = lru_.begin();
    if (lru_.size() > kSessionCacheHosts) {
      index_.erase(lru_.back().host);
      lru_.pop_back();
    }
  }

  // The session to offer to `host`, or null. TLS 1.3 sessions are single-use (RFC 8446 C.4:
  // reuse lets a network observer link connections): those leave the cache when taken.
  bssl::UniquePtr<SSL_SESSION> take(const std::string& host) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(host);
    if (it == index_.end()) return nullptr;
    SSL_SESSION* s = it->second->session.get();
    if (SSL_SESSION_should_be_single_use(s)) {
      bssl::UniquePtr<SSL_SESSION> out = std::move(it->second->session);
      lru_.erase(it->second);
      index_.erase(it);
      return out;
    }
    SSL_SESSION_up_ref(s);
    return bssl::UniquePtr<SSL_SESSION>(s);
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lru_.size();
  }

 private:
  struct Entry {
    std::string host;
    bssl::UniquePtr<SSL_SESSION> session;
  };
  mutable std::mutex mu_;
  std::list<Entry> lru_;
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

void freeFacts(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) noexcept {
  delete static_cast<TlsConnFacts*>(ptr);
}
void freeAlpn(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) noexcept {
  delete static_cast<std::vector<std::string>*>(ptr);
}
void freeCache(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) noexcept {
  delete static_cast<ClientSessionCache*>(ptr);
}

// ex_data indices, registered once per process (thread-safe static initialization).
int factsIndex() {
  static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, freeFacts);
  return idx;
}
int alpnIndex() {
  static const int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, freeAlpn);
  return idx;
}
int cacheIndex() {
  static const int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, freeCache);
  return idx;
}

TlsConnFacts* mutableFacts(const SSL* ssl) {
  if (ssl == nullptr || factsIndex() < 0) return nullptr;
  return static_cast<TlsConnFacts*>(SSL_get_ex_data(ssl, factsIndex()));
}

// Server preference: our first protocol that the client offers. `in` is the client's list, which
// BoringSSL has already checked to be well-formed; it is parsed defensively all the same.
int selectAlpn(SSL* ssl, const uint8_t** out, uint8_t* out_len, const uint8_t* in, unsigned in_len,
               void*) noexcept {
  const auto* ours = static_cast<const std::vector<std::string>*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), alpnIndex()));
  if (ours == nullptr) return SSL_TLSEXT_ERR_NOACK;
  for (const std::string& want : *ours) {
    for (unsigned i = 0; i < in_len;) {
      unsigned len = in[i];
      if (len == 0 || i + 1 + len > in_len) break;
      if (len == want.size() && std::memcmp(in + i + 1, want.data(), len) == 0) {
        *out = in + i + 1;  // points into the client's list, which outlives the callback
        *out_len = static_cast<uint8_t>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// Records the first verification failure (code and depth) for the error message; the verdict
// stays BoringSSL's own.
int recordVerify(int ok, X509_STORE_CTX* store) noexcept {
  if (ok) return ok;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  TlsConnFacts* facts = mutableFacts(ssl);
  if (facts != nullptr && facts->verify_error == X509_V_OK) {
    facts->verify_error = X509_STORE_CTX_get_error(store);
    facts->verify_depth = X509_STORE_CTX_get_error_depth(store);
  }
  return ok;
}

// A new session from an origin: cached under the connection's host. Returns 1: the cache took
// the reference.
int storeSession(SSL* ssl, SSL_SESSION* session) noexcept {
  auto* cache =
      static_cast<ClientSessionCache*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), cacheIndex()));
  const TlsConnFacts* facts = mutableFacts(ssl);
  if (cache == nullptr || facts == nullptr || facts->host.empty()) return 0;
  cache->store(facts->host, session);
  return 1;
}

std::string lowerWithSpaces(const char* s) {
  std::string out(s);
  for (char& c : out) {
    c = c == '_' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bssl::UniquePtr<SSL_CTX> newBaseContext() {
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return nullptr;
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1) {
    return nullptr;
  }
  // The transport's BIO never blocks a write, but a retried SSL_write may see its buffer move.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

size_t countTrusted(SSL_CTX* ctx) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  STACK_OF(X509_OBJECT)* objs = store ? X509_STORE_get0_objects(store) : nullptr;
  return objs ? sk_X509_OBJECT_num(objs) : 0;
}

Result<void> loadTrust(SSL_CTX* ctx, const std::string& ca_file) {
  if (ca_file == "system") {
    if (SSL_CTX_load_verify_locations(ctx, kSystemBundle, nullptr) == 1 && countTrusted(ctx) > 0) {
      return {};
    }
    ERR_clear_error();
    // No bundle file: BoringSSL's default file and hashed directory. Directory lookups load
    // lazily, so emptiness cannot be checked here; an empty one fails every upstream loudly.
    if (SSL_CTX_set_default_verify_paths(ctx) == 1) return {};
    return makeError("config", "cannot load the system CA bundle (" +
                                   takeTlsErrorReason("no bundle found") + ")");
  }
  if (ca_file.empty()) return makeError("config", "the CA file name is empty");
  std::FILE* f = std::fopen(ca_file.c_str(), "rb");
  if (f == nullptr) {
    return makeError("config", ca_file + ": " + std::strerror(errno));
  }
  std::fclose(f);
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    return makeError("config", ca_file + ": " +
                                   takeTlsErrorReason("no PEM certificate found"));
  }
  if (countTrusted(ctx) == 0) {
    return makeError("config", ca_file + ": no certificate in the file");
  }
  return {};
}

bool isIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

const TlsConnFacts* tlsConnFacts(const SSL* ssl) { return mutableFacts(ssl); }

std::string verifyFailureMessage(long code, int depth, std::string_view host) {
  if (code == X509_V_ERR_HOSTNAME_MISMATCH) {
    return "hostname mismatch: the certificate is not valid for " + std::string(host);
  }
  if (code == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    return "hostname mismatch: the certificate is not valid for the IP address " +
           std::string(host);
  }
  std::string msg =
      std::string("certificate verify failed: ") + X509_verify_cert_error_string(code);
  if (depth >= 0) msg += " (depth " + std::to_string(depth) + ")";
  return msg;
}

std::string takeTlsErrorReason(std::string_view fallback) {
  uint32_t packed = ERR_get_error();
  ERR_clear_error();
  if (packed == 0) return std::string(fallback);
  int reason = ERR_GET_REASON(packed);
  if (ERR_GET_LIB(packed) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET) {
    return std::string("peer sent alert: ") +
           SSL_alert_desc_string_long(reason - SSL_AD_REASON_OFFSET);
  }
  const char* text = ERR_reason_error_string(packed);
  return text ? lowerWithSpaces(text) : std::string(fallback);
}

Result<std::string> alpnWireFormat(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const std::string& p : protocols) {
    if (p.empty() || p.size() > 255) {
      return makeError("config", "ALPN protocol names must be 1 to 255 bytes");
    }
    wire.push_back(static_cast<char>(p.size()));
    wire += p;
  }
  return wire;
}

// ---- server ----------------------------------------------------------------------------------

Result<std::shared_ptr<const TlsServerContext>> TlsServerContext::create(
    std::vector<std::string> alpn) {
  ERR_clear_error();
  auto wire = alpnWireFormat(alpn);
  if (!wire.ok()) return wire.error();
  bssl::UniquePtr<SSL_CTX> ctx = newBaseContext();
  if (!ctx || alpnIndex() < 0 || SSL_CTX_set_strict_cipher_list(ctx.get(), kServerCiphers12) != 1) {
    return makeError("tls", "cannot create the server TLS context: " + takeTlsErrorReason("?"));
  }
  static const uint8_t kSidContext[] = "aiwarden";
  if (SSL_CTX_set_session_id_context(ctx.get(), kSidContext, sizeof(kSidContext) - 1) != 1) {
    return makeError("tls", "cannot set the session id context: " + takeTlsErrorReason("?"));
  }
  // Tickets resume (BoringSSL rotates their keys itself); no stateful cache to share.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  // TLS 1.2: our order (kServerCiphers12, every one AEAD with forward secrecy) decides, not the
  // client's. TLS 1.3 suites are all AEAD; BoringSSL orders them itself by hardware AES support.
  SSL_CTX_set_options(ctx.get(), SSL_OP_CIPHER_SERVER_PREFERENCE);
  auto* list = new std::vector<std::string>(alpn);
  if (SSL_CTX_set_ex_data(ctx.get(), alpnIndex(), list) != 1) {
    delete list;
    return makeError("tls", "cannot attach the ALPN list: " + takeTlsErrorReason("?"));
  }
  SSL_CTX_set_alpn_select_cb(ctx.get(), selectAlpn, nullptr);
  return std::make_shared<const TlsServerContext>(std::move(ctx), std::move(alpn));
}

Result<bssl::UniquePtr<SSL>> TlsServerContext::newSsl() const {
  ERR_clear_error();
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx_.get()));
  if (!ssl) return makeError("tls", "SSL_new failed: " + takeTlsErrorReason("out of memory"));
  SSL_set_accept_state(ssl.get());
  return ssl;
}

Result<void> installServerCertificate(SSL* ssl, X509* leaf, EVP_PKEY* key, X509* chain) {
  ERR_clear_error();
  if (ssl == nullptr || leaf == nullptr || key == nullptr) {
    return makeError("tls_certificate", "missing certificate or key");
  }
  if (SSL_use_certificate(ssl, leaf) != 1 || SSL_use_PrivateKey(ssl, key) != 1 ||
      (chain != nullptr && SSL_add1_chain_cert(ssl, chain) != 1) ||
      SSL_check_private_key(ssl) != 1) {
    return makeError("tls_certificate", "cannot install the certificate: " +
                                            takeTlsErrorReason("rejected by BoringSSL"));
  }
  return {};
}

// ---- client ----------------------------------------------------------------------------------

Result<std::shared_ptr<const TlsClientContext>> TlsClientContext::create(
    const std::string& ca_file, std::vector<std::string> alpn) {
  ERR_clear_error();
  auto wire = alpnWireFormat(alpn);
  if (!wire.ok()) return wire.error();
  bssl::UniquePtr<SSL_CTX> ctx = newBaseContext();
  if (!ctx || cacheIndex() < 0 || factsIndex() < 0) {
    return makeError("tls", "cannot create the client TLS context: " + takeTlsErrorReason("?"));
  }
  auto trust = loadTrust(ctx.get(), ca_file);
  if (!trust.ok()) return trust.error();
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, recordVerify);
  // Unlike its OpenSSL namesake this returns 0 on success.
  if (!wire->empty() &&
      SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const uint8_t*>(wire->data()),
                              wire->size()) != 0) {
    return makeError("tls", "cannot set the ALPN offer: " + takeTlsErrorReason("?"));
  }
  auto* cache = new ClientSessionCache();
  if (SSL_CTX_set_ex_data(ctx.get(), cacheIndex(), cache) != 1) {
    delete cache;
    return makeError("tls", "cannot attach the session cache: " + takeTlsErrorReason("?"));
  }
  // Client mode without the internal cache: new sessions go to storeSession only.
  SSL_CTX_set_session_cache_mode(ctx.get(),
                                 SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx.get(), storeSession);
  return std::make_shared<const TlsClientContext>(std::move(ctx));
}

Result<bssl::UniquePtr<SSL>> TlsClientContext::newSsl(std::string_view host_in) const {
  ERR_clear_error();
  std::string host(host_in);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (host.empty()) return makeError("bad_host", "no host name to verify the upstream against");
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

  bssl::UniquePtr<SSL> ssl(SSL_new(ctx_.get()));
  if (!ssl) return makeError("tls", "SSL_new failed: " + takeTlsErrorReason("out of memory"));
  auto* facts = new TlsConnFacts();
  facts->host = host;
  if (SSL_set_ex_data(ssl.get(), factsIndex(), facts) != 1) {
    delete facts;
    return makeError("tls", "cannot attach connection facts: " + takeTlsErrorReason("?"));
  }
  SSL_set_connect_state(ssl.get());
  SSL_set_renegotiate_mode(ssl.get(), ssl_renegotiate_never);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  bool ok;
  if (isIpLiteral(host)) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;  // no SNI for IPs (RFC 6066)
  } else {
    // BoringSSL never accepts partial wildcards ("f*.example.com"), so no host flags are needed.
    ok = X509_VERIFY_PARAM_set1_host(param, host.data(), host.size()) == 1 &&
         SSL_set_tlsext_host_name(ssl.get(), host.c_str()) == 1;
  }
  if (!ok) {
    return makeError("bad_host", "cannot verify against '" + host +
                                     "': " + takeTlsErrorReason("rejected by BoringSSL"));
  }
  auto* cache = static_cast<ClientSessionCache*>(SSL_CTX_get_ex_data(ctx_.get(), cacheIndex()));
  if (cache != nullptr) {
    bssl::UniquePtr<SSL_SESSION> session = cache->take(host);
    if (session && SSL_set_session(ssl.get(), session.get()) != 1) {
      ERR_clear_error();  // an unusable session only costs the resumption
    }
  }
  return ssl;
}

size_t TlsClientContext::cachedSessions() const {
  auto* cache = static_cast<ClientSessionCache*>(SSL_CTX_get_ex_data(ctx_.get(), cacheIndex()));
  return cache ? cache->size() : 0;
}

}  // namespace aiw
