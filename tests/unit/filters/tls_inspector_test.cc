// tls_inspector: built from inline YAML through the builtin registry, run through a real
// ConnectionFilterChain on real ClientHellos (tests/unit/tls/client_hello_samples.h).
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "filters/builtin_filters.h"
#include "filters/chain.h"
#include "probe_filter.h"
#include "unit/tls/client_hello_samples.h"

namespace aiw {
namespace {

using test::specsFromYaml;
namespace samples = test::hello_samples;
using Bytes = std::vector<uint8_t>;

template <size_t N>
Bytes sample(const uint8_t (&array)[N]) {
  return Bytes(array, array + N);
}

Result<std::shared_ptr<const FilterChain>> build(const std::string& yaml) {
  return buildFilterChain(specsFromYaml(yaml), builtinFilterRegistry());
}

std::shared_ptr<const FilterChain> chainOf(const std::string& yaml) {
  auto built = build(yaml);
  REQUIRE_MESSAGE(built.ok(), (built.ok() ? std::string() : built.error().message));
  return built.value();
}

std::string buildError(const std::string& yaml) {
  auto built = build(yaml);
  REQUIRE_FALSE(built.ok());
  return built.error().message;
}

std::map<std::string, uint64_t> stats(const FilterChain& chain) {
  std::map<std::string, uint64_t> out;
  for (const auto& stat : chain.entry(0).factory().stats()) out[stat.name] = stat.value;
  return out;
}

ConnectionInfo connectTo(const std::string& host) {
  ConnectionInfo conn;
  conn.is_connect = true;
  conn.target_host = host;
  conn.target_port = 443;
  return conn;
}

const std::string kDefault = "- filter: tls_inspector\n";

TEST_CASE("tls_inspector builds with defaults and asks the listener for its peek limits") {
  auto chain = chainOf(kDefault);
  PeekLimits limits = chain->peekLimits();
  CHECK(limits.max_bytes == 16384);
  CHECK(limits.timeout_ms == 3000);
  limits = chainOf("- filter: tls_inspector\n  config: {timeout_ms: 500, max_bytes: 4096}\n")
               ->peekLimits();
  CHECK(limits.max_bytes == 4096);
  CHECK(limits.timeout_ms == 500);
}

TEST_CASE("a chain's peek limits are the largest over its stages") {
  auto chain = chainOf(R"(- filter: tls_inspector
  config: {timeout_ms: 5000, max_bytes: 4096}
- filter: tls_inspector
  config: {timeout_ms: 100, max_bytes: 8192})");
  CHECK(chain->peekLimits().max_bytes == 8192);
  CHECK(chain->peekLimits().timeout_ms == 5000);
  test::Harness h;  // probes need no peek
  CHECK(h.chain("- filter: probe\n  config: {tag: a}\n")->peekLimits().max_bytes == 0);
}

TEST_CASE("tls_inspector config errors are located and specific") {
  CHECK(buildError(R"(- filter: tls_inspector
  config:
    timeout_ms: 3000
    max_byte: 100)") ==
        "filters.yaml:4: unknown key 'max_byte' in tls_inspector config, did you mean "
        "'max_bytes'?");
  CHECK(buildError(R"(- filter: tls_inspector
  config:
    timeout_ms: 0
    max_bytes: 100)") ==
        "filters.yaml:3: 'timeout_ms' must be between 10 and 60000, got 0\n"
        "filters.yaml:4: 'max_bytes' must be between 512 and 65536, got 100");
  CHECK(buildError("- filter: tls_inspector\n  config: {timeout_ms: soon}\n") ==
        "filters.yaml:2: 'timeout_ms' must be a whole number, got 'soon'");
  CHECK(buildError("- filter: tls_inspector\n  config: [1]\n") ==
        "filters.yaml:2: tls_inspector config must be a map");
}

TEST_CASE("a partial hello needs more data, then the whole one fills SNI, ALPN and versions") {
  auto filters = chainOf(kDefault);
  ConnectionFilterChain chain(filters, filters->peekLimits().max_bytes);
  ConnectionInfo conn = connectTo("api.openai.com");
  Bytes hello = sample(samples::kCurlHttp2);
  CHECK(chain.run(conn, std::span(hello).first(100)).action == Action::NeedMoreData);
  CHECK(conn.tls);
  CHECK(conn.tls_error == "incomplete ClientHello (100 bytes received)");
  CHECK(chain.run(conn, hello).action == Action::Continue);
  CHECK(conn.tls);
  CHECK(conn.tls_error.empty());
  CHECK(conn.sni == "api.openai.com");
  CHECK(conn.alpn == std::vector<std::string>{"h2", "http/1.1"});
  CHECK(conn.tls_versions == std::vector<uint16_t>{0x0304, 0x0303, 0x0302, 0x0301});
  CHECK_FALSE(conn.bypassed);
  chain.close(conn);
  CHECK(stats(*filters) == std::map<std::string, uint64_t>{{"tls_inspector.hellos", 1},
                                                           {"tls_inspector.incomplete", 0},
                                                           {"tls_inspector.malformed", 0},
                                                           {"tls_inspector.not_tls", 0}});
  CHECK(filters->entry(0).counters().need_more_data == 1);
}

TEST_CASE("a TLS 1.2-only hello without ALPN gives its legacy version as the only version") {
  auto filters = chainOf(kDefault);
  ConnectionFilterChain chain(filters, 16384);
  ConnectionInfo conn = connectTo("chatgpt.com");
  Bytes hello = sample(samples::kOpensslTls12Only);
  CHECK(chain.run(conn, hello).action == Action::Continue);
  CHECK(conn.sni == "chatgpt.com");
  CHECK(conn.alpn.empty());
  CHECK(conn.tls_versions == std::vector<uint16_t>{0x0303});
}

TEST_CASE("connections that are not CONNECT tunnels are left untouched") {
  auto filters = chainOf(kDefault);
  ConnectionFilterChain chain(filters, 16384);
  ConnectionInfo conn;
  conn.target_host = "api.openai.com";
  Bytes hello = sample(samples::kOpensslTls13Alpn);
  CHECK(chain.run(conn, hello).action == Action::Continue);
  CHECK_FALSE(conn.tls);
  CHECK(conn.sni.empty());
  CHECK(conn.tls_error.empty());
  chain.close(conn);
  for (const auto& [name, value] : stats(*filters)) CHECK_MESSAGE(value == 0, name);
}

TEST_CASE("plain HTTP inside a CONNECT continues, marked as not TLS") {
  auto filters = chainOf(kDefault);
  ConnectionFilterChain chain(filters, 16384);
  ConnectionInfo conn = connectTo("example.com");
  std::string get = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
  CHECK(
      chain.run(conn, std::span(reinterpret_cast<const uint8_t*>(get.data()), get.size())).action ==
      Action::Continue);
  CHECK_FALSE(conn.tls);
  CHECK(conn.tls_error.empty());
  CHECK(stats(*filters)["tls_inspector.not_tls"] == 1);
}

TEST_CASE("a malformed hello continues with the reason recorded, deciding nothing itself") {
  auto filters = chainOf(kDefault);
  ConnectionFilterChain chain(filters, 16384);
  ConnectionInfo conn = connectTo("api.openai.com");
  Bytes hello = sample(samples::kOpensslTls13Alpn);
  auto at =
      std::search(hello.begin(), hello.end(), conn.target_host.begin(), conn.target_host.end());
  REQUIRE(at != hello.end());
  std::string ip = "192.168.100.20";
  std::copy(ip.begin(), ip.end(), at);
  Verdict v = chain.run(conn, hello);
  CHECK(v.action == Action::Continue);
  CHECK(conn.tls);
  CHECK(conn.sni.empty());
  CHECK(conn.tls_error ==
        "SNI '192.168.100.20' is an IP address literal (RFC 6066 forbids addresses in SNI)");
  CHECK(stats(*filters)["tls_inspector.malformed"] == 1);
}

TEST_CASE("a hello larger than max_bytes is recorded as malformed without waiting for it") {
  auto filters = chainOf("- filter: tls_inspector\n  config: {max_bytes: 512}\n");
  ConnectionFilterChain chain(filters, filters->peekLimits().max_bytes);
  ConnectionInfo conn = connectTo("api.openai.com");
  Bytes hello = sample(samples::kCurlHttp2);  // 517 bytes
  CHECK(chain.run(conn, std::span(hello).first(9)).action == Action::Continue);
  CHECK(conn.tls_error.find("does not fit in max_bytes 512") != std::string::npos);
}

TEST_CASE("when the peek stops early the incomplete hello stands as the error, and is counted") {
  auto filters = chainOf(kDefault);
  {
    ConnectionFilterChain chain(filters, 16384);
    ConnectionInfo conn = connectTo("api.openai.com");
    Bytes hello = sample(samples::kNodeTls);
    CHECK(chain.run(conn, std::span(hello).first(40)).action == Action::NeedMoreData);
    CHECK(chain.run(conn, std::span(hello).first(41), /*no_more_data=*/true).action ==
          Action::Continue);
    CHECK(conn.tls_error == "incomplete ClientHello (41 bytes received)");
    chain.close(conn);
  }
  {
    ConnectionFilterChain chain(filters, 16384);
    ConnectionInfo conn = connectTo("api.openai.com");
    CHECK(chain.run(conn, {}, /*no_more_data=*/true).action == Action::Continue);
    CHECK_FALSE(conn.tls);
    CHECK(conn.tls_error == "no ClientHello: the client sent nothing");
    chain.close(conn);
  }
  CHECK(stats(*filters)["tls_inspector.incomplete"] == 2);
}

}  // namespace
}  // namespace aiw
