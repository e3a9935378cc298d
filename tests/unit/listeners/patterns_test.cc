// GET / PUT /proxy/v1/patterns and GET /proxy.pac: the JSON validation (patterns_json.h), the
// snapshot rebuild and persistence (patterns_store.h) and the PAC script (proxy_pac.h), driven
// through AdminRoutes with a real snapshot built from a Config.
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "admin/admin_routes.h"
#include "filters/domain_classifier/patterns_json.h"
#include "filters/domain_classifier/proxy_pac.h"
#include "filters/snapshot_builder.h"
#include "listeners/patterns_store.h"

namespace aiw {
namespace {

constexpr const char* kToken = "0123456789abcdef0123456789abcdef";

FilterSpec spec(const std::string& name, const std::string& yaml) {
  FilterSpec s;
  s.filter = name;
  s.config = std::make_shared<const YAML::Node>(yaml.empty() ? YAML::Node() : YAML::Load(yaml));
  s.file = "test.yaml";
  s.line = 1;
  return s;
}

Config makeConfig(bool with_classifier = true) {
  Config c;
  c.source = "test.yaml";
  ListenerConfig l;
  l.name = "system";
  l.address = HostPort{"127.0.0.1", 8080};
  c.listeners.push_back(l);
  c.filters.push_back(spec("tls_inspector", ""));
  if (with_classifier) {
    c.filters.push_back(spec("domain_classifier",
                             "{patterns: [{pattern: .internal.example.com, proxy: false}],"
                             " ai_domains: [.openai.com, api.internal.example.com],"
                             " chatty_domains: [.sentry.io], default: bypass}"));
  }
  c.filters.push_back(spec("chatty_bypass", ""));
  return c;
}

std::string tempDir() {
  char tmpl[] = "/tmp/aiw-patterns-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  return tmpl;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Admin {
  Runtime runtime{1};
  AdminRoutes routes{runtime, [] { return Result<void>(); },
                     [this](const DomainClassifierConfig& p) {
                       return replacePatterns(runtime, p);
                     }};

  explicit Admin(bool with_classifier = true) {
    runtime.admin_token = kToken;
    runtime.state_dir = tempDir();
    auto snap = buildSnapshot(makeConfig(with_classifier), 1);
    REQUIRE_MESSAGE(snap.ok(), snap.error().message);
    runtime.snapshot.set(snap.value());
  }
  ~Admin() { std::system(("rm -rf '" + runtime.state_dir + "'").c_str()); }

  AdminResponse call(const std::string& method, const std::string& path,
                     const std::string& body = "", bool token = true) {
    AdminRequest req;
    req.method = method;
    req.path = path;
    req.body = body;
    if (token) req.headers.add("X-Proxy-Token", kToken);
    return routes.handle(req);
  }
};

rapidjson::Document parse(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  REQUIRE_MESSAGE(!d.HasParseError(), body);
  return d;
}

std::string allErrors(const PatternsParse& p) {
  std::string s;
  for (const auto& e : p.errors) s += e + "\n";
  return s;
}

TEST_CASE("a valid body parses, with the default kept when absent") {
  auto p = parsePatternsJson(
      R"({"patterns":[{"pattern":"*.corp.example","proxy":true}],"ai_domains":["a.com"],)"
      R"("chatty_domains":[]})",
      DefaultAction::Block);
  REQUIRE_MESSAGE(p.errors.empty(), allErrors(p));
  CHECK_FALSE(p.has_default);
  CHECK(p.config.default_action == DefaultAction::Block);
  REQUIRE(p.config.patterns.size() == 1);
  CHECK(p.config.patterns[0].proxy);
  CHECK(patternsToJson(p.config) ==
        R"({"patterns":[{"pattern":"*.corp.example","proxy":true}],"ai_domains":["a.com"],)"
        R"("chatty_domains":[],"default":"block"})");
}

TEST_CASE("bad JSON names the parse error and its offset") {
  auto p = parsePatternsJson(R"({"patterns": [}")", DefaultAction::Bypass);
  REQUIRE(p.errors.size() == 1);
  CHECK(p.errors[0].find("invalid JSON at offset 14") != std::string::npos);
  auto trailing = parsePatternsJson(R"({"patterns":[],"ai_domains":[],"chatty_domains":[]} x)",
                                    DefaultAction::Bypass);
  REQUIRE(trailing.errors.size() == 1);
  CHECK(trailing.errors[0].find("offset 52") != std::string::npos);
  CHECK(parsePatternsJson("[]", DefaultAction::Bypass).errors.at(0).find("JSON object") !=
        std::string::npos);
}

TEST_CASE("every problem of a body is listed, by field and index") {
  auto p = parsePatternsJson(
      R"({"patterns":[{"pattern":"ok.example","proxy":"yes"},{"pattern":"bad..name","proxy":true},)"
      R"(7,{"proxy":false,"extra":1}],"ai_domains":["fine.com",3,"a*b.com"],)"
      R"("chatty_domains":"nope","default":"sometimes","colour":"blue"})",
      DefaultAction::Bypass);
  const std::string all = allErrors(p);
  CHECK_MESSAGE(all.find("unknown key 'colour'") != std::string::npos, all);
  CHECK_MESSAGE(all.find("patterns[0].proxy: must be true or false, not a string") !=
                    std::string::npos, all);
  CHECK_MESSAGE(all.find("patterns[1].pattern: ") != std::string::npos, all);
  CHECK_MESSAGE(all.find("patterns[2]: must be an object") != std::string::npos, all);
  CHECK_MESSAGE(all.find("patterns[3]: unknown key 'extra'") != std::string::npos, all);
  CHECK_MESSAGE(all.find("patterns[3].pattern: required") != std::string::npos, all);
  CHECK_MESSAGE(all.find("ai_domains[1]: must be a string, not a number") != std::string::npos,
                all);
  CHECK_MESSAGE(all.find("ai_domains[2]: ") != std::string::npos, all);
  CHECK_MESSAGE(all.find("chatty_domains: must be an array, not a string") != std::string::npos,
                all);
  CHECK_MESSAGE(all.find("default: 'sometimes' is not one of") != std::string::npos, all);
  CHECK(p.errors.size() == 10);

  auto missing = parsePatternsJson("{}", DefaultAction::Bypass);
  CHECK(allErrors(missing) ==
        "patterns: required\nai_domains: required\nchatty_domains: required\n");
  auto dup = parsePatternsJson(
      R"({"patterns":[],"ai_domains":["a.com","A.com."],"chatty_domains":[]})",
      DefaultAction::Bypass);
  REQUIRE(dup.errors.size() == 1);
  CHECK(dup.errors[0].rfind("ai_domains[1]: ", 0) == 0);
}

TEST_CASE("GET /proxy/v1/patterns shows the active classifier's lists") {
  Admin a;
  auto r = a.call("GET", "/proxy/v1/patterns");
  REQUIRE(r.status == 200);
  CHECK(r.body ==
        R"({"patterns":[{"pattern":".internal.example.com","proxy":false}],)"
        R"("ai_domains":[".openai.com","api.internal.example.com"],)"
        R"("chatty_domains":[".sentry.io"],"default":"bypass"})");
  CHECK(a.call("GET", "/proxy/v1/patterns", "", false).status == 401);
  CHECK(a.call("POST", "/proxy/v1/patterns").status == 405);
}

TEST_CASE("without a domain_classifier the patterns routes answer 404") {
  Admin a(false);
  auto r = a.call("GET", "/proxy/v1/patterns");
  CHECK(r.status == 404);
  CHECK(parse(r.body)["error"] == "no_domain_classifier");
  CHECK(a.call("PUT", "/proxy/v1/patterns",
               R"({"patterns":[],"ai_domains":[],"chatty_domains":[]})").status == 404);
}

TEST_CASE("PUT publishes a new snapshot, persists it, and old snapshots keep their lists") {
  Admin a;
  auto before = a.runtime.snapshot.get();
  const std::string body =
      R"({"patterns":[{"pattern":".internal.example.com","proxy":true}],)"
      R"("ai_domains":[".openai.com"],"chatty_domains":[]})";
  auto r = a.call("PUT", "/proxy/v1/patterns", body);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto after = a.runtime.snapshot.get();
  CHECK(after->generation == before->generation + 1);
  auto* dc = findDomainClassifier(*after->chain);
  REQUIRE(dc != nullptr);
  CHECK(dc->classifier().classify("api.internal.example.com").intercept);
  CHECK(dc->classifier().config().default_action == DefaultAction::Bypass);
  // The snapshot an existing connection holds is untouched.
  const auto* old = findDomainClassifier(*before->chain);
  CHECK_FALSE(old->classifier().classify("api.internal.example.com").intercept);

  const std::string path = patternsFilePath(a.runtime.state_dir);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(readFile(path) == r.body);

  // Applied over a configuration, as at start-up and on reload.
  Config c = makeConfig();
  applyStoredPatterns(c, a.runtime.state_dir);
  auto snap = buildSnapshot(std::move(c), 5);
  REQUIRE(snap.ok());
  const auto* stored = findDomainClassifier(*snap.value()->chain);
  CHECK(stored->classifier().classify("x.internal.example.com").intercept);
}

TEST_CASE("a refused PUT changes nothing and lists its errors") {
  Admin a;
  auto before = a.runtime.snapshot.get();
  auto r = a.call("PUT", "/proxy/v1/patterns",
                  R"({"patterns":[{"pattern":"-bad-","proxy":true}],"ai_domains":[1],)"
                  R"("chatty_domains":[]})");
  CHECK(r.status == 400);
  auto d = parse(r.body);
  CHECK(d["error"] == "invalid_patterns");
  REQUIRE(d["errors"].IsArray());
  CHECK(d["errors"].Size() == 2);
  CHECK(a.runtime.snapshot.get() == before);
  struct stat st {};
  CHECK(::stat(patternsFilePath(a.runtime.state_dir).c_str(), &st) != 0);
  auto bad = a.call("PUT", "/proxy/v1/patterns", "{not json");
  CHECK(bad.status == 400);
  const std::string first = parse(bad.body)["errors"][0].GetString();
  CHECK(first.find("offset 1") != std::string::npos);
}

TEST_CASE("a corrupt stored file leaves the configured lists in place") {
  std::string dir = tempDir();
  std::ofstream(patternsFilePath(dir)) << "{\"patterns\": [";
  Config c = makeConfig();
  auto original = c.filters[1].config;
  applyStoredPatterns(c, dir);
  CHECK(c.filters[1].config == original);
  std::ofstream(patternsFilePath(dir))
      << R"({"patterns":[],"ai_domains":["bad..x"],"chatty_domains":[]})";
  applyStoredPatterns(c, dir);
  CHECK(c.filters[1].config == original);
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST_CASE("GET /proxy.pac needs no token and sends the right hosts to the proxy") {
  Admin a;
  auto r = a.call("GET", "/proxy.pac", "", false);
  REQUIRE(r.status == 200);
  CHECK(r.content_type == "application/x-ns-proxy-autoconfig");
  const std::string& js = r.body;
  CHECK(js.find("function FindProxyForURL(url, host)") != std::string::npos);
  // The proxy: false pattern comes before the ai_domains entry it overrides.
  size_t pattern = js.find("dnsDomainIs(h, \".internal.example.com\"))) return \"DIRECT\"");
  size_t ai = js.find("h == \"api.internal.example.com\") return \"PROXY 127.0.0.1:8080\"");
  REQUIRE(pattern != std::string::npos);
  REQUIRE(ai != std::string::npos);
  CHECK(pattern < ai);
  CHECK(js.find("(h == \"openai.com\" || dnsDomainIs(h, \".openai.com\"))) return \"PROXY "
                "127.0.0.1:8080\"") != std::string::npos);
  CHECK(js.find("dnsDomainIs(h, \".sentry.io\"))) return \"DIRECT\"") != std::string::npos);
  CHECK(js.rfind("return \"DIRECT\";\n}\n") != std::string::npos);
}

TEST_CASE("PAC: wildcards are guarded by the label count, most specific first") {
  DomainClassifierConfig c;
  c.patterns = {{".example.com", false}, {"bedrock-runtime.*.amazonaws.com", true},
                {"*.b.example.com", true}, {"a.*.example.com", false}};
  c.ai_domains = {"Api.OpenAI.com."};
  c.chatty_domains = {"api.openai.com"};  // in both lists: ai wins
  c.default_action = DefaultAction::Intercept;
  std::string js = buildProxyPac(&c, "[::1]:3128");
  CHECK(js.find("(n == 4 && shExpMatch(h, \"bedrock-runtime.*.amazonaws.com\"))") !=
        std::string::npos);
  CHECK(js.find("*.b.example.com") < js.find("a.*.example.com"));
  CHECK(js.find("a.*.example.com") < js.find("\".example.com\""));
  CHECK(js.find("h == \"api.openai.com\") return \"PROXY [::1]:3128\"") != std::string::npos);
  CHECK(js.find("return \"DIRECT\";\n}") == std::string::npos);  // default intercept
  CHECK(buildProxyPac(nullptr, "x:1").find("return \"DIRECT\";\n}") != std::string::npos);
}

TEST_CASE("writeFileAtomically replaces a file and sets its mode") {
  std::string dir = tempDir();
  std::string path = dir + "/f.json";
  REQUIRE(writeFileAtomically(path, "one", 0644).ok());
  REQUIRE(writeFileAtomically(path, "two", 0600).ok());
  CHECK(readFile(path) == "two");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_FALSE(writeFileAtomically(dir + "/missing/f", "x", 0600).ok());
  std::system(("rm -rf '" + dir + "'").c_str());
}

}  // namespace
}  // namespace aiw
