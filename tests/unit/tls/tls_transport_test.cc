// TLS transport: a server-wrapped and a client-wrapped bufferevent against each other on a real
// event loop over a unix socket pair: handshake, ALPN, bulk data with back-pressure, closing.
#include <doctest/doctest.h>

#include "unit/tls/tls_test_peer.h"

namespace aiw::test {
namespace {

constexpr size_t kBulk = 4 * 1024 * 1024;

struct Connected {
  TlsTestLoop loop;
  TlsFixture fx;
  Peer server{loop.base(), 1};
  Peer client{loop.base(), 2};

  void connect(const std::string& host = "good.test") {
    SocketPair sp = makeSocketBevs(loop.base());
    client.attach(fx.client(std::move(sp.b), host));
    server.attach(fx.server(std::move(sp.a)));
  }
  bool handshake() {
    return loop.runUntil(
        [&] { return (server.connected && client.connected) || server.events || client.events; });
  }
};

TEST_CASE("the handshake completes, reports CONNECTED and negotiates http/1.1") {
  Connected c;
  c.connect();
  REQUIRE(c.handshake());
  CHECK(c.server.connected);
  CHECK(c.client.connected);
  CHECK(c.server.events == 0);
  CHECK(c.client.events == 0);
  REQUIRE(c.server.tls() != nullptr);
  REQUIRE(c.client.tls() != nullptr);
  CHECK(c.server.tls()->handshakeDone());
  CHECK(c.server.tls()->alpn() == "http/1.1");
  CHECK(c.client.tls()->alpn() == "http/1.1");
  CHECK(std::string(c.client.tls()->version()) == "TLSv1.3");
  CHECK(c.client.tls()->host() == "good.test");
  CHECK(c.client.tls()->role() == TlsSession::Role::Client);
  CHECK(c.server.tls()->role() == TlsSession::Role::Server);
  CHECK(c.client.tls()->failure() == nullptr);
  // The server saw the client's SNI.
  const char* sni = SSL_get_servername(c.server.tls()->ssl(), TLSEXT_NAMETYPE_host_name);
  REQUIRE(sni != nullptr);
  CHECK(std::string(sni) == "good.test");
  // The fd is reachable through the TLS bufferevent, as through a socket bufferevent.
  CHECK(bufferevent_getfd(c.server.bev()) >= 0);
}

TEST_CASE("tlsSession is null for a bufferevent that is not TLS") {
  TlsTestLoop loop;
  SocketPair sp = makeSocketBevs(loop.base());
  CHECK(tlsSession(sp.a.get()) == nullptr);
  CHECK(tlsSession(nullptr) == nullptr);
}

TEST_CASE("ALPN follows the server's preference, and no overlap means no ALPN") {
  TlsTestLoop loop;
  TlsFixture fx;
  fx.server_ctx = TlsFixture::mustServer({"h2", "http/1.1"});
  auto h1_first = TlsFixture::mustClient(fx.ca_file.path(), {"http/1.1", "h2"});
  auto h2_only = TlsFixture::mustClient(fx.ca_file.path(), {"h2"});
  auto h1_server = TlsFixture::mustServer({"http/1.1"});

  Peer server(loop.base(), 1), client(loop.base(), 2);
  SocketPair sp = makeSocketBevs(loop.base());
  client.attach(fx.client(std::move(sp.b), "good.test", h1_first.get()));
  server.attach(fx.server(std::move(sp.a)));
  REQUIRE(loop.runUntil([&] { return server.connected && client.connected; }));
  CHECK(server.tls()->alpn() == "h2");
  CHECK(client.tls()->alpn() == "h2");

  fx.server_ctx = h1_server;
  Peer server2(loop.base(), 1), client2(loop.base(), 2);
  SocketPair sp2 = makeSocketBevs(loop.base());
  client2.attach(fx.client(std::move(sp2.b), "good.test", h2_only.get()));
  server2.attach(fx.server(std::move(sp2.a)));
  REQUIRE(loop.runUntil([&] { return server2.connected && client2.connected; }));
  CHECK(server2.tls()->alpn().empty());
  CHECK(client2.tls()->alpn().empty());
}

TEST_CASE("4 MiB each way arrive intact, and a paused reader bounds what the sender buffers") {
  Connected c;
  c.connect();
  REQUIRE(c.handshake());
  // The server reads slowly behind a read high watermark; the client does not read at all yet.
  bufferevent_setwatermark(c.server.bev(), EV_READ, 0, 64 * 1024);
  c.server.setSlowReader(16 * 1024);
  c.client.pauseReading();
  c.server.startSending(kBulk);
  c.client.startSending(kBulk);

  c.loop.runFor(std::chrono::milliseconds(300));
  // server -> client is stalled: the sender stopped, its plaintext waits where it can see it,
  // and neither side's TLS layer took in more than its bounds.
  CHECK(c.server.sent < kBulk);
  bufferevent* s_sock = bufferevent_get_underlying(c.server.bev());
  bufferevent* c_sock = bufferevent_get_underlying(c.client.bev());
  REQUIRE(s_sock != nullptr);
  REQUIRE(c_sock != nullptr);
  CHECK(evbuffer_get_length(bufferevent_get_output(c.server.bev())) > 0);
  CHECK(evbuffer_get_length(bufferevent_get_output(s_sock)) <= kCipherHighWater + 32 * 1024);
  CHECK(evbuffer_get_length(bufferevent_get_input(c_sock)) <= 128 * 1024);
  CHECK(evbuffer_get_length(bufferevent_get_input(c.client.bev())) <= 128 * 1024);
  CHECK(c.client.received.empty());

  c.client.resumeReading();
  REQUIRE(c.loop.runUntil([&] {
    return (c.client.received.size() == kBulk && c.server.received.size() == kBulk) ||
           c.server.events || c.client.events;
  }));
  CHECK(c.client.firstMismatch(1) == std::string::npos);
  CHECK(c.server.firstMismatch(2) == std::string::npos);
  // The slow server's input stayed near its watermark (64 KiB + one socket read + one record).
  CHECK(c.server.max_input_seen <= 64 * 1024 + 64 * 1024 + 17 * 1024);
  CHECK(c.server.events == 0);
  CHECK(c.client.events == 0);
}

// A reader that, on each read callback, first disables reading, then drains, and re-enables
// reading a loop turn later: no ciphertext may be stranded below the TLS layer meanwhile.
struct StopAndGoReader {
  bufferevent* bev = nullptr;
  EventPtr resume;
  std::string received;
  static void onRead(bufferevent* b, void* arg) noexcept {
    auto* r = static_cast<StopAndGoReader*>(arg);
    bufferevent_disable(b, EV_READ);
    evbuffer* in = bufferevent_get_input(b);
    size_t n = evbuffer_get_length(in);
    size_t old = r->received.size();
    r->received.resize(old + n);
    evbuffer_remove(in, r->received.data() + old, n);
    timeval tv{0, 1000};
    evtimer_add(r->resume.get(), &tv);
  }
  static void onResume(evutil_socket_t, short, void* arg) noexcept {
    bufferevent_enable(static_cast<StopAndGoReader*>(arg)->bev, EV_READ);
  }
};

TEST_CASE("a reader that disables, drains and re-enables never stalls") {
  Connected c;
  c.connect();
  REQUIRE(c.handshake());
  StopAndGoReader reader;
  reader.bev = c.client.bev();
  reader.resume.reset(evtimer_new(c.loop.base(), StopAndGoReader::onResume, &reader));
  bufferevent_setcb(reader.bev, StopAndGoReader::onRead, nullptr, nullptr, &reader);
  bufferevent_setwatermark(reader.bev, EV_READ, 0, 32 * 1024);
  c.server.startSending(1024 * 1024);
  REQUIRE(c.loop.runUntil([&] { return reader.received.size() == 1024 * 1024; }));
  for (size_t i = 0; i < reader.received.size(); ++i) {
    if (reader.received[i] != patternByte(i, 1)) FAIL("byte " << i << " differs");
  }
}

TEST_CASE("plaintext written before the handshake completes is delivered after it") {
  Connected c;
  c.connect();
  c.client.write("early bytes from the client");
  c.server.write("early bytes from the server");
  REQUIRE(c.loop.runUntil(
      [&] { return c.server.received.size() == 27 && c.client.received.size() == 27; }));
  CHECK(c.server.received == "early bytes from the client");
  CHECK(c.client.received == "early bytes from the server");
  CHECK(c.server.connected_before_data);
  CHECK(c.client.connected_before_data);
}

TEST_CASE("with EV_WRITE off, output waits; enabling it and flushing sends it") {
  Connected c;
  c.connect();
  REQUIRE(c.handshake());
  bufferevent_disable(c.server.bev(), EV_WRITE);
  c.server.write("held back");
  c.loop.runFor(std::chrono::milliseconds(20));
  CHECK(c.client.received.empty());
  // A filtering bufferevent does not run its output filter on enable alone: flush as well.
  bufferevent_enable(c.server.bev(), EV_WRITE);
  bufferevent_flush(c.server.bev(), EV_WRITE, BEV_NORMAL);
  REQUIRE(c.loop.runUntil([&] { return c.client.received == "held back"; }));
}

TEST_CASE("a ClientHello already buffered on the socket (peeked) is handshaken from") {
  TlsTestLoop loop;
  TlsFixture fx;
  Peer server(loop.base(), 1), client(loop.base(), 2);
  SocketPair sp = makeSocketBevs(loop.base());
  client.attach(fx.client(std::move(sp.b)));
  // The listener read the ClientHello into the socket bufferevent before deciding to intercept.
  bufferevent_enable(sp.a.get(), EV_READ);
  REQUIRE(
      loop.runUntil([&] { return evbuffer_get_length(bufferevent_get_input(sp.a.get())) > 0; }));
  bufferevent_disable(sp.a.get(), EV_READ);
  loop.runFor(std::chrono::milliseconds(20));
  server.attach(fx.server(std::move(sp.a)));
  REQUIRE(loop.runUntil([&] { return server.connected && client.connected; }));
  client.write("hello");
  REQUIRE(loop.runUntil([&] { return server.received == "hello"; }));
}

TEST_CASE("bytes another bufferevent read from the fd can be handed over when wrapping") {
  TlsTestLoop loop;
  TlsFixture fx;
  Peer server(loop.base(), 1), client(loop.base(), 2);
  SocketPair sp = makeSocketBevs(loop.base());
  client.attach(fx.client(std::move(sp.b)));
  // The listener's own bufferevent (not owning the fd) peeked the ClientHello ...
  int fd = bufferevent_getfd(sp.a.get());
  BufferEventPtr peeker(bufferevent_socket_new(loop.base(), fd, 0));
  bufferevent* owner = sp.a.release();  // keeps the fd; never reads
  bufferevent_disable(owner, EV_READ | EV_WRITE);
  bufferevent_enable(peeker.get(), EV_READ);
  REQUIRE(
      loop.runUntil([&] { return evbuffer_get_length(bufferevent_get_input(peeker.get())) > 0; }));
  bufferevent_disable(peeker.get(), EV_READ);
  // ... and a socket bufferevent that owns the fd takes over, with those bytes.
  auto tls = wrapTlsServer(
      BufferEventPtr(owner), *fx.server_ctx,
      [&](SSL* ssl) {
        return installServerCertificate(ssl, fx.leaf.cert.get(), fx.leaf.key.get(),
                                        fx.ca.cert.get());
      },
      bufferevent_get_input(peeker.get()));
  REQUIRE(tls.ok());
  CHECK(evbuffer_get_length(bufferevent_get_input(peeker.get())) == 0);
  peeker.reset();
  server.attach(std::move(tls).value());
  REQUIRE(loop.runUntil([&] { return server.connected && client.connected; }));
  server.write("over");
  REQUIRE(loop.runUntil([&] { return client.received == "over"; }));
}

TEST_CASE("close_notify ends the stream with EOF after all pending data") {
  Connected c;
  c.connect();
  REQUIRE(c.handshake());
  // 1 MiB queued, then the server closes at once: the bytes still go out, then close_notify.
  c.server.startSending(1024 * 1024, 2 * 1024 * 1024);
  closeTlsGracefully(c.server.take(), 5000);
  REQUIRE(c.loop.runUntil([&] { return c.client.events > 0; }));
  CHECK(c.client.eof);
  CHECK_FALSE(c.client.error);
  CHECK(c.client.received.size() == 1024 * 1024);
  CHECK(c.client.firstMismatch(1) == std::string::npos);
  REQUIRE(c.client.tls() != nullptr);
  CHECK(c.client.tls()->closeNotifyReceived());
  CHECK(c.client.tls()->failure() == nullptr);
  c.loop.runFor(std::chrono::milliseconds(30));
  CHECK(c.client.events == 1);  // the TCP close after close_notify is not a second EOF
}

TEST_CASE("BEV_FINISHED sends close_notify as a half-close: the other direction still flows") {
  Connected c;
  c.connect();
  REQUIRE(c.handshake());
  c.server.write("last words");
  bufferevent_flush(c.server.bev(), EV_WRITE, BEV_FINISHED);
  REQUIRE(c.loop.runUntil([&] { return c.client.eof; }));
  CHECK(c.client.received == "last words");
  c.client.write("reply after close_notify");
  REQUIRE(c.loop.runUntil([&] { return c.server.received.size() == 24; }));
  CHECK(c.server.received == "reply after close_notify");
  CHECK(c.server.events == 0);
}

TEST_CASE("a TCP close without close_notify is an EOF marked as not clean") {
  Connected c;
  c.connect();
  REQUIRE(c.handshake());
  c.server.write("partial");
  REQUIRE(c.loop.runUntil([&] { return c.client.received == "partial"; }));
  c.server.take().reset();  // abrupt: freed without closeTlsGracefully
  REQUIRE(c.loop.runUntil([&] { return c.client.events > 0; }));
  CHECK(c.client.eof);
  CHECK_FALSE(c.client.tls()->closeNotifyReceived());
}

TEST_CASE("the session may free the TLS bufferevent inside its event callback") {
  Connected c;
  c.client.freeOnEnd();
  c.connect();
  REQUIRE(c.handshake());
  closeTlsGracefully(c.server.take(), 1000);
  REQUIRE(c.loop.runUntil([&] { return c.client.events > 0; }));
  CHECK(c.client.bev() == nullptr);
  c.loop.runFor(std::chrono::milliseconds(20));
}

TEST_CASE("a second connection resumes the session of the first") {
  TlsTestLoop loop;
  TlsFixture fx;
  for (int round = 0; round < 2; ++round) {
    Peer server(loop.base(), 1), client(loop.base(), 2);
    SocketPair sp = makeSocketBevs(loop.base());
    client.attach(fx.client(std::move(sp.b)));
    server.attach(fx.server(std::move(sp.a)));
    REQUIRE(loop.runUntil([&] { return server.connected && client.connected; }));
    // A round trip lets the client read the server's session tickets (TLS 1.3).
    server.write("ping");
    REQUIRE(loop.runUntil([&] { return client.received == "ping"; }));
    CHECK(client.tls()->resumed() == (round == 1));
    CHECK(server.tls()->resumed() == (round == 1));
    CHECK(fx.client_ctx->cachedSessions() == 1);
  }
}

}  // namespace
}  // namespace aiw::test
