#include "core/config_loader.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/embedded_defaults.h"

namespace fs = std::filesystem;
using aiw::Config;
using aiw::Result;

namespace {

// A fresh directory under $TMPDIR, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && base[0] != '\0' ? base : "/tmp") + "/aiw-config-test-XXXXXX";
    char* made = mkdtemp(tmpl.data());
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string write(const std::string& relative, const std::string& text) const {
    fs::path p = fs::path(path_) / relative;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

 private:
  std::string path_;
};

// Sets (or, with nullopt, unsets) an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value) {
      setenv(name_.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

std::vector<std::string> errorLines(const Result<Config>& r) {
  std::vector<std::string> lines;
  if (r.ok()) return lines;
  std::istringstream in(r.error().message);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// True when one error line starts with `where` ("FILE:LINE:") and contains `what`.
bool reported(const Result<Config>& r, const std::string& where, const std::string& what) {
  for (const std::string& line : errorLines(r)) {
    if (line.starts_with(where + " ") && line.find(what) != std::string::npos) return true;
  }
  return false;
}

Result<Config> load(const std::string& text, const std::string& base_dir = "") {
  return aiw::loadConfigText(text, "test.yaml", base_dir);
}

const char* kSpecExample =
    R"yaml(workers: auto                 # event-loop threads; auto = number of CPUs
state_dir: ./state
drain_timeout_ms: 10000
admin:
  address: 127.0.0.1:9901
  token: ${PROXY_TOKEN}       # ${VAR} expands from the environment anywhere in the file
listeners:
  - name: system
    type: forward             # HTTP proxy: absolute-form requests and CONNECT
    address: 127.0.0.1:8080
  - name: agent
    type: sidecar             # origin-form requests: tool calls, MCP, LLM base-URL routes
    address: 127.0.0.1:8081
    admin_routes: true        # also serve /proxy/v1/{metrics,rules,sessions,reset} here
    tools:
      python_exec: http://127.0.0.1:7001/run           # POST /proxy/v1/tools/python_exec
    mcp:
      - path: /mcp
        upstream: http://127.0.0.1:7002/mcp
    routes:
      - prefix: /openai/
        upstream: https://api.openai.com/
upstream:
  ca_file: system             # or a PEM file; upstream certificates are always verified
  resolve:                    # fixed addresses, like curl --resolve (tests, split DNS)
    api.openai.com:443: 127.0.0.1:9443
  connect_timeout_ms: 5000
  idle_timeout_ms: 60000
  request_timeout_ms: 300000  # long: LLM streams can run minutes
interception:
  ca_cert: ""                 # default STATE_DIR/ca/ca.pem
  ca_key: ""                  # default STATE_DIR/ca/ca.key (mode 0600; refused if others can read it)
  leaf_validity_days: 7
  strip_alt_svc_h3: true      # keep clients on TCP so they stay visible
limits:
  max_header_bytes: 65536           # larger: 431
  max_inspect_body_bytes: 16777216  # larger request bodies: fail_mode decides
  max_connections: 20000
  header_timeout_ms: 10000          # slow header senders are cut off
sessions:
  max_sessions: 10000         # least recently active evicted first
  history: 100                # calls kept per session
fail_mode: closed             # closed: an exchange that cannot be inspected is refused; open: passed and reported
filters_dir: filters.d        # relative to this file
# or, instead of filters_dir, the chain inline, each entry shaped like a filters.d file:
# filters:
#   - filter: domain_classifier
#     config: { patterns: [{pattern: .openai.com, proxy: true}] }
)yaml";

}  // namespace

TEST_CASE("the example configuration of the specification loads with every value in place") {
  TempDir dir;
  ScopedEnv token("PROXY_TOKEN", "s3cret");
  std::string path = dir.write("aiwarden.yaml", kSpecExample);
  dir.write(
      "filters.d/20-domain_classifier.yaml",
      "filter: domain_classifier\nconfig: { patterns: [{pattern: .openai.com, proxy: true}] }\n");
  dir.write("filters.d/90-reporter.yaml", "filter: reporter\nenabled: false\n");

  Result<Config> r = aiw::loadConfigFile(path);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const Config& c = *r;
  CHECK(c.source == path);
  CHECK(c.workers == 0);
  CHECK(c.state_dir == "./state");
  CHECK(c.drain_timeout_ms == 10000);
  CHECK(c.admin.address == aiw::HostPort{"127.0.0.1", 9901});
  CHECK(c.admin.token == "s3cret");
  REQUIRE(c.listeners.size() == 2);
  CHECK(c.listeners[0].name == "system");
  CHECK(c.listeners[0].type == aiw::ListenerType::Forward);
  CHECK(c.listeners[0].address.toString() == "127.0.0.1:8080");
  const aiw::ListenerConfig& agent = c.listeners[1];
  CHECK(agent.type == aiw::ListenerType::Sidecar);
  CHECK(agent.admin_routes);
  CHECK(agent.tools.at("python_exec") == "http://127.0.0.1:7001/run");
  REQUIRE(agent.mcp.size() == 1);
  CHECK(agent.mcp[0].path == "/mcp");
  CHECK(agent.mcp[0].upstream == "http://127.0.0.1:7002/mcp");
  REQUIRE(agent.routes.size() == 1);
  CHECK(agent.routes[0].prefix == "/openai/");
  CHECK(agent.routes[0].upstream == "https://api.openai.com/");
  CHECK(c.upstream.ca_file == "system");
  CHECK(c.upstream.resolve.at("api.openai.com:443") == aiw::HostPort{"127.0.0.1", 9443});
  CHECK(c.upstream.request_timeout_ms == 300000);
  CHECK(c.interception.ca_cert.empty());
  CHECK(c.interception.leaf_validity_days == 7);
  CHECK(c.interception.strip_alt_svc_h3);
  CHECK(c.limits.max_inspect_body_bytes == 16777216);
  CHECK(c.sessions.history == 100);
  CHECK(c.fail_mode == aiw::FailMode::Closed);
  CHECK(c.filters_dir == (fs::path(dir.path()) / "filters.d").string());
  REQUIRE(c.filters.size() == 2);
  CHECK(c.filters[0].filter == "domain_classifier");
  CHECK(c.filters[0].config->IsMap());
  CHECK((*c.filters[0].config)["patterns"][0]["pattern"].Scalar() == ".openai.com");
  CHECK(c.filters[1].filter == "reporter");
  CHECK_FALSE(c.filters[1].enabled);
}

TEST_CASE("an empty configuration takes the defaults and the embedded filter chain") {
  Result<Config> r = load("# nothing but a comment\n");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const Config& c = *r;
  CHECK(c.workers == 0);
  CHECK(c.state_dir.empty());
  CHECK(c.admin.address.toString() == "127.0.0.1:9901");
  CHECK(c.admin.token.empty());
  CHECK(c.listeners.empty());
  CHECK(c.upstream.connect_timeout_ms == 5000);
  CHECK(c.limits.max_header_bytes == 65536);
  CHECK(c.sessions.max_sessions == 10000);
  CHECK(c.fail_mode == aiw::FailMode::Closed);
  CHECK(c.filters_dir.empty());
  const auto& embedded = aiw::embedded::defaultFilterFiles();
  REQUIRE(c.filters.size() == embedded.size());
  for (size_t i = 0; i < embedded.size(); ++i) {
    CHECK(c.filters[i].file == "<embedded>/filters.d/" + std::string(embedded[i].name));
    CHECK(c.filters[i].config != nullptr);
  }
}

TEST_CASE("environment variables expand anywhere in the file, with a default when unset") {
  ScopedEnv port("AIW_TEST_PORT", "8181");
  ScopedEnv port2("AIW_TEST_PORT2", "8282");
  ScopedEnv key("AIW_TEST_KEY", "fail_mode");
  ScopedEnv unset("AIW_TEST_UNSET", std::nullopt);
  ScopedEnv empty("AIW_TEST_EMPTY", "");
  Result<Config> r = load(
      "# a comment mentioning ${AIW_TEST_PORT} is harmless\n"
      "${AIW_TEST_KEY}: open\n"
      "state_dir: a$${AIW_TEST_UNSET}b\n"
      "admin:\n"
      "  address: 127.0.0.1:${AIW_TEST_PORT}\n"
      "  token: ${AIW_TEST_UNSET}\n"
      "listeners:\n"
      "  - {name: a, type: forward, address: '127.0.0.1:${AIW_TEST_UNSET:-9000}'}\n"
      "  - {name: b, type: forward, address: '127.0.0.1:${AIW_TEST_EMPTY:-9001}'}\n"
      "  - {name: c, type: forward, address: '127.0.0.1:${AIW_TEST_PORT2:-9002}'}\n"
      "filters: []\n");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  CHECK(r->fail_mode == aiw::FailMode::Open);
  CHECK(r->state_dir == "a$b");  // "$$" is not an escape
  CHECK(r->admin.address.port == 8181);
  CHECK(r->admin.token.empty());
  REQUIRE(r->listeners.size() == 3);
  CHECK(r->listeners[0].address.port == 9000);
  CHECK(r->listeners[1].address.port == 9001);  // empty counts as unset, as in the shell
  CHECK(r->listeners[2].address.port == 8282);
}

TEST_CASE("broken ${...} references are reported with their lines") {
  ScopedEnv multi("AIW_TEST_MULTILINE", "a\nfail_mode: open");
  Result<Config> r = load(
      "workers: auto\n"
      "state_dir: ${UNTERMINATED\n"
      "admin:\n"
      "  token: ${not a name}\n"
      "fail_mode: ${AIW_TEST_MULTILINE}\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "config");
  CHECK(reported(r, "test.yaml:2:", "unterminated '${'"));
  CHECK(reported(r, "test.yaml:4:", "bad environment variable name"));
  CHECK(reported(r, "test.yaml:5:", "AIW_TEST_MULTILINE contains a line break"));
}

TEST_CASE("a misspelt key is reported with its file and line and a suggestion") {
  Result<Config> r = load(
      "wokers: 4\n"
      "admin:\n"
      "  adress: 127.0.0.1:9901\n"
      "listeners:\n"
      "  - name: system\n"
      "    type: forward\n"
      "    address: 127.0.0.1:8080\n"
      "    colour: blue\n"
      "filters: []\n");
  REQUIRE_FALSE(r.ok());
  CHECK(reported(r, "test.yaml:1:", "unknown key 'wokers' (did you mean 'workers'?)"));
  CHECK(reported(r, "test.yaml:3:", "admin: unknown key 'adress' (did you mean 'address'?)"));
  CHECK(reported(r, "test.yaml:8:", "listeners[0]: unknown key 'colour'"));
  CHECK(r.error().message.find("colour' (did you mean") == std::string::npos);
  CHECK(errorLines(r).size() == 3);
}

TEST_CASE("every error in a file is reported at once with its own line") {
  const std::string text =
      "workers: 0\n"                                   // 1
      "drain_timeout_ms: -5\n"                         // 2
      "admin:\n"                                       // 3
      "  address: localhost\n"                         // 4
      "listeners:\n"                                   // 5
      "  - name: a\n"                                  // 6
      "    type: reverse\n"                            // 7
      "    address: 127.0.0.1:70000\n"                 // 8
      "  - type: sidecar\n"                            // 9
      "    address: '::1:8080'\n"                      // 10
      "    tools:\n"                                   // 11
      "      run: ftp://127.0.0.1/run\n"               // 12
      "    mcp:\n"                                     // 13
      "      - {path: mcp, upstream: http://x/}\n"     // 14
      "    routes:\n"                                  // 15
      "      - {prefix: /o/, upstream: 'http:///'}\n"  // 16
      "  - name: a\n"                                  // 17
      "    type: forward\n"                            // 18
      "    address: 127.0.0.1:9901\n"                  // 19
      "    admin_routes: true\n"                       // 20
      "upstream:\n"                                    // 21
      "  resolve:\n"                                   // 22
      "    api.openai.com: 127.0.0.1:9443\n"           // 23
      "    example.com:443: nowhere\n"                 // 24
      "  connect_timeout_ms: \"5000\"\n"               // 25
      "  idle_timeout_ms: ten\n"                       // 26
      "interception:\n"                                // 27
      "  leaf_validity_days: 5000\n"                   // 28
      "  strip_alt_svc_h3: maybe\n"                    // 29
      "limits:\n"                                      // 30
      "  max_connections: 99999999999\n"               // 31
      "sessions: [1, 2]\n"                             // 32
      "fail_mode: ajar\n"                              // 33
      "filters_dir: filters.d\n"                       // 34
      "filters: []\n";                                 // 35
  Result<Config> r = load(text);
  REQUIRE_FALSE(r.ok());
  CHECK(reported(r, "test.yaml:1:", "workers: expected 'auto' or a positive number"));
  CHECK(reported(r, "test.yaml:2:", "drain_timeout_ms: must not be negative"));
  CHECK(reported(r, "test.yaml:4:", "admin.address: missing port"));
  CHECK(reported(r, "test.yaml:7:", "listeners[0].type: expected forward or sidecar"));
  CHECK(reported(r, "test.yaml:8:", "listeners[0].address: bad port '70000'"));
  CHECK(reported(r, "test.yaml:9:", "listeners[1]: missing 'name'"));
  CHECK(reported(r, "test.yaml:10:", "needs brackets, as in [::1]:8080"));
  CHECK(reported(r, "test.yaml:12:", "listeners[1].tools.run: expected an http:// or https://"));
  CHECK(reported(r, "test.yaml:14:", "listeners[1].mcp[0].path: must start with '/'"));
  CHECK(reported(r, "test.yaml:16:", "has no host"));
  CHECK(reported(r, "test.yaml:17:", "duplicate listener name 'a' (first at line 6)"));
  CHECK(reported(r, "test.yaml:19:", "address 127.0.0.1:9901 is already used by the admin"));
  CHECK(reported(r, "test.yaml:20:", "'admin_routes' is only for sidecar listeners"));
  CHECK(reported(r, "test.yaml:23:", "upstream.resolve: missing port"));
  CHECK(reported(r, "test.yaml:24:", "upstream.resolve.example.com:443: missing port"));
  CHECK(reported(r, "test.yaml:25:", "connect_timeout_ms: expected a number, got the string"));
  CHECK(reported(r, "test.yaml:26:", "idle_timeout_ms: expected a whole number, got 'ten'"));
  CHECK(reported(r, "test.yaml:28:", "leaf_validity_days: out of range: 5000 (at most 825)"));
  CHECK(reported(r, "test.yaml:29:", "strip_alt_svc_h3: expected true or false"));
  CHECK(reported(r, "test.yaml:31:", "max_connections: out of range"));
  CHECK(reported(r, "test.yaml:32:", "sessions: expected a map, got a list"));
  CHECK(reported(r, "test.yaml:33:", "fail_mode: expected closed or open, got 'ajar'"));
  CHECK(reported(r, "test.yaml:35:", "'filters' and 'filters_dir' are both given (line 34)"));
  CHECK(errorLines(r).size() == 23);
  // Sorted by line, so the list reads top to bottom.
  std::vector<std::string> lines = errorLines(r);
  CHECK(lines.front().starts_with("test.yaml:1: "));
  CHECK(lines.back().starts_with("test.yaml:35: "));
}

TEST_CASE("body_timeout_ms and send_timeout_ms are limits of at least 1 ms, 60 s by default") {
  Result<Config> defaults = load("limits: {header_timeout_ms: 5000}\n");
  REQUIRE_MESSAGE(defaults.ok(), defaults.error().message);
  CHECK(defaults->limits.body_timeout_ms == 60000);
  CHECK(defaults->limits.send_timeout_ms == 60000);

  Result<Config> set = load(
      "limits:\n"
      "  body_timeout_ms: 1500\n"
      "  send_timeout_ms: 300000\n");
  REQUIRE_MESSAGE(set.ok(), set.error().message);
  CHECK(set->limits.body_timeout_ms == 1500);
  CHECK(set->limits.send_timeout_ms == 300000);

  Result<Config> bad = load(
      "limits:\n"                       // 1
      "  body_timeout_ms: 0\n"          // 2
      "  send_timeout_ms: \"60000\"\n"  // 3
      "  send_timeout_ms: -1\n"         // 4 (a duplicate, reported as such)
      "  body_timout_ms: 10\n");        // 5
  REQUIRE_FALSE(bad.ok());
  CHECK(reported(bad, "test.yaml:2:", "limits.body_timeout_ms: out of range: 0 (at least 1)"));
  CHECK(reported(bad, "test.yaml:3:", "send_timeout_ms: expected a number, got the string"));
  CHECK(reported(bad, "test.yaml:5:", "did you mean 'body_timeout_ms'?"));

  Result<Config> big = load("limits: {send_timeout_ms: 4294967296}\n");
  REQUIRE_FALSE(big.ok());
  CHECK(reported(big, "test.yaml:1:", "limits.send_timeout_ms: out of range"));
}

TEST_CASE("a listener needs a name, a type and an address, and sidecar keys need a sidecar") {
  Result<Config> r = load(
      "listeners:\n"
      "  - admin_routes: false\n"
      "    tools: {t: 'http://127.0.0.1:1/'}\n"
      "  - name: 'bad name'\n"
      "    type: forward\n"
      "    address: 127.0.0.1:1\n"
      "filters: []\n");
  REQUIRE_FALSE(r.ok());
  CHECK(reported(r, "test.yaml:2:", "listeners[0]: missing 'name'"));
  CHECK(reported(r, "test.yaml:2:", "listeners[0]: missing 'type'"));
  CHECK(reported(r, "test.yaml:2:", "listeners[0]: missing 'address'"));
  CHECK(reported(r, "test.yaml:4:", "bad listener name 'bad name'"));
  // Without a type it is not known to be a forward listener, so the keys are not blamed.
  CHECK(errorLines(r).size() == 4);
}

TEST_CASE("a duplicate key is reported with the line of the first one") {
  Result<Config> r = load("fail_mode: open\nworkers: 2\nfail_mode: closed\nfilters: []\n");
  REQUIRE_FALSE(r.ok());
  CHECK(reported(r, "test.yaml:3:", "duplicate key 'fail_mode' (first at line 1)"));
}

TEST_CASE("a YAML syntax error is reported with its file and line") {
  Result<Config> r = load("workers: 2\nadmin: {address: [1,\nfail_mode: open\n");
  REQUIRE_FALSE(r.ok());
  REQUIRE(errorLines(r).size() == 1);
  // yaml-cpp places "not closed" at the end of input; it is kept on the file's last line.
  CHECK(errorLines(r)[0] == "test.yaml:3: end of sequence flow not found");
  CHECK(r.error().code == "config");

  Result<Config> indent = load("admin:\n  address: 127.0.0.1:1\n token: x\n");
  REQUIRE_FALSE(indent.ok());
  CHECK(reported(indent, "test.yaml:3:", ""));

  Result<Config> empty_item = load("listeners:\n  -\nfilters:\n  - filter: a\n  - ~\n");
  CHECK(reported(empty_item, "test.yaml:3:", "listeners[0]: empty list item"));
  CHECK(reported(empty_item, "test.yaml:5:", "filters[1]: empty list item"));

  Result<Config> two_docs = load("workers: 1\n---\nworkers: 2\n");
  CHECK(reported(two_docs, "test.yaml:3:", "one YAML document only"));

  Result<Config> deep = load("filters:\n  - filter: x\n    config: {a: " +
                             std::string(5000, '[') + std::string(5000, ']') + "}\n");
  CHECK(reported(deep, "test.yaml:3:", "nested too deeply"));

  Result<Config> not_map = load("- a\n- b\n");
  CHECK(reported(not_map, "test.yaml:1:", "must be a map"));
}

TEST_CASE("addresses are host:port with a port from 1 to 65535 and IPv6 in brackets") {
  auto ok = [](std::string_view s) { return aiw::parseHostPort(s).ok(); };
  CHECK(ok("127.0.0.1:8080"));
  CHECK(ok("localhost:1"));
  CHECK(ok("0.0.0.0:65535"));
  auto v6 = aiw::parseHostPort("[::1]:8080");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 8080);
  CHECK(v6->toString() == "[::1]:8080");
  CHECK(aiw::parseHostPort("API.OpenAI.com:443")->host == "api.openai.com");
  CHECK_FALSE(ok(""));
  CHECK_FALSE(ok("localhost"));
  CHECK_FALSE(ok(":8080"));
  CHECK_FALSE(ok("host:0"));
  CHECK_FALSE(ok("host:65536"));
  CHECK_FALSE(ok("host:80x"));
  CHECK_FALSE(ok("host:"));
  CHECK_FALSE(ok("::1:8080"));
  CHECK_FALSE(ok("[::1]"));
  CHECK_FALSE(ok("[::1:8080"));
  CHECK_FALSE(ok("[nothex]:80"));
  CHECK_FALSE(ok("[]:80"));
  CHECK_FALSE(ok("bad host:80"));
}

TEST_CASE("filters_dir files are read in file-name order with their lines") {
  TempDir dir;
  dir.write("conf/aiwarden.yaml", "filters_dir: stages\n");
  dir.write("conf/stages/20-second.yml", "filter: second\nenabled: false\n");
  dir.write("conf/stages/10-first.yaml",
            "# the first stage\nfilter: first\nconfig:\n  key: value\n");
  dir.write("conf/stages/30-third.yaml", "config: {a: 1}\nfilter: third\n");
  dir.write("conf/stages/README.txt", "not a stage\n");
  dir.write("conf/stages/.#10-first.yaml", "editor lock file\n");

  Result<Config> r = aiw::loadConfigFile(dir.path() + "/conf/aiwarden.yaml");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  REQUIRE(r->filters.size() == 3);
  const aiw::FilterSpec& first = r->filters[0];
  CHECK(first.filter == "first");
  CHECK(first.enabled);
  CHECK(first.file == dir.path() + "/conf/stages/10-first.yaml");
  CHECK(first.line == 2);
  CHECK(first.config_line == 3);
  CHECK((*first.config)["key"].Scalar() == "value");
  CHECK((*first.config)["key"].Mark().line == 3);  // marks survive for the filter's errors
  const aiw::FilterSpec& second = r->filters[1];
  CHECK(second.filter == "second");
  CHECK_FALSE(second.enabled);
  REQUIRE(second.config != nullptr);
  CHECK(second.config->IsNull());
  CHECK(second.config_line == 0);
  CHECK(r->filters[2].filter == "third");
  CHECK(r->filters[2].line == 2);
  CHECK(r->filters[2].config_line == 1);
  CHECK(r->filters_dir == dir.path() + "/conf/stages");
}

TEST_CASE("a missing filters_dir is reported at the line of filters_dir") {
  TempDir dir;
  std::string path = dir.write("aiwarden.yaml", "workers: 1\nfilters_dir:\n");
  Result<Config> r = aiw::loadConfigFile(path);
  REQUIRE_FALSE(r.ok());
  CHECK(reported(r, path + ":2:", "filters_dir: cannot read " + dir.path() + "/filters.d"));
}

TEST_CASE("errors inside filters.d files name those files and lines") {
  TempDir dir;
  std::string path = dir.write("aiwarden.yaml", "filters_dir: filters.d\nfail_mode: ajar\n");
  std::string a = dir.write("filters.d/10-a.yaml", "filter: a\nconfg: {}\nenabled: sometimes\n");
  std::string b = dir.write("filters.d/20-b.yaml", "enabled: true\n");
  std::string c = dir.write("filters.d/30-c.yaml", "filter: c\nconfig: [1, 2]\n");
  std::string d = dir.write("filters.d/40-d.yaml", "filter: [d\n");
  std::string e = dir.write("filters.d/50-e.yaml", "");
  Result<Config> r = aiw::loadConfigFile(path);
  REQUIRE_FALSE(r.ok());
  CHECK(reported(r, path + ":2:", "fail_mode"));
  CHECK(reported(r, a + ":2:", "unknown key 'confg' (did you mean 'config'?)"));
  CHECK(reported(r, a + ":3:", "enabled: expected true or false"));
  CHECK(reported(r, b + ":1:", "missing 'filter'"));
  CHECK(reported(r, c + ":2:", "config: expected a map"));
  CHECK(reported(r, d + ":1:", ""));
  CHECK(reported(r, e + ":1:", "empty filter file"));
  CHECK(errorLines(r).size() == 7);
  CHECK(errorLines(r)[0].starts_with(path + ":2:"));  // the main file first
}

TEST_CASE("an inline filters list is the chain in list order") {
  Result<Config> r = load(
      "filters:\n"
      "  - filter: domain_classifier\n"
      "    config: { patterns: [{pattern: .openai.com, proxy: true}] }\n"
      "  - filter: reporter\n"
      "    enabled: false\n"
      "  - {filter: rate_limiter, extra: 1}\n"
      "  - just a string\n");
  REQUIRE_FALSE(r.ok());
  CHECK(reported(r, "test.yaml:6:", "filters[2]: unknown key 'extra'"));
  CHECK(reported(r, "test.yaml:7:", "filters[3]: expected a map"));

  Result<Config> good = load(
      "filters:\n"
      "  - filter: domain_classifier\n"
      "    config: { patterns: [{pattern: .openai.com, proxy: true}] }\n"
      "  - filter: reporter\n"
      "    enabled: false\n");
  REQUIRE_MESSAGE(good.ok(), good.error().message);
  REQUIRE(good->filters.size() == 2);
  CHECK(good->filters[0].filter == "domain_classifier");
  CHECK(good->filters[0].file == "test.yaml");
  CHECK(good->filters[0].line == 2);
  CHECK(good->filters[0].config_line == 3);
  CHECK(good->filters[1].filter == "reporter");
  CHECK_FALSE(good->filters[1].enabled);
  CHECK(good->filters[1].config->IsNull());
  CHECK(good->filters_dir.empty());

  Result<Config> none = load("filters: []\n");
  REQUIRE(none.ok());
  CHECK(none->filters.empty());  // an explicit empty chain, not the default one
}

TEST_CASE("the embedded default configuration loads as a system proxy") {
  Result<Config> r = aiw::loadEmbeddedDefaultConfig();
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  CHECK(r->source == "<embedded>");
  REQUIRE(r->listeners.size() == 1);
  CHECK(r->listeners[0].type == aiw::ListenerType::Forward);
  CHECK(r->listeners[0].address.toString() == "127.0.0.1:8080");
  CHECK(r->admin.address.toString() == "127.0.0.1:9901");
  CHECK(r->filters_dir.empty());
  const auto& files = aiw::embedded::defaultFilterFiles();
  REQUIRE(r->filters.size() == files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    CHECK(r->filters[i].file == "<embedded>/filters.d/" + std::string(files[i].name));
  }

  Result<Config> other = aiw::loadConfigText("filters_dir: elsewhere\n", "<embedded>", "");
  CHECK(reported(other, "<embedded>:1:", "can only name filters.d"));
}

TEST_CASE("print-config output loads back to the same configuration") {
  TempDir dir;
  ScopedEnv token("PROXY_TOKEN", "tok-123");
  std::string path = dir.write("aiwarden.yaml", kSpecExample);
  dir.write("filters.d/10-x.yaml",
            "filter: reporter\n"
            "config:\n"
            "  version: \"1.0\"\n"
            "  count: 3\n"
            "  flag: yes\n"
            "  empty: ~\n"
            "  text: 'true'\n"
            "  sinks: [{type: http, url: 'http://h/', headers: {Authorization: Bearer x}}]\n");
  dir.write("filters.d/20-y.yaml", "filter: pattern_matcher\nenabled: false\n");
  Result<Config> first = aiw::loadConfigFile(path);
  REQUIRE_MESSAGE(first.ok(), first.error().message);

  std::string yaml = aiw::configToYaml(*first, false);
  Result<Config> second = aiw::loadConfigText(yaml, "printed.yaml", "");
  REQUIRE_MESSAGE(second.ok(), (second.error().message + "\n" + yaml));
  auto body = [](const std::string& text) { return text.substr(text.find('\n')); };
  CHECK(body(aiw::configToYaml(*second, false)) == body(yaml));  // past the "# from" line
  CHECK(aiw::configToJson(*second).size() > 0);
  const Config& c = *second;
  CHECK(c.admin.token == "tok-123");
  CHECK(c.listeners.size() == 2);
  CHECK(c.listeners[1].tools.at("python_exec") == "http://127.0.0.1:7001/run");
  CHECK(c.upstream.resolve.at("api.openai.com:443").port == 9443);
  CHECK(c.interception.ca_cert.empty());
  CHECK(c.state_dir == "./state");
  REQUIRE(c.filters.size() == 2);
  const YAML::Node& cfg = *c.filters[0].config;
  CHECK(cfg["version"].Tag() == "!");  // still a quoted string
  CHECK(cfg["version"].Scalar() == "1.0");
  CHECK(cfg["count"].Tag() == "?");
  CHECK(cfg["text"].Tag() == "!");
  CHECK(cfg["empty"].IsNull());
  CHECK(cfg["sinks"][0]["headers"]["Authorization"].Scalar() == "Bearer x");
  CHECK_FALSE(c.filters[1].enabled);
  CHECK(c.filters[1].config->IsNull());

  std::string masked = aiw::configToYaml(*first, true);
  CHECK(masked.find("tok-123") == std::string::npos);
  CHECK(masked.find("Bearer x") == std::string::npos);
  Result<Config> reloaded = aiw::loadConfigText(masked, "masked.yaml", "");
  REQUIRE_MESSAGE(reloaded.ok(), reloaded.error().message);
  CHECK(reloaded->admin.token == "***");

  Config defaults;  // no listeners, IPv6, workers, fail_mode open
  defaults.workers = 3;
  defaults.fail_mode = aiw::FailMode::Open;
  defaults.admin.address = aiw::HostPort{"::1", 9000};
  defaults.upstream.resolve["[::1]:443"] = aiw::HostPort{"::1", 8443};
  defaults.source = "test";
  Result<Config> back = aiw::loadConfigText(aiw::configToYaml(defaults, true), "d.yaml", "");
  REQUIRE_MESSAGE(back.ok(), back.error().message);
  CHECK(back->workers == 3);
  CHECK(back->fail_mode == aiw::FailMode::Open);
  CHECK(back->admin.address.toString() == "[::1]:9000");
  CHECK(back->upstream.resolve.at("[::1]:443").toString() == "[::1]:8443");
  CHECK(back->filters.empty());
}

TEST_CASE("the config dump is JSON with the admin token masked") {
  ScopedEnv token("PROXY_TOKEN", "tok-456");
  TempDir dir;
  std::string path = dir.write("aiwarden.yaml", kSpecExample);
  dir.write("filters.d/10-x.yaml",
            "filter: reporter\nconfig: {n: 5, s: '5', b: true, api_key: k-789, list: [a]}\n");
  Result<Config> r = aiw::loadConfigFile(path);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  std::string json = aiw::configToJson(*r);
  CHECK(json.find("tok-456") == std::string::npos);
  CHECK(json.find("k-789") == std::string::npos);
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());  // with the length: RapidJSON's SSE2 scan stays inside
  REQUIRE_FALSE(doc.HasParseError());
  CHECK(std::string(doc["admin"]["token"].GetString()) == "***");
  CHECK(std::string(doc["workers"].GetString()) == "auto");
  CHECK(doc["listeners"].Size() == 2);
  CHECK(std::string(doc["listeners"][1]["tools"]["python_exec"].GetString()) ==
        "http://127.0.0.1:7001/run");
  const auto& cfg = doc["filters"][0]["config"];
  CHECK(cfg["n"].GetInt() == 5);
  CHECK(std::string(cfg["s"].GetString()) == "5");
  CHECK(cfg["b"].GetBool());
  CHECK(std::string(cfg["api_key"].GetString()) == "***");

  Config no_token;
  rapidjson::Document empty;
  std::string empty_json = aiw::configToJson(no_token);
  empty.Parse(empty_json.data(), empty_json.size());
  REQUIRE_FALSE(empty.HasParseError());
  CHECK(empty["admin"]["token"].IsNull());
}

TEST_CASE("the state directory is --state-dir, else state_dir, else XDG, else HOME") {
  ScopedEnv xdg("XDG_STATE_HOME", "/xdg/state");
  ScopedEnv home("HOME", "/home/u");
  CHECK(aiw::resolveStateDir("/cli", "./configured") == "/cli");
  CHECK(aiw::resolveStateDir("", "./configured") == "./configured");
  CHECK(aiw::resolveStateDir("", "") == "/xdg/state/aiwarden");
  {
    ScopedEnv relative("XDG_STATE_HOME", "relative/state");  // invalid per XDG: ignored
    CHECK(aiw::resolveStateDir("", "") == "/home/u/.local/state/aiwarden");
  }
  {
    ScopedEnv no_xdg("XDG_STATE_HOME", std::nullopt);
    CHECK(aiw::resolveStateDir("", "") == "/home/u/.local/state/aiwarden");
    ScopedEnv no_home("HOME", std::nullopt);
    CHECK(aiw::resolveStateDir("", "") == "/var/lib/aiwarden");
  }
}

TEST_CASE("a configuration file that cannot be read is an error naming it") {
  TempDir dir;
  Result<Config> missing = aiw::loadConfigFile(dir.path() + "/nope.yaml");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == "config");
  CHECK(missing.error().message.starts_with(dir.path() + "/nope.yaml: cannot read"));
  Result<Config> directory = aiw::loadConfigFile(dir.path());
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().message.find("is a directory") != std::string::npos);
}
