// The http sink's configuration through the real registry: defaults, every key, and located
// errors.
#include <doctest/doctest.h>

#include "filters/builtin_filters.h"
#include "filters/chain.h"
#include "filters/reporter/reporter_filter.h"
#include "probe_filter.h"

namespace aiw {
namespace {

using test::specsFromYaml;

Result<std::shared_ptr<const FilterChain>> build(const std::string &yaml) {
  static const FilterRegistry registry = builtinFilterRegistry();
  return buildFilterChain(specsFromYaml(yaml, "90-reporter.yaml"), registry, ChainBuildState{});
}

std::string errorsOf(const std::string &sinks) {
  auto r = build("- filter: reporter\n  config:\n    sinks:\n" + sinks);
  return r.ok() ? std::string() : r.error().message;
}

TEST_CASE("http sink config: defaults") {
  auto r = build(
      "- filter: reporter\n"
      "  config: {sinks: [{type: http, url: 'http://127.0.0.1:9/ingest'}]}\n");
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  auto s = reporterSettingsOf(*r.value());
  REQUIRE(s.http.size() == 1);
  const HttpSinkConfig &h = s.http[0];
  CHECK(h.target.host == "127.0.0.1");
  CHECK(h.target.port == 9);
  CHECK(h.target.target == "/ingest");
  CHECK(h.format == HttpSinkFormat::Native);
  CHECK(h.batch == 100);
  CHECK(h.flush_ms == 500);
  CHECK(h.timeout_ms == 5000);
  CHECK(h.backoff_max_ms == 30000);
  CHECK(h.spool_bytes == 1073741824);
  CHECK(h.name.rfind("http-", 0) == 0);
  CHECK(h.akto == AktoSettings{});
}

TEST_CASE("http sink config: every key") {
  auto r = build(
      "- filter: reporter\n"
      "  config:\n"
      "    spool_bytes: 100000\n"
      "    sinks:\n"
      "      - type: http\n"
      "        name: akto-main\n"
      "        url: 'http://collector.local:8080'\n"
      "        format: akto\n"
      "        batch: 7\n"
      "        flush_ms: 20\n"
      "        timeout_ms: 300\n"
      "        backoff_max_ms: 1000\n"
      "        headers: {X-Api-Key: k1, Authorization: Bearer t}\n"
      "        akto_account_id: '42'\n"
      "        akto_vxlan_id: 3\n");
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  const ReporterSettings settings = reporterSettingsOf(*r.value());
  const HttpSinkConfig &h = settings.http.at(0);
  CHECK(h.name == "akto-main");
  CHECK(h.target.host == "collector.local");
  CHECK(h.target.port == 8080);
  CHECK(h.target.target == "/");
  CHECK(h.format == HttpSinkFormat::Akto);
  CHECK(h.batch == 7);
  CHECK(h.flush_ms == 20);
  CHECK(h.timeout_ms == 300);
  CHECK(h.backoff_max_ms == 1000);
  CHECK(h.spool_bytes == 100000);
  CHECK(h.headers == HeaderList{{"X-Api-Key", "k1"}, {"Authorization", "Bearer t"}});
  CHECK(h.akto.account_id == "42");
  CHECK(h.akto.vxlan_id == "3");
}

TEST_CASE("http sink config: each error names its line") {
  std::string e = errorsOf(
      "      - type: http\n"                              // 4
      "        url: 'ftp://x/'\n"                         // 5
      "        format: aktoo\n"                           // 6
      "        batch: 0\n"                                // 7
      "        headers: {Host: x, 'bad name': y}\n"       // 8
      "        colour: red\n");                           // 9
  CHECK(e.find("90-reporter.yaml:5:") != std::string::npos);
  CHECK(e.find("must start with http://") != std::string::npos);
  CHECK(e.find("90-reporter.yaml:6:") != std::string::npos);
  CHECK(e.find("did you mean 'akto'") != std::string::npos);
  CHECK(e.find("90-reporter.yaml:7:") != std::string::npos);
  CHECK(e.find("set by the http sink itself") != std::string::npos);
  CHECK(e.find("'bad name' is not a valid header name") != std::string::npos);
  CHECK(e.find("'colour'") != std::string::npos);
}

TEST_CASE("http sink config: a missing url, bad ports and shared spools are refused") {
  CHECK(errorsOf("      - {type: http}\n").find("url") != std::string::npos);
  CHECK(errorsOf("      - {type: http, url: 'http://h:0/'}\n").find("port") != std::string::npos);
  CHECK(errorsOf("      - {type: http, url: 'http://h:99999/'}\n").find("port") !=
        std::string::npos);
  CHECK(errorsOf("      - {type: http, url: 'http://:80/'}\n").find("no host") !=
        std::string::npos);
  std::string shared = errorsOf(
      "      - {type: http, url: 'http://h/'}\n"
      "      - {type: http, url: 'http://h/'}\n");
  CHECK(shared.find("90-reporter.yaml:5:") != std::string::npos);
  CHECK(shared.find("share the spool") != std::string::npos);
  CHECK(errorsOf("      - {type: http, url: 'http://h/', name: 'A/B'}\n").find("spool file") !=
        std::string::npos);
  CHECK(errorsOf("      - {type: http, url: 'http://h/', akto_account_id: 1}\n")
            .find("need format: akto") != std::string::npos);
  CHECK(errorsOf("      - {type: http, url: 'http://h/', format: akto, akto_vxlan_id: x1}\n")
            .find("must be a number") != std::string::npos);
}

TEST_CASE("http sink config: ca_file is for https:// collectors and must hold certificates") {
  std::string http = errorsOf("      - {type: http, url: 'http://h/', ca_file: system}\n");
  CHECK(http.find("90-reporter.yaml:4:") != std::string::npos);
  CHECK(http.find("applies to https:// collectors only") != std::string::npos);
  std::string missing =
      errorsOf("      - {type: http, url: 'https://h/', ca_file: /nonexistent/roots.pem}\n");
  CHECK(missing.find("90-reporter.yaml:4:") != std::string::npos);
  CHECK(missing.find("/nonexistent/roots.pem") != std::string::npos);
  // The default roots are the system's, as for upstream.ca_file.
  CHECK(errorsOf("      - {type: http, url: 'https://h/'}\n").empty());
  CHECK(errorsOf("      - {type: http, url: 'https://h/', ca_file: system}\n").empty());
}

TEST_CASE("http urls: https with its default port 443, or another") {
  auto u = parseHttpUrl("https://collector.example/ingest");
  REQUIRE(u.ok());
  CHECK(u.value().tls);
  CHECK(u.value().port == 443);
  CHECK(u.value().target == "/ingest");
  auto p = parseHttpUrl("https://[::1]:8443");
  REQUIRE(p.ok());
  CHECK(p.value().tls);
  CHECK(p.value().host == "::1");
  CHECK(p.value().port == 8443);
  CHECK_FALSE(parseHttpUrl("http://h/").value().tls);
  CHECK_FALSE(parseHttpUrl("httpss://h/").ok());
  CHECK_FALSE(parseHttpUrl("HTTPS//h/").ok());
}

TEST_CASE("http urls: IPv6, default port, query only") {
  auto v6 = parseHttpUrl("http://[::1]:81/p?q");
  REQUIRE(v6.ok());
  CHECK(v6.value().host == "::1");
  CHECK(v6.value().port == 81);
  CHECK(v6.value().target == "/p?q");
  auto q = parseHttpUrl("http://h?x=1");
  REQUIRE(q.ok());
  CHECK(q.value().port == 80);
  CHECK(q.value().target == "/?x=1");
  CHECK_FALSE(parseHttpUrl("http://u:p@h/").ok());
  CHECK_FALSE(parseHttpUrl("http://h/#f").ok());
}

}  // namespace
}  // namespace aiw
