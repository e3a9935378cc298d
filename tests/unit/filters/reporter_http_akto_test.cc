// The Akto record of format: akto, field by field.
#include <doctest/doctest.h>

#include "filters/reporter/akto_format.h"
#include "reporter_test_util.h"

namespace aiw {
namespace {

using test::parseJson;

ReportEvent sampleExchange() {
  ReportEvent e;
  e.kind = EventKind::Exchange;
  e.ts = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795000000123));
  e.id = EventId("abc-1");
  e.client = "10.1.2.3:50412";
  e.host = "api.openai.com";
  e.method = "POST";
  e.path = "/v1/chat/completions?x=1";
  e.protocol = "HTTP/1.1";
  e.status = 200;
  return e;
}

TEST_CASE("akto: an exchange maps to a record whose every field is a string") {
  ReportEvent e = sampleExchange();
  std::string text = aktoRecord(e, AktoSettings{});
  auto d = parseJson(text);
  REQUIRE_FALSE(d.HasParseError());
  REQUIRE(d.IsObject());
  for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it) {
    CHECK_MESSAGE(it->value.IsString(), it->name.GetString());
  }
  auto s = [&](const char *k) { return std::string(d[k].GetString()); };
  CHECK(d.MemberCount() == 16);
  CHECK(s("path") == "/v1/chat/completions?x=1");
  CHECK(s("method") == "POST");
  CHECK(s("type") == "HTTP/1.1");
  CHECK(s("requestPayload") == "");
  CHECK(s("responsePayload") == "");
  CHECK(s("ip") == "10.1.2.3");
  CHECK(s("destIp") == "api.openai.com");
  CHECK(s("time") == "1795000000");
  CHECK(s("statusCode") == "200");
  CHECK(s("status") == "OK");
  CHECK(s("akto_account_id") == "1000000");
  CHECK(s("akto_vxlan_id") == "0");
  CHECK(s("is_pending") == "false");
  CHECK(s("source") == "MIRRORING");
  for (const char *k : {"requestHeaders", "responseHeaders"}) {
    auto h = parseJson(s(k));
    REQUIRE(h.IsObject());
    CHECK(std::string(h["host"].GetString()) == "api.openai.com");
  }
}

TEST_CASE("akto: configured ids, other statuses, protocols and IPv6 clients") {
  ReportEvent e = sampleExchange();
  e.status = 503;
  e.protocol = "HTTP/2";
  e.client = "[::1]:4000";
  auto d = parseJson(aktoRecord(e, AktoSettings{"42", "7"}));
  CHECK(std::string(d["akto_account_id"].GetString()) == "42");
  CHECK(std::string(d["akto_vxlan_id"].GetString()) == "7");
  CHECK(std::string(d["statusCode"].GetString()) == "503");
  CHECK(std::string(d["status"].GetString()) == "Service Unavailable");
  CHECK(std::string(d["type"].GetString()) == "HTTP/2");
  CHECK(std::string(d["ip"].GetString()) == "::1");
  e.status = 0;
  e.protocol.clear();
  auto none = parseJson(aktoRecord(e, AktoSettings{}));
  CHECK(std::string(none["statusCode"].GetString()) == "0");
  CHECK(std::string(none["type"].GetString()) == "HTTP/1.1");
}

TEST_CASE("akto: strings are JSON-escaped inside the header JSON and the path") {
  ReportEvent e = sampleExchange();
  e.host = "we\"ird";
  e.path = "/a\"b\\c";
  auto d = parseJson(aktoRecord(e, AktoSettings{}));
  REQUIRE_FALSE(d.HasParseError());
  CHECK(std::string(d["path"].GetString()) == "/a\"b\\c");
  auto h = parseJson(d["requestHeaders"].GetString());
  CHECK(std::string(h["host"].GetString()) == "we\"ird");
}

TEST_CASE("akto: tunnel and security events are not records") {
  ReportEvent e = sampleExchange();
  e.kind = EventKind::Tunnel;
  CHECK(aktoRecord(e, AktoSettings{}).empty());
  e.kind = EventKind::Security;
  CHECK(aktoRecord(e, AktoSettings{}).empty());
}

TEST_CASE("akto: client addresses lose their port") {
  CHECK(aktoClientIp("127.0.0.1:80") == "127.0.0.1");
  CHECK(aktoClientIp("[fe80::1]:80") == "fe80::1");
  CHECK(aktoClientIp("fe80::1") == "fe80::1");
  CHECK(aktoClientIp("") == "");
}

}  // namespace
}  // namespace aiw
