// TLS transport failures: verification (unknown CA, wrong host, IP literals), garbage and old
// protocol versions toward the server, and rejected context configuration.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "unit/tls/tls_test_peer.h"

namespace aiw::test {
namespace {

struct Attempt {
  TlsTestLoop loop;
  TlsFixture fx;
  Peer server{loop.base(), 1};
  Peer client{loop.base(), 2};

  // Connects with `host` (through `ctx` if given) and runs until both ends have ended.
  void run(const std::string& host, const TlsClientContext* ctx = nullptr) {
    SocketPair sp = makeSocketBevs(loop.base());
    client.attach(fx.client(std::move(sp.b), host, ctx));
    server.attach(fx.server(std::move(sp.a)));
    REQUIRE(loop.runUntil([&] { return client.events > 0 && server.events > 0; }));
  }
};

std::string failureText(Peer& p) {
  TlsSession* s = p.tls();
  return s && s->failure() ? s->failure()->code + ": " + s->failure()->message : "";
}

TEST_CASE("a certificate for another host fails with a hostname mismatch") {
  Attempt a;
  a.run("evil.test");
  CHECK(a.client.error);
  CHECK_FALSE(a.client.connected);
  CHECK_FALSE(a.server.connected);
  CHECK(a.server.error);
  std::string why = failureText(a.client);
  INFO(why);
  CHECK(a.client.tls()->failure()->code == "tls_hostname_mismatch");
  CHECK(why.find("hostname mismatch") != std::string::npos);
  CHECK(why.find("evil.test") != std::string::npos);
  // The server learns it from the client's alert.
  INFO(failureText(a.server));
  CHECK(a.server.tls()->failure()->code == "tls_handshake_failed");
  CHECK(failureText(a.server).find("alert") != std::string::npos);
}

TEST_CASE("an unknown CA fails verification with the reason and depth") {
  Attempt a;
  TestCert other = makeCa("someone else's CA");
  TempFile other_file(toPem(other.cert.get()));
  auto ctx = TlsFixture::mustClient(other_file.path(), {"http/1.1"});
  std::string expected;
  SUBCASE("the server presents leaf and CA") {
    a.run("good.test", ctx.get());
    expected = "certificate verify failed: self signed certificate in certificate chain (depth 1)";
  }
  SUBCASE("the server presents the leaf alone") {
    a.fx.send_chain = false;
    a.run("good.test", ctx.get());
    expected = "certificate verify failed: unable to get local issuer certificate (depth 0)";
  }
  CHECK(a.client.error);
  CHECK(a.server.error);
  INFO(failureText(a.client));
  CHECK(a.client.tls()->failure()->code == "tls_verify_failed");
  CHECK(a.client.tls()->failure()->message == expected);
}

TEST_CASE("an expired certificate fails verification") {
  Attempt a;
  TestCert expired = makeCert("good.test", &a.fx.ca, false, {"DNS:good.test"}, -30, -1);
  SocketPair sp = makeSocketBevs(a.loop.base());
  a.client.attach(a.fx.client(std::move(sp.b)));
  a.server.attach(a.fx.server(std::move(sp.a), &expired));
  REQUIRE(a.loop.runUntil([&] { return a.client.events > 0; }));
  INFO(failureText(a.client));
  CHECK(failureText(a.client).find("certificate has expired") != std::string::npos);
}

TEST_CASE("IP literals are checked against IP SANs, without SNI") {
  SUBCASE("a matching IP SAN") {
    Attempt a;
    SocketPair sp = makeSocketBevs(a.loop.base());
    a.client.attach(a.fx.client(std::move(sp.b), "127.0.0.1"));
    a.server.attach(a.fx.server(std::move(sp.a)));
    REQUIRE(a.loop.runUntil([&] { return a.client.connected && a.server.connected; }));
    CHECK(SSL_get_servername(a.server.tls()->ssl(), TLSEXT_NAMETYPE_host_name) == nullptr);
    CHECK(a.client.tls()->host() == "127.0.0.1");
  }
  SUBCASE("an IP the certificate does not name") {
    Attempt a;
    a.run("[::1]");
    INFO(failureText(a.client));
    CHECK(a.client.tls()->failure()->code == "tls_hostname_mismatch");
    CHECK(failureText(a.client).find("::1") != std::string::npos);
  }
}

// Runs the server against raw bytes written on the other end of the socket pair.
void expectGarbageRefused(const std::string& bytes) {
  TlsTestLoop loop;
  TlsFixture fx;
  UniqueFd raw;
  SocketPair sp = makeSocketBevs(loop.base(), &raw);
  Peer server(loop.base(), 1);
  server.attach(fx.server(std::move(sp.a)));
  REQUIRE(::write(raw.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  REQUIRE(loop.runUntil([&] { return server.events > 0; }));
  CHECK(server.error);
  CHECK_FALSE(server.connected);
  INFO(failureText(server));
  CHECK(server.tls()->failure()->code == "tls_handshake_failed");
  loop.runFor(std::chrono::milliseconds(20));
  CHECK(server.events == 1);
}

TEST_CASE("garbage toward the server is an error event, not a crash") {
  SUBCASE("plain HTTP") { expectGarbageRefused("GET / HTTP/1.1\r\nHost: good.test\r\n\r\n"); }
  SUBCASE("a handshake record full of noise") {
    std::string noise = "\x16\x03\x01\x00\x40";
    for (int i = 0; i < 0x40; ++i) noise.push_back(static_cast<char>(i * 37));
    expectGarbageRefused(noise);
  }
  SUBCASE("an oversized record length") {
    expectGarbageRefused(std::string("\x16\x03\x03\xff\xff", 5));
  }
}

TEST_CASE("garbage already buffered when wrapping makes wrapTlsServer fail") {
  TlsTestLoop loop;
  TlsFixture fx;
  UniqueFd raw;
  SocketPair sp = makeSocketBevs(loop.base(), &raw);
  std::string bytes = "SSH-2.0-OpenSSH_9.2\r\n";
  REQUIRE(::write(raw.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  bufferevent_enable(sp.a.get(), EV_READ);
  REQUIRE(
      loop.runUntil([&] { return evbuffer_get_length(bufferevent_get_input(sp.a.get())) > 0; }));
  auto tls = wrapTlsServer(std::move(sp.a), *fx.server_ctx, fx.leaf.cert.get(), fx.leaf.key.get(),
                           fx.ca.cert.get());
  REQUIRE_FALSE(tls.ok());
  CHECK(tls.error().code == "tls_handshake_failed");
}

TEST_CASE("the peer closing mid-handshake is a handshake failure") {
  TlsTestLoop loop;
  TlsFixture fx;
  UniqueFd raw;
  SocketPair sp = makeSocketBevs(loop.base(), &raw);
  Peer client(loop.base(), 2);
  client.attach(fx.client(std::move(sp.a)));
  // The "origin" reads the ClientHello and hangs up (having read it: a FIN, not a reset).
  char hello[4096];
  REQUIRE(loop.runUntil([&] { return ::read(raw.get(), hello, sizeof(hello)) > 0; }));
  raw.reset();
  REQUIRE(loop.runUntil([&] { return client.events > 0; }));
  CHECK(client.error);
  CHECK_FALSE(client.eof);
  INFO(failureText(client));
  CHECK(client.tls()->failure()->code == "tls_handshake_failed");
  CHECK(client.tls()->failure()->message == "connection closed during the TLS handshake");
}

TEST_CASE("a reset from the peer is an error naming the socket's reason") {
  TlsTestLoop loop;
  TlsFixture fx;
  Peer server(loop.base(), 1), client(loop.base(), 2);
  SocketPair sp = makeTcpBevs(loop.base());
  client.attach(fx.client(std::move(sp.b)));
  server.attach(fx.server(std::move(sp.a)));
  REQUIRE(loop.runUntil([&] { return server.connected && client.connected; }));
  linger hard{1, 0};  // close() sends RST
  REQUIRE(::setsockopt(bufferevent_getfd(server.bev()), SOL_SOCKET, SO_LINGER, &hard,
                       sizeof(hard)) == 0);
  server.take().reset();
  REQUIRE(loop.runUntil([&] { return client.events > 0; }));
  CHECK(client.error);
  INFO(failureText(client));
  CHECK(client.tls()->failure()->code == "tls_io_error");
  CHECK(failureText(client).find("reset") != std::string::npos);
}

TEST_CASE("a TLS 1.1-only client is refused") {
  TlsTestLoop loop;
  TlsFixture fx;
  UniqueFd raw;
  SocketPair sp = makeSocketBevs(loop.base(), &raw);
  Peer server(loop.base(), 1);
  server.attach(fx.server(std::move(sp.a)));

  std::atomic<int> client_result{99};
  int fd = raw.release();
  std::thread old_client([fd, &client_result] {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
    int r = -100;
    if (ctx && SSL_CTX_set_min_proto_version(ctx.get(), TLS1_1_VERSION) == 1 &&
        SSL_CTX_set_max_proto_version(ctx.get(), TLS1_1_VERSION) == 1) {
      bssl::UniquePtr<SSL> ssl(SSL_new(ctx.get()));
      if (ssl && SSL_set_fd(ssl.get(), fd) == 1) r = SSL_connect(ssl.get());
    }
    ::close(fd);
    client_result = r;
  });
  bool ended = loop.runUntil([&] { return server.events > 0; });
  old_client.join();
  REQUIRE(ended);
  CHECK(client_result.load() != 1);
  CHECK(client_result.load() != -100);
  CHECK(server.error);
  CHECK_FALSE(server.connected);
  INFO(failureText(server));
  CHECK(failureText(server).find("protocol") != std::string::npos);
}

TEST_CASE("client contexts refuse a missing, empty or certificate-less CA bundle") {
  auto missing = TlsClientContext::create("/nonexistent/ca.pem", {"http/1.1"});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == "config");
  CHECK(missing.error().message.find("/nonexistent/ca.pem") != std::string::npos);

  TempFile empty("");
  auto e = TlsClientContext::create(empty.path(), {"http/1.1"});
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().code == "config");

  TempFile junk("this is not PEM\n");
  auto j = TlsClientContext::create(junk.path(), {"http/1.1"});
  REQUIRE_FALSE(j.ok());
  CHECK(j.error().code == "config");

  CHECK_FALSE(TlsClientContext::create("", {"http/1.1"}).ok());
  auto system = TlsClientContext::create("system", {"http/1.1"});
  CHECK_MESSAGE(system.ok(), (system.ok() ? "" : system.error().message));
}

TEST_CASE("contexts refuse malformed ALPN lists and empty hosts") {
  CHECK_FALSE(TlsServerContext::create({""}).ok());
  CHECK_FALSE(TlsServerContext::create({std::string(256, 'x')}).ok());
  TlsFixture fx;
  CHECK_FALSE(fx.client_ctx->newSsl("").ok());
  CHECK_FALSE(fx.client_ctx->newSsl(".").ok());
  auto wire = alpnWireFormat({"h2", "http/1.1"});
  REQUIRE(wire.ok());
  CHECK(*wire == std::string("\x02h2\x08http/1.1"));
}

TEST_CASE("a server certificate whose key does not match is refused before any I/O") {
  TlsTestLoop loop;
  TlsFixture fx;
  SocketPair sp = makeSocketBevs(loop.base());
  bssl::UniquePtr<EVP_PKEY> other = newP256Key();
  auto tls = wrapTlsServer(std::move(sp.a), *fx.server_ctx, fx.leaf.cert.get(), other.get(),
                           fx.ca.cert.get());
  REQUIRE_FALSE(tls.ok());
  CHECK(tls.error().code == "tls_certificate");
}

}  // namespace
}  // namespace aiw::test
