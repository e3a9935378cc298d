// domain_classifier: classification and precedence, the name it classifies (CONNECT host or
// SNI), the refusals (fronting, default block, unreadable hello), config errors with their lines,
// and the default lists shipped in filters.d/20-domain_classifier.yaml.
#include "filters/domain_classifier/domain_classifier.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>

#include "core/config_loader.h"
#include "filters/builtin_filters.h"
#include "probe_filter.h"

namespace aiw {
namespace {

using test::specsFromYaml;

Result<std::shared_ptr<FilterFactory>> buildEntry(const std::string& yaml) {
  static const FilterRegistry registry = builtinFilterRegistry();
  auto specs = specsFromYaml(yaml);
  REQUIRE(specs.size() == 1);
  return registry.build(specs[0]);
}

// The factory of one `- filter: domain_classifier` entry whose config is `config` (a flow map or
// an indented block starting on the next line).
std::shared_ptr<DomainClassifierFactory> classifier(const std::string& config) {
  auto built = buildEntry("- filter: domain_classifier\n  config: " + config + "\n");
  REQUIRE_MESSAGE(built.ok(), (built.ok() ? std::string() : built.error().message));
  auto factory = std::dynamic_pointer_cast<DomainClassifierFactory>(built.value());
  REQUIRE(factory != nullptr);
  return factory;
}

std::string configError(const std::string& yaml) {
  auto built = buildEntry(yaml);
  REQUIRE_MESSAGE(!built.ok(), "the config was accepted");
  CHECK(built.error().code == "config");
  return built.error().message;
}

struct Outcome {
  Verdict verdict;
  ConnectionInfo conn;
};

Outcome connect(FilterFactory& factory, const std::string& host, const std::string& sni = "",
                const std::string& tls_error = "") {
  auto filter = factory.createConnectionFilter();
  REQUIRE(filter != nullptr);
  Outcome out;
  out.conn.listener = "system";
  out.conn.target_host = host;
  out.conn.target_port = 443;
  out.conn.is_connect = true;
  out.conn.tls = !sni.empty() || !tls_error.empty();
  out.conn.sni = sni;
  out.conn.tls_error = tls_error;
  out.verdict = filter->onConnection(out.conn, {});
  return out;
}

const char* className(TrafficClass c) {
  switch (c) {
    case TrafficClass::Ai:
      return "ai";
    case TrafficClass::Chatty:
      return "chatty";
    case TrafficClass::Unknown:
      break;
  }
  return "unknown";
}

// "ai+intercept", "chatty", "unknown", "unknown+intercept", or "block 403: reason".
std::string decide(FilterFactory& factory, const std::string& host, const std::string& sni = "",
                   const std::string& tls_error = "") {
  Outcome o = connect(factory, host, sni, tls_error);
  if (o.verdict.action == Action::Block) {
    return "block " + std::to_string(o.verdict.status) + ": " + o.verdict.reason;
  }
  REQUIRE(o.verdict.action == Action::Continue);  // the classifier never bypasses
  CHECK_FALSE(o.conn.bypassed);
  return std::string(className(o.conn.traffic_class)) + (o.conn.intercept ? "+intercept" : "");
}

TEST_CASE("ai domains are intercepted, chatty and unlisted ones are not; nothing is bypassed") {
  auto f = classifier(
      "{ai_domains: [api.openai.com, .anthropic.com], chatty_domains: [registry.npmjs.org]}");
  CHECK(decide(*f, "api.openai.com") == "ai+intercept");
  CHECK(decide(*f, "API.OpenAI.com.") == "ai+intercept");
  CHECK(decide(*f, "anthropic.com") == "ai+intercept");
  CHECK(decide(*f, "api.anthropic.com") == "ai+intercept");
  CHECK(decide(*f, "registry.npmjs.org") == "chatty");
  CHECK(decide(*f, "openai.com") == "unknown");
  CHECK(decide(*f, "example.com") == "unknown");
  CHECK(decide(*f, "") == "unknown");
  CHECK(f->classifier().config().default_action == DefaultAction::Bypass);
}

TEST_CASE("an empty or absent config classifies everything unknown and bypasses it") {
  auto f = classifier("{}");
  CHECK(decide(*f, "api.openai.com") == "unknown");
  auto built = buildEntry("- filter: domain_classifier\n");
  REQUIRE(built.ok());
  CHECK(decide(*built.value(), "api.openai.com") == "unknown");
}

TEST_CASE("Proxy Patterns come before the domain lists") {
  auto f = classifier(R"(
    patterns:
      - {pattern: .internal.example.com, proxy: false}
      - {pattern: cdn.example.net, proxy: true}
    ai_domains: [api.internal.example.com, .example.com]
    chatty_domains: [cdn.example.net])");
  // A proxy: false pattern wins over a more specific ai_domains entry: patterns come first.
  CHECK(decide(*f, "api.internal.example.com") == "unknown");
  CHECK(decide(*f, "internal.example.com") == "unknown");
  CHECK(decide(*f, "www.example.com") == "ai+intercept");
  CHECK(decide(*f, "cdn.example.net") == "ai+intercept");
  Classification c = f->classifier().classify("x.internal.example.com");
  CHECK(c.source == Classification::Source::ProxyPattern);
  CHECK(c.pattern == ".internal.example.com");
  c = f->classifier().classify("www.example.com");
  CHECK(c.source == Classification::Source::AiDomains);
  CHECK(c.pattern == ".example.com");
  c = f->classifier().classify("nowhere.test");
  CHECK(c.source == Classification::Source::Default);
  CHECK(c.pattern.empty());
}

TEST_CASE("within Proxy Patterns the most specific one decides") {
  auto f = classifier(R"(
    patterns:
      - {pattern: "*.corp.example.com", proxy: true}
      - {pattern: .secure.corp.example.com, proxy: false}
      - {pattern: .example.com, proxy: false}
      - {pattern: chat.example.com, proxy: true})");
  CHECK(decide(*f, "hr.corp.example.com") == "ai+intercept");
  CHECK(decide(*f, "secure.corp.example.com") == "unknown");  // 4 labels named beat 3
  CHECK(decide(*f, "a.secure.corp.example.com") == "unknown");
  CHECK(decide(*f, "chat.example.com") == "ai+intercept");
  CHECK(decide(*f, "a.chat.example.com") == "unknown");
  CHECK(decide(*f, "example.com") == "unknown");
}

TEST_CASE("within the domain lists the most specific match wins, and ai wins a tie") {
  auto f = classifier(R"(
    ai_domains: [.example.com, both.example.org, "bedrock-runtime.*.amazonaws.com"]
    chatty_domains: [cdn.example.com, both.example.org, .amazonaws.com, .example.org])");
  CHECK(decide(*f, "cdn.example.com") == "chatty");
  CHECK(decide(*f, "x.cdn.example.com") == "ai+intercept");
  CHECK(decide(*f, "example.com") == "ai+intercept");
  CHECK(decide(*f, "both.example.org") == "ai+intercept");  // in both lists: ai
  CHECK(decide(*f, "other.example.org") == "chatty");
  CHECK(decide(*f, "bedrock-runtime.us-west-2.amazonaws.com") == "ai+intercept");
  CHECK(decide(*f, "s3.us-west-2.amazonaws.com") == "chatty");
}

TEST_CASE("default: intercept intercepts unlisted hosts, still as unknown") {
  auto f = classifier("{default: intercept, chatty_domains: [.npmjs.org]}");
  CHECK(decide(*f, "example.com") == "unknown+intercept");
  CHECK(decide(*f, "registry.npmjs.org") == "chatty");
}

TEST_CASE("default: block refuses hosts no pattern names, and only those") {
  auto f = classifier(R"(
    default: block
    patterns: [{pattern: intranet.example.com, proxy: false}]
    ai_domains: [api.openai.com]
    chatty_domains: [.npmjs.org])");
  CHECK(decide(*f, "example.com") ==
        "block 403: 'example.com' is in no domain list of the classifier, whose default is block");
  CHECK(decide(*f, "api.openai.com") == "ai+intercept");
  CHECK(decide(*f, "registry.npmjs.org") == "chatty");
  CHECK(decide(*f, "intranet.example.com") == "unknown");
  CHECK(f->counts().default_blocked == 1);
}

TEST_CASE("a CONNECT to an IP literal is classified by its SNI") {
  auto f = classifier("{ai_domains: [api.openai.com], chatty_domains: [10.0.0.9]}");
  CHECK(decide(*f, "10.0.0.1", "api.openai.com") == "ai+intercept");
  CHECK(decide(*f, "2001:db8::1", "API.OPENAI.COM") == "ai+intercept");
  CHECK(decide(*f, "[2001:db8::1]", "api.openai.com") == "ai+intercept");
  CHECK(decide(*f, "10.0.0.1", "example.com") == "unknown");
  // No SNI: the address itself is all there is (and an exact IPv4 pattern can name it).
  CHECK(decide(*f, "10.0.0.1") == "unknown");
  CHECK(decide(*f, "10.0.0.9") == "chatty");
  // An address in the SNI (RFC 6066 forbids it) names nothing: the CONNECT target decides.
  CHECK(decide(*f, "10.0.0.9", "10.0.0.1") == "chatty");
}

TEST_CASE("a CONNECT host and an SNI naming different hosts are refused as domain fronting") {
  auto f = classifier("{ai_domains: [api.openai.com], chatty_domains: [cdn.example.com]}");
  CHECK(decide(*f, "cdn.example.com", "api.openai.com") ==
        "block 403: domain fronting refused: CONNECT to 'cdn.example.com' carries TLS for "
        "'api.openai.com'");
  CHECK(decide(*f, "api.openai.com", "cdn.example.com").starts_with("block 403: domain fronting"));
  CHECK(decide(*f, "a.example.com", "b.example.com").starts_with("block 403: domain fronting"));
  // The same name, spelled differently, is no fronting.
  CHECK(decide(*f, "api.openai.com", "API.OpenAI.com.") == "ai+intercept");
  CHECK(decide(*f, "api.openai.com.", "api.openai.com") == "ai+intercept");
  // The SNI alone decides nothing when it matches, and its absence is no fronting.
  CHECK(decide(*f, "cdn.example.com") == "chatty");
  CHECK(decide(*f, "api.openai.com", "10.1.1.1") == "ai+intercept");
  CHECK(f->counts().fronting_refused == 3);
}

TEST_CASE("an intercepted host whose ClientHello could not be read is refused, never tunnelled") {
  auto f = classifier("{ai_domains: [api.openai.com], chatty_domains: [cdn.example.com]}");
  CHECK(decide(*f, "api.openai.com", "", "malformed ClientHello") ==
        "block 403: the TLS ClientHello for 'api.openai.com', which must be intercepted, could not "
        "be read (malformed ClientHello); it is not tunnelled uninspected");
  // Not to be intercepted: the broken hello is chatty_bypass's to tunnel, as any bytes.
  CHECK(decide(*f, "cdn.example.com", "", "malformed ClientHello") == "chatty");
  CHECK(decide(*f, "example.com", "", "incomplete ClientHello") == "unknown");
  auto intercept_all = classifier("{default: intercept}");
  CHECK(decide(*intercept_all, "example.com", "", "too large").starts_with("block 403: the TLS"));
  CHECK(f->counts().unparsed_hello_refused == 1);
}

TEST_CASE("the classifier counts its decisions and exposes them as stats") {
  auto f = classifier("{ai_domains: [a.example], chatty_domains: [c.example]}");
  decide(*f, "a.example");
  decide(*f, "a.example");
  decide(*f, "c.example");
  decide(*f, "u.example");
  decide(*f, "a.example", "c.example");  // refused before it is classified
  DomainClassifierCounts c = f->counts();
  CHECK(c.ai == 2);
  CHECK(c.chatty == 1);
  CHECK(c.unknown == 1);
  CHECK(c.fronting_refused == 1);
  std::vector<FilterStat> stats = f->stats();
  REQUIRE(stats.size() == 6);
  CHECK(stats[0].name == "domain_classifier.ai");
  CHECK(stats[0].value == 2);
  CHECK(stats[3].name == "domain_classifier.fronting_refused");
  CHECK(stats[3].value == 1);
}

TEST_CASE("config errors are located at the offending line") {
  CHECK(configError(R"(- filter: domain_classifier
  config:
    ai_domain: [api.openai.com]
    default: bypas)") ==
        "filters.yaml:3: unknown key 'ai_domain' in domain_classifier config, did you mean "
        "'ai_domains'?\n"
        "filters.yaml:4: unknown value 'bypas' for 'default' (expected bypass, intercept, "
        "block), did you mean 'bypass'?");
  CHECK(configError("- filter: domain_classifier\n  config: [a]\n") ==
        "filters.yaml:2: domain_classifier config must be a map");
  CHECK(configError(R"(- filter: domain_classifier
  config:
    ai_domains: api.openai.com
    chatty_domains:
      - registry.npmjs.org
      - [nested])") ==
        "filters.yaml:3: 'ai_domains' must be a list\n"
        "filters.yaml:6: items of 'chatty_domains' must be strings");
}

TEST_CASE("bad patterns and duplicates are reported at their own lines") {
  CHECK(configError(R"(- filter: domain_classifier
  config:
    ai_domains:
      - api.openai.com
      - "a*b.example.com"
      - .api.anthropic.com
    chatty_domains:
      - registry.npmjs.org
      - .*.example.com
      - Registry.NPMJS.org.
      - .api.anthropic.com)") ==
        "filters.yaml:5: ai_domains: domain pattern 'a*b.example.com': '*' must be a whole label "
        "(as in '*.example.com'), not part of 'a*b'\n"
        "filters.yaml:9: chatty_domains: domain pattern '.*.example.com': a pattern with a "
        "leading '.' (a domain and all its subdomains) cannot contain '*'\n"
        "filters.yaml:10: chatty_domains: domain pattern 'Registry.NPMJS.org.' repeats "
        "'registry.npmjs.org', already in 'chatty_domains'");
}

TEST_CASE("Proxy Pattern entries are checked: shape, keys, types, patterns, duplicates") {
  CHECK(configError(R"(- filter: domain_classifier
  config:
    patterns:
      - .openai.com
      - {pattern: .openai.com}
      - {pattern: .openai.com, proxy: maybe}
      - {pattern: .openai.com, proxy: true, proxi: false}
      - {pattern: "", proxy: true}
      - pattern: .OpenAI.com.
        proxy: false
      - {pattern: api.openai.com, proxy: true}
      - {pattern: API.openai.com, proxy: true})") ==
        "filters.yaml:4: each item of 'patterns' must be a map {pattern, proxy}\n"
        "filters.yaml:5: missing 'proxy'\n"
        "filters.yaml:6: 'proxy' must be true or false\n"
        "filters.yaml:7: unknown key 'proxi' in a 'patterns' item, did you mean 'proxy'?\n"
        "filters.yaml:8: patterns: empty domain pattern\n"
        "filters.yaml:9: patterns: domain pattern '.OpenAI.com.' repeats '.openai.com', already "
        "in 'patterns' with the opposite 'proxy'\n"
        "filters.yaml:12: patterns: domain pattern 'API.openai.com' repeats 'api.openai.com', "
        "already in 'patterns'");
  CHECK(configError("- filter: domain_classifier\n  config: {patterns: {a: b}}\n") ==
        "filters.yaml:2: 'patterns' must be a list");
}

TEST_CASE("compile() without YAML names each bad entry by its field and index") {
  DomainClassifierConfig config;
  config.patterns = {{".ok.example", true}, {"bad..example", false}};
  config.ai_domains = {"api.openai.com", "*"};
  config.chatty_domains = {"x.example", "X.example"};
  auto built = DomainClassifier::compile(config);
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().code == "config");
  CHECK(built.error().message ==
        "patterns[1].pattern: domain pattern 'bad..example': empty label (two dots in a row, or "
        "a leading dot)\n"
        "ai_domains[1]: domain pattern '*': names no domain, only '*' labels (use the "
        "classifier's 'default' for hosts no pattern names)\n"
        "chatty_domains[1]: domain pattern 'X.example' repeats 'x.example', already in "
        "'chatty_domains'");

  config.patterns.pop_back();
  config.ai_domains.pop_back();
  config.chatty_domains.pop_back();
  config.default_action = DefaultAction::Intercept;
  auto good = DomainClassifier::compile(config);
  REQUIRE(good.ok());
  CHECK((*good)->config().ai_domains == std::vector<std::string>{"api.openai.com"});
  CHECK((*good)->config().patterns.size() == 1);
  CHECK((*good)->classify("a.ok.example").traffic_class == TrafficClass::Ai);
  CHECK((*good)->classify("elsewhere.example").intercept);
}

// ---- the default lists -----------------------------------------------------------------------

std::string sourceDir() {
  const char* env = std::getenv("AIWARDEN_SRC");
  if (env != nullptr && env[0] != '\0') return env;
  return AIW_SOURCE_DIR;
}

void checkDefaultLists(FilterFactory& f) {
  CHECK(decide(f, "api.openai.com") == "ai+intercept");
  CHECK(decide(f, "chatgpt.com") == "ai+intercept");
  CHECK(decide(f, "api.anthropic.com") == "ai+intercept");
  CHECK(decide(f, "claude.ai") == "ai+intercept");
  CHECK(decide(f, "api.githubcopilot.com") == "ai+intercept");
  CHECK(decide(f, "api.individual.githubcopilot.com") == "ai+intercept");
  CHECK(decide(f, "generativelanguage.googleapis.com") == "ai+intercept");
  CHECK(decide(f, "bedrock-runtime.eu-central-1.amazonaws.com") == "ai+intercept");
  CHECK(decide(f, "myresource.openai.azure.com") == "ai+intercept");
  CHECK(decide(f, "registry.npmjs.org") == "chatty");
  CHECK(decide(f, "o1234.ingest.sentry.io") == "chatty");
  CHECK(decide(f, "ab.chatgpt.com") == "chatty");
  CHECK(decide(f, "s3.eu-central-1.amazonaws.com") == "unknown");
  CHECK(decide(f, "example.com") == "unknown");
  CHECK(decide(f, "www.googleapis.com") == "unknown");
}

TEST_CASE("the shipped filters.d/20-domain_classifier.yaml loads and classifies the big names") {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(sourceDir()) / "filters.d";
  REQUIRE(fs::exists(dir / "20-domain_classifier.yaml"));
  // Through the real loader, as `aiwarden -c` reads a filters_dir.
  Result<Config> config = loadConfigText("filters_dir: " + dir.string() + "\n", "test.yaml", "");
  REQUIRE_MESSAGE(config.ok(), (config.ok() ? std::string() : config.error().message));
  const FilterSpec* spec = nullptr;
  for (const auto& s : config->filters) {
    if (s.filter == "domain_classifier") spec = &s;
  }
  REQUIRE(spec != nullptr);
  auto built = builtinFilterRegistry().build(*spec);
  REQUIRE_MESSAGE(built.ok(), (built.ok() ? std::string() : built.error().message));
  checkDefaultLists(*built.value());
  auto* factory = dynamic_cast<DomainClassifierFactory*>(built.value().get());
  REQUIRE(factory != nullptr);
  CHECK(factory->classifier().config().default_action == DefaultAction::Bypass);
  CHECK(factory->classifier().config().ai_domains.size() > 20);
  CHECK(factory->classifier().config().chatty_domains.size() > 20);
}

TEST_CASE("the embedded default chain carries the same domain_classifier stage") {
  Result<Config> config = loadEmbeddedDefaultConfig();
  REQUIRE(config.ok());
  const FilterSpec* spec = nullptr;
  for (const auto& s : config->filters) {
    if (s.filter == "domain_classifier") spec = &s;
  }
  REQUIRE(spec != nullptr);
  CHECK(spec->file == "<embedded>/filters.d/20-domain_classifier.yaml");
  auto built = builtinFilterRegistry().build(*spec);
  REQUIRE(built.ok());
  checkDefaultLists(*built.value());
}

}  // namespace
}  // namespace aiw

namespace aiw {
namespace {

StreamInfo plainRequest(FilterFactory& factory, const std::string& host, Verdict& verdict) {
  auto filter = factory.createStreamFilter();
  REQUIRE(filter != nullptr);
  static ConnectionInfo plain_connection;  // absolute-form: no CONNECT
  StreamInfo s;
  s.connection = &plain_connection;
  s.host = host;
  Headers h;
  verdict = filter->onRequestHeaders(s, h, true);
  return s;
}

TEST_CASE("plain HTTP requests are classified per request: ai hosts are inspected") {
  auto f = classifier("{ai_domains: [.openai.com], chatty_domains: [.npmjs.org]}");
  Verdict v;
  StreamInfo ai = plainRequest(*f, "api.openai.com", v);
  CHECK(v.action == Action::Continue);
  CHECK(ai.inspect);
  CHECK(ai.traffic_class == TrafficClass::Ai);
  StreamInfo chatty = plainRequest(*f, "registry.npmjs.org", v);
  CHECK(v.action == Action::Continue);
  CHECK_FALSE(chatty.inspect);
  CHECK(chatty.traffic_class == TrafficClass::Chatty);
}

TEST_CASE("plain HTTP to a host no list names is refused under default block") {
  auto f = classifier("{ai_domains: [.openai.com], default: block}");
  Verdict v;
  plainRequest(*f, "example.org", v);
  CHECK(v.action == Action::Block);
  CHECK(v.status == 403);
  CHECK(f->counts().default_blocked == 1);
}

TEST_CASE("exchanges of an intercepted CONNECT keep their connection's classification") {
  auto f = classifier("{ai_domains: [.openai.com], default: block}");
  auto filter = f->createStreamFilter();
  ConnectionInfo conn;
  conn.is_connect = true;
  StreamInfo s;
  s.connection = &conn;
  s.host = "example.org";
  s.inspect = true;
  Headers h;
  CHECK(filter->onRequestHeaders(s, h, true).action == Action::Continue);
  CHECK(s.inspect);
}

}  // namespace
}  // namespace aiw
