// Rules (SPEC §6): validation of JSON and YAML rulesets (every error at once, located), the
// match_* criteria one by one, precedence, and the JSON round trip.
#include "filters/rule_evaluator/rules.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>
#include <vector>

namespace aiw {
namespace {

std::shared_ptr<const RuleSet> rulesOf(const std::string& json) {
  auto set = RuleSet::fromJson(json);
  REQUIRE_MESSAGE(set.ok(), (set.ok() ? std::string() : set.error().message));
  return std::move(set).value();
}

std::string rulesError(const std::string& json) {
  auto set = RuleSet::fromJson(json);
  REQUIRE_MESSAGE(!set.ok(), ("accepted: " + json));
  CHECK(set.error().code == "invalid_rules");
  return set.error().message;
}

// The one rule of {"rules":[<rule>]}.
Rule ruleOf(const std::string& rule) {
  auto set = rulesOf(R"({"rules":[)" + rule + "]}");
  REQUIRE(set->rules().size() == 1);
  return set->rules()[0];
}

// The error of {"rules":[<rule>]}.
std::string ruleError(const std::string& rule) { return rulesError(R"({"rules":[)" + rule + "]}"); }

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string yamlWhere(const YAML::Node& node) {
  return "rules.yaml:" + std::to_string(node.Mark().line + 1);
}

Result<std::shared_ptr<const RuleSet>> fromYamlText(const std::string& yaml) {
  YAML::Node root = YAML::Load(yaml);
  return RuleSet::fromYaml(root["rules"], yamlWhere);
}

const char* evaluated(const RuleSet& set, const RuleFacts& facts) {
  const Rule* rule = set.evaluate(facts);
  return rule == nullptr ? "(allow)" : rule->name.c_str();
}

// SPEC §6's example, verbatim.
constexpr const char* kSeedRule = R"({
  "name": "block python",
  "action": "block",
  "match_tool": "python_exec",
  "match_args": {"user": "external"},
  "match_metadata": {"tenant": "beta"},
  "match_pattern": "(?i)suspicious",
  "block_reason": "high risk",
  "param_overrides": {"expression": "0"},
  "response_override": {"status": "masked"},
  "priority": 50
})";

// A call that satisfies every criterion of the seed rule.
RuleFacts seedCall() {
  RuleFacts f;
  f.tool = "python_exec";
  f.args_json = R"({"expression":"import os","user":"external"})";
  f.metadata_json = R"({"region":"eu","tenant":"beta"})";
  f.matched_patterns = {"block python"};
  f.scanned = true;
  f.klass = RuleClass::Tool;
  f.has_class = true;
  return f;
}

TEST_CASE("the seed rule is read as written") {
  Rule r = ruleOf(kSeedRule);
  CHECK(r.name == "block python");
  CHECK(r.action == RuleAction::Block);
  CHECK(r.priority == 50);
  CHECK(r.match_tool == "python_exec");
  CHECK(r.match_args_json == R"({"user":"external"})");
  CHECK(r.match_metadata_json == R"({"tenant":"beta"})");
  CHECK(r.match_pattern == "(?i)suspicious");
  CHECK(r.block_reason == "high risk");
  CHECK(r.param_overrides_json == R"({"expression":"0"})");
  CHECK(r.response_override_json == R"({"status":"masked"})");
  CHECK_FALSE(r.redact);
  CHECK(r.patternDetectorId() == "rule:block python");
}

TEST_CASE("the seed rule matches a call meeting every criterion and fails when any one differs") {
  auto set = rulesOf(std::string(R"({"rules":[)") + kSeedRule + "]}");
  const Rule& rule = set->rules()[0];
  CHECK(RuleSet::matches(rule, seedCall()));
  CHECK(set->evaluate(seedCall()) == &rule);

  struct Case {
    const char* what;
    std::function<void(RuleFacts&)> change;
  };
  const Case cases[] = {
      {"another tool", [](RuleFacts& f) { f.tool = "shell_exec"; }},
      {"no tool", [](RuleFacts& f) { f.tool = ""; }},
      {"another user", [](RuleFacts& f) { f.args_json = R"({"user":"internal"})"; }},
      {"no user argument", [](RuleFacts& f) { f.args_json = R"({"expression":"1"})"; }},
      {"no arguments", [](RuleFacts& f) { f.args_json = ""; }},
      {"another tenant", [](RuleFacts& f) { f.metadata_json = R"({"tenant":"alpha"})"; }},
      {"no metadata", [](RuleFacts& f) { f.metadata_json = ""; }},
      {"pattern not found", [](RuleFacts& f) { f.matched_patterns.clear(); }},
      {"another rule's pattern", [](RuleFacts& f) { f.matched_patterns = {"other"}; }},
      {"not scanned", [](RuleFacts& f) { f.scanned = false; }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    RuleFacts f = seedCall();
    c.change(f);
    CHECK_FALSE(RuleSet::matches(rule, f));
    CHECK(set->evaluate(f) == nullptr);
  }
}

// One criterion at a time: each row is a rule's match_* members and a change to the facts.
struct CriterionCase {
  const char* match;  // members added to {"name":"r","action":"log", ...}
  std::function<void(RuleFacts&)> facts;
  bool expected;
};

void checkCriteria(const std::vector<CriterionCase>& cases) {
  for (const auto& c : cases) {
    Rule rule = ruleOf(std::string(R"({"name":"r","action":"log",)") + c.match + "}");
    RuleFacts f;
    c.facts(f);
    CAPTURE(c.match);
    CAPTURE(f.tool);
    CAPTURE(f.args_json);
    CAPTURE(f.host);
    CAPTURE(f.path);
    CAPTURE(f.method);
    CAPTURE(f.model);
    CHECK(RuleSet::matches(rule, f) == c.expected);
  }
}

TEST_CASE("a rule without criteria matches every exchange") {
  Rule r = ruleOf(R"({"name":"all","action":"log"})");
  CHECK(RuleSet::matches(r, RuleFacts{}));
}

TEST_CASE("a rule's match_tool compares the tool name exactly") {
  checkCriteria({
      {R"("match_tool":"python_exec")", [](RuleFacts& f) { f.tool = "python_exec"; }, true},
      {R"("match_tool":"python_exec")", [](RuleFacts& f) { f.tool = "Python_exec"; }, false},
      {R"("match_tool":"python_exec")", [](RuleFacts& f) { f.tool = "python_exec2"; }, false},
      {R"("match_tool":"python_exec")", [](RuleFacts&) {}, false},
  });
}

TEST_CASE(
    "a rule's match_args needs every member present and deep-equal, by value and not by spelling") {
  auto args = [](const char* json) { return [json](RuleFacts& f) { f.args_json = json; }; };
  checkCriteria({
      {R"("match_args":{"n":1})", args(R"({"n":1.0,"other":true})"), true},
      {R"("match_args":{"n":1})", args(R"({"n":1e0})"), true},
      {R"("match_args":{"n":1})", args(R"({"n":"1"})"), false},
      {R"("match_args":{"n":1})", args(R"({"n":2})"), false},
      {R"("match_args":{"n":1})", args(R"({"m":1})"), false},
      {R"("match_args":{"n":1,"s":"x"})", args(R"({"s":"x","n":1})"), true},
      {R"("match_args":{"n":1,"s":"x"})", args(R"({"n":1})"), false},
      {R"("match_args":{"o":{"a":1,"b":[1,2]}})", args(R"({"o":{"b":[1,2],"a":1}})"), true},
      {R"("match_args":{"o":{"a":1}})", args(R"({"o":{"a":1,"b":2}})"), false},
      {R"("match_args":{"l":[1,2]})", args(R"({"l":[2,1]})"), false},
      {R"("match_args":{"l":[1,2]})", args(R"({"l":[1,2,3]})"), false},
      {R"("match_args":{"z":null,"t":true})", args(R"({"t":true,"z":null})"), true},
      {R"("match_args":{"t":true})", args(R"({"t":1})"), false},
      {R"("match_args":{"big":9007199254740993})", args(R"({"big":9007199254740992})"), false},
      {R"("match_args":{"n":-1})", args(R"({"n":18446744073709551615})"), false},
      {R"("match_args":{})", args(R"({"any":1})"), true},
      {R"("match_args":{})", args(R"([1])"), false},
      {R"("match_args":{"n":1})", args(R"(not json)"), false},
      {R"("match_args":{"n":1})", args(R"({"n":1)"), false},
      {R"("match_args":{"n":1})", args(""), false},
  });
}

TEST_CASE("a rule's match_metadata compares the call's metadata like match_args") {
  auto meta = [](const char* json) { return [json](RuleFacts& f) { f.metadata_json = json; }; };
  checkCriteria({
      {R"("match_metadata":{"tenant":"beta"})", meta(R"({"tenant":"beta","env":"p"})"), true},
      {R"("match_metadata":{"tenant":"beta"})", meta(R"({"tenant":"Beta"})"), false},
      {R"("match_metadata":{"tenant":"beta"})", meta(R"("beta")"), false},
      {R"("match_metadata":{"tenant":"beta"})", meta(""), false},
  });
  // The arguments are not the metadata.
  checkCriteria({{R"("match_metadata":{"tenant":"beta"})",
                  [](RuleFacts& f) { f.args_json = R"({"tenant":"beta"})"; }, false}});
}

TEST_CASE("a rule's match_pattern holds only when the scan ran and found this rule's pattern") {
  auto found = [](std::vector<std::string_view> names, bool scanned) {
    return [names, scanned](RuleFacts& f) {
      f.matched_patterns = names;
      f.scanned = scanned;
    };
  };
  checkCriteria({
      {R"("match_pattern":"(?i)secret")", found({"x", "r"}, true), true},
      {R"("match_pattern":"(?i)secret")", found({"x"}, true), false},
      {R"("match_pattern":"(?i)secret")", found({}, true), false},
      {R"("match_pattern":"(?i)secret")", found({"r"}, false), false},
  });
}

TEST_CASE("a rule's match_host follows the domain pattern rules, case-insensitively") {
  auto host = [](const char* h) { return [h](RuleFacts& f) { f.host = h; }; };
  checkCriteria({
      {R"("match_host":".example.com")", host("example.com"), true},
      {R"("match_host":".example.com")", host("api.example.com"), true},
      {R"("match_host":".example.com")", host("a.b.example.com"), true},
      {R"("match_host":".example.com")", host("badexample.com"), false},
      {R"("match_host":".example.com")", host("example.com.evil.net"), false},
      {R"("match_host":"api.example.com")", host("api.example.com"), true},
      {R"("match_host":"api.example.com")", host("API.Example.COM"), true},
      {R"("match_host":"api.example.com")", host("www.api.example.com"), false},
      {R"("match_host":"API.Example.com")", host("api.example.com"), true},
      {R"("match_host":"*.example.com")", host("api.example.com"), true},
      {R"("match_host":"*.example.com")", host("a.b.example.com"), false},
      {R"("match_host":"*.example.com")", host("example.com"), false},
      {R"("match_host":"bedrock-runtime.*.amazonaws.com")",
       host("bedrock-runtime.us-east-1.amazonaws.com"), true},
      {R"("match_host":"bedrock-runtime.*.amazonaws.com")", host("s3.us-east-1.amazonaws.com"),
       false},
      {R"("match_host":"10.0.0.7")", host("10.0.0.7"), true},
      {R"("match_host":".example.com")", host(""), false},
  });
}

TEST_CASE("a rule's match_path is a glob over the path without its query") {
  auto path = [](const char* p) { return [p](RuleFacts& f) { f.path = p; }; };
  checkCriteria({
      {R"("match_path":"/v1/*")", path("/v1/chat/completions"), true},
      {R"("match_path":"/v1/*")", path("/v1/chat/completions?stream=true"), true},
      {R"("match_path":"/v1/*")", path("/v2/chat"), false},
      {R"("match_path":"/v1/*/completions")", path("/v1/a/b/completions"), true},
      {R"("match_path":"/v1/*/completions")", path("/v1/chat/completions/x"), false},
      {R"("match_path":"/v1/chat")", path("/v1/chat?x=/y"), true},
      {R"("match_path":"/v1/chat")", path("/v1/chat/completions"), false},
      {R"("match_path":"/v?/models")", path("/v2/models"), true},
      {R"("match_path":"/v?/models")", path("/v10/models"), false},
      {R"("match_path":"/V1/*")", path("/v1/chat"), false},
      {R"("match_path":"*completions")", path("/v1/chat/completions"), true},
      {R"("match_path":"/a.b")", path("/aXb"), false},
      {R"("match_path":"/*")", path(""), false},
  });
}

TEST_CASE("a rule's match_method compares methods upper-case, a string or any of a list") {
  auto method = [](const char* m) { return [m](RuleFacts& f) { f.method = m; }; };
  checkCriteria({
      {R"("match_method":"post")", method("POST"), true},
      {R"("match_method":"POST")", method("post"), true},
      {R"("match_method":"POST")", method("GET"), false},
      {R"("match_method":["GET","PUT"])", method("PUT"), true},
      {R"("match_method":["GET","PUT"])", method("POST"), false},
      {R"("match_method":"POST")", method(""), false},
  });
  CHECK(ruleOf(R"({"name":"r","action":"log","match_method":["get","Patch"]})").match_method ==
        std::vector<std::string>{"GET", "PATCH"});
}

TEST_CASE("a rule's match_model is a case-insensitive glob over the model") {
  auto model = [](const char* m) { return [m](RuleFacts& f) { f.model = m; }; };
  checkCriteria({
      {R"("match_model":"gpt-4*")", model("gpt-4o"), true},
      {R"("match_model":"GPT-4*")", model("gpt-4o-mini"), true},
      {R"("match_model":"gpt-4*")", model("gpt-3.5-turbo"), false},
      {R"("match_model":"claude-?-opus*")", model("claude-3-opus-20240229"), true},
      {R"("match_model":"claude-?-opus*")", model("claude-3-5-sonnet"), false},
      {R"("match_model":"gpt-4o")", model("gpt-4o-mini"), false},
      {R"("match_model":"*")", model(""), false},
  });
}

TEST_CASE("a rule's match_detector takes detector ids and category wildcards, only after a scan") {
  auto found = [](std::vector<std::string_view> ids, bool scanned = true) {
    return [ids, scanned](RuleFacts& f) {
      f.detectors = ids;
      f.scanned = scanned;
    };
  };
  checkCriteria({
      {R"("match_detector":"secret.aws_access_key")", found({"pii.email", "secret.aws_access_key"}),
       true},
      {R"("match_detector":"secret.aws_access_key")", found({"secret.aws_access_key_id"}), false},
      {R"("match_detector":"secret.*")", found({"secret.github_token"}), true},
      {R"("match_detector":"secret.*")", found({"pii.email"}), false},
      {R"("match_detector":"secret.*")", found({"secrets.x"}), false},
      {R"("match_detector":"pii.*")", found({"pii.email"}), true},
      {R"("match_detector":["pii.*","injection.*"])", found({"injection.ignore_previous"}), true},
      {R"("match_detector":["pii.*","injection.*"])", found({"secret.x"}), false},
      {R"("match_detector":"secret.*")", found({}), false},
      {R"("match_detector":"secret.*")", found({"secret.github_token"}, false), false},
  });
}

TEST_CASE("a rule's match_class holds for the listed classes of a known class only") {
  auto klass = [](RuleClass c, bool known = true) {
    return [c, known](RuleFacts& f) {
      f.klass = c;
      f.has_class = known;
    };
  };
  checkCriteria({
      {R"("match_class":"tool")", klass(RuleClass::Tool), true},
      {R"("match_class":"tool")", klass(RuleClass::Ai), false},
      {R"("match_class":["ai","mcp"])", klass(RuleClass::Mcp), true},
      {R"("match_class":["ai","mcp"])", klass(RuleClass::Tool), false},
      {R"("match_class":"ai")", klass(RuleClass::Ai, false), false},
  });
}

TEST_CASE("the first rule in ascending priority decides; ties keep the order given") {
  auto set = rulesOf(R"({"rules":[
    {"name":"late block","action":"block","priority":100,"match_tool":"t"},
    {"name":"tool log","action":"log","priority":10,"match_tool":"t"},
    {"name":"tool allow","action":"allow","priority":10,"match_tool":"t"},
    {"name":"host block","action":"block","priority":-5,"match_host":".evil.com"},
    {"name":"default prio","action":"log","match_model":"gpt-*"}
  ]})");
  std::vector<std::string> order;
  for (const auto& r : set->rules()) order.push_back(r.name);
  CHECK(order == std::vector<std::string>{"host block", "default prio", "tool log", "tool allow",
                                          "late block"});

  struct Case {
    const char* tool;
    const char* host;
    const char* model;
    const char* expected;
  };
  const Case cases[] = {
      {"t", "api.openai.com", "", "tool log"},
      {"t", "x.evil.com", "", "host block"},
      {"t", "api.openai.com", "gpt-4o", "default prio"},
      {"", "api.openai.com", "gpt-4o", "default prio"},
      {"", "api.openai.com", "claude", "(allow)"},
      {"u", "evil.com", "", "host block"},
  };
  for (const Case& c : cases) {
    RuleFacts f;
    f.tool = c.tool;
    f.host = c.host;
    f.model = c.model;
    CAPTURE(c.tool);
    CAPTURE(c.host);
    CAPTURE(c.model);
    CHECK(std::string(evaluated(*set, f)) == c.expected);
  }
}

TEST_CASE("no matching rule, or no rules at all, means allow") {
  auto none = rulesOf(R"({"rules":[]})");
  CHECK(none->empty());
  CHECK(none->evaluate(seedCall()) == nullptr);
  auto some = rulesOf(R"({"rules":[{"name":"b","action":"block","match_tool":"other"}]})");
  CHECK(some->evaluate(seedCall()) == nullptr);
  CHECK(ruleActionName(RuleAction::Allow) == "allow");
}

TEST_CASE("every invalid rule of a ruleset is reported, each line located") {
  std::string message = rulesError(R"({"rules":[
    {"name":"a","action":"deny"},
    {"name":"fine","action":"log"},
    {"action":"block"},
    {"name":"c","action":"log","match_pattern":"(a)\\1"}
  ]})");
  auto lines = linesOf(message);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "rules[0].action: unknown action 'deny' (expected allow, block, modify, log)");
  CHECK(lines[1] == "rules[2].name: missing (every rule needs a unique name)");
  CHECK(lines[2].starts_with("rules[3].match_pattern: invalid regex '(a)\\1': "));
}

TEST_CASE("an unknown key in a rule is an error with a did-you-mean") {
  CHECK(ruleError(R"({"name":"r","action":"log","match_tol":"x"})") ==
        "rules[0]: unknown key 'match_tol', did you mean 'match_tool'?");
  CHECK(ruleError(R"({"name":"r","action":"log","block_resaon":"x"})") ==
        "rules[0]: unknown key 'block_resaon', did you mean 'block_reason'?");
  CHECK(ruleError(R"({"name":"r","action":"log","zzz":1})").find("unknown key 'zzz'") !=
        std::string::npos);
  CHECK(rulesError(R"({"rule":[]})").find("did you mean 'rules'?") != std::string::npos);
}

TEST_CASE("duplicate names are refused, naming both rules") {
  CHECK(rulesError(R"({"rules":[{"name":"x","action":"log"},{"name":"y","action":"log"},
                                {"name":"x","action":"block"}]})") ==
        "rules[2].name: duplicate name 'x' (also rules[0])");
}

TEST_CASE("wrong types and bad values in a rule are refused with the field named") {
  struct Case {
    const char* members;  // added to {"name":"r", ...}
    const char* error;
  };
  const Case cases[] = {
      {R"("action":"log","priority":"5")", "rules[0].priority: must be an integer (got a string)"},
      {R"("action":"log","priority":1.5)", "rules[0].priority: must be an integer (got 1.5)"},
      {R"("action":"log","priority":18446744073709551615)",
       "rules[0].priority: out of range (a 64-bit signed integer)"},
      {R"("action":"log","redact":"yes")", "rules[0].redact: must be true or false (got a string)"},
      {R"("action":"log","match_args":[1])", "rules[0].match_args: must be an object (got a list)"},
      {R"("action":"log","match_metadata":"x")",
       "rules[0].match_metadata: must be an object (got a string)"},
      {R"("action":"modify","param_overrides":"x")",
       "rules[0].param_overrides: must be an object (got a string)"},
      {R"("action":"log","match_tool":5)", "rules[0].match_tool: must be a string (got a number)"},
      {R"("action":"log","match_tool":"")",
       "rules[0].match_tool: must not be empty (leave the key out instead)"},
      {R"("action":"log","match_method":5)",
       "rules[0].match_method: must be a string or a list of strings (got a number)"},
      {R"("action":"log","match_method":["GET",5])",
       "rules[0].match_method[1]: must be a string (got a number)"},
      {R"("action":"log","match_method":[])",
       "rules[0].match_method: must not be an empty list (leave the key out instead)"},
      {R"("action":"log","match_method":"GE T")",
       "rules[0].match_method: unknown method 'GE T' (not an HTTP method token)"},
      {R"("action":"log","match_class":["ai","agent"])",
       "rules[0].match_class[1]: unknown class 'agent' (expected ai, tool, mcp)"},
      {R"("action":"log","match_detector":"secret*")",
       "rules[0].match_detector: bad wildcard 'secret*': '*' only as a whole category, as in "
       "'secret.*'"},
      {R"("action":"log","match_detector":"*.key")",
       "rules[0].match_detector: bad wildcard '*.key': '*' only as a whole category, as in "
       "'secret.*'"},
      {R"("action":"log","match_host":"a*b.example.com")",
       "rules[0].match_host: domain pattern 'a*b.example.com': '*' must be a whole label (as in "
       "'*.example.com'), not part of 'a*b'"},
      {R"("action":"log","match_path":"v1/*")",
       "rules[0].match_path: glob 'v1/*' can never match: paths start with '/'"},
      {R"("action":"log","block_reason":"a\r\nX-Injected: 1")",
       "rules[0].block_reason: must not contain control characters"},
      {R"("action":"modify")",
       "rules[0].action: modify has nothing to do: give param_overrides, response_override or "
       "redact: true"},
      {R"("action":"modify","redact":false,"param_overrides":{})",
       "rules[0].action: modify has nothing to do: give param_overrides, response_override or "
       "redact: true"},
      {R"("action":"log","action":"block")", "rules[0]: duplicate key 'action'"},
      {R"("action":["log"])", "rules[0].action: must be a string (got a list)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.members);
    CHECK(ruleError(std::string(R"({"name":"r",)") + c.members + "}") == c.error);
  }
  CHECK(ruleError(R"j({"name":"r","action":"log","match_pattern":"a(?=b)"})j")
            .starts_with("rules[0].match_pattern: invalid regex 'a(?=b)': "));
  CHECK(ruleError(R"({"name":"","action":"log"})") ==
        "rules[0].name: must not be empty (leave the key out instead)");
  CHECK(ruleError(R"("just a string")") == "rules[0]: a rule must be an object (got a string)");
  std::string deep = R"({"name":"r","action":"log","match_args":{"a":)";
  for (int i = 0; i < 40; ++i) deep += "[";
  for (int i = 0; i < 40; ++i) deep += "]";
  CHECK(ruleError(deep + "}}") == "rules[0].match_args: nested deeper than 32 levels");
}

TEST_CASE("valid rule variants are accepted: modify alone with redact, block without reason") {
  CHECK(ruleOf(R"({"name":"r","action":"modify","redact":true})").redact);
  CHECK(ruleOf(R"({"name":"r","action":"modify","response_override":"masked"})")
            .response_override_json == R"("masked")");
  CHECK(ruleOf(R"({"name":"r","action":"block"})").block_reason.empty());
  CHECK(ruleOf(R"({"name":"r","action":"log","priority":-3,"match_tool":null})").priority == -3);
  CHECK(ruleOf(R"({"name":"r","action":"log","description":"why this rule exists"})").description ==
        "why this rule exists");
  CHECK(ruleOf(R"({"name":"r","action":"log","match_host":".OpenAI.com."})").match_host ==
        ".openai.com");
}

TEST_CASE("a document that is not {\"rules\": [...]} is refused") {
  CHECK(rulesError("[]") == "a ruleset must be an object {\"rules\": [...]} (got a list)");
  CHECK(rulesError("{}") == "rules: missing (a ruleset is {\"rules\": [...]})");
  CHECK(rulesError(R"({"rules":{}})") == "rules: must be a list (got an object)");
  CHECK(rulesError("{\"rules\": [\n  {\"name\": \"x\",}\n]}") ==
        "invalid JSON at line 2, column 16: Missing a name for object member.");
  CHECK(rulesError("").starts_with("invalid JSON at line 1, column 1: "));
}

TEST_CASE("a ruleset's toJson round-trips every field, in priority order") {
  auto set = rulesOf(R"({"rules":[
    {"name":"everything","description":"all fields","action":"modify","priority":7,
     "match_tool":"t","match_args":{"a":[1,2.5,{"b":null}]},"match_metadata":{"m":"v"},
     "match_pattern":"(?i)x\"y","match_host":"*.example.com","match_path":"/v1/*",
     "match_method":"post","match_model":"gpt-*","match_detector":["secret.*","pii.email"],
     "match_class":["tool","mcp"],"block_reason":"nope","param_overrides":{"p":0},
     "response_override":[1,"two"],"redact":true},
    {"name":"first","action":"allow","priority":-1},
    {"name":"seed","action":"block","match_tool":"python_exec","match_args":{"user":"external"},
     "match_metadata":{"tenant":"beta"},"match_pattern":"(?i)suspicious",
     "block_reason":"high risk","param_overrides":{"expression":"0"},
     "response_override":{"status":"masked"},"priority":50}
  ]})");
  std::string json = set->toJson();
  CHECK(json.starts_with(R"({"rules":[{"name":"first","action":"allow","priority":-1},)"));
  auto again = rulesOf(json);
  CHECK(again->rules() == set->rules());
  CHECK(again->toJson() == json);
  CHECK(json.find(R"("match_method":["POST"])") != std::string::npos);
  CHECK(json.find(R"("match_pattern":"(?i)x\"y")") != std::string::npos);
  CHECK(json.find(R"("response_override":[1,"two"])") != std::string::npos);
  CHECK(rulesOf(R"({"rules":[]})")->toJson() == R"({"rules":[]})");
}

TEST_CASE("YAML rules are checked like JSON ones, errors located as FILE:LINE") {
  auto set = fromYamlText(R"(rules:
  - name: fine
    action: log
  - name: bad action
    action: deny
  - name: typo
    action: log
    match_tol: x
  - name: fine
    action: block
    priority: "5"
)");
  REQUIRE_FALSE(set.ok());
  CHECK(set.error().code == "invalid_rules");
  auto lines = linesOf(set.error().message);
  REQUIRE(lines.size() == 4);
  CHECK(
      lines[0] ==
      "rules.yaml:5: rules[1].action: unknown action 'deny' (expected allow, block, modify, log)");
  CHECK(lines[1] == "rules.yaml:8: rules[2]: unknown key 'match_tol', did you mean 'match_tool'?");
  CHECK(lines[2] == "rules.yaml:11: rules[3].priority: must be an integer (got a string)");
  CHECK(lines[3] == "rules.yaml:9: rules[3].name: duplicate name 'fine' (also rules[0])");

  auto not_list = fromYamlText("rules: {name: x}\n");
  REQUIRE_FALSE(not_list.ok());
  CHECK(not_list.error().message == "rules.yaml:1: rules: must be a list of rules");
  auto inf = fromYamlText("rules:\n  - name: r\n    action: log\n    match_args: {x: .inf}\n");
  REQUIRE_FALSE(inf.ok());
  CHECK(inf.error().message ==
        "rules.yaml:4: rules[0].match_args: .inf has no JSON form (JSON numbers are finite)");
}

TEST_CASE(
    "YAML rule scalars keep text fields text and type JSON-valued fields by the core schema") {
  auto set = fromYamlText(R"(rules:
  - name: 2024
    action: block
    priority: 0x10
    match_method: [get, post]
    match_args: {retries: 3, ratio: 0.5, flag: true, label: "3", none: ~, yes_word: yes}
    match_metadata: {tenant: beta}
    response_override: {status: masked, code: -7}
    redact: true
  - name: block python
    action: block
    match_tool: python_exec
    match_args: {user: external}
    match_metadata: {tenant: beta}
    match_pattern: (?i)suspicious
    block_reason: high risk
    param_overrides: {expression: "0"}
    response_override: {status: masked}
    priority: 50
)");
  REQUIRE_MESSAGE(set.ok(), (set.ok() ? std::string() : set.error().message));
  const Rule& r = (*set)->rules()[0];
  CHECK(r.name == "2024");
  CHECK(r.priority == 16);
  CHECK(r.match_method == std::vector<std::string>{"GET", "POST"});
  CHECK(r.match_args_json ==
        R"({"retries":3,"ratio":0.5,"flag":true,"label":"3","none":null,"yes_word":"yes"})");
  CHECK(r.response_override_json == R"({"status":"masked","code":-7})");
  CHECK(r.redact);

  RuleFacts f;
  f.args_json =
      R"({"label":"3","retries":3.0,"ratio":0.5,"flag":true,"none":null,"yes_word":"yes"})";
  f.metadata_json = R"({"tenant":"beta"})";
  f.method = "post";
  CHECK(RuleSet::matches(r, f));
  f.args_json = R"({"label":3,"retries":3,"ratio":0.5,"flag":true,"none":null,"yes_word":"yes"})";
  CHECK_FALSE(RuleSet::matches(r, f));

  // The seed rule written in YAML is the same rule as the JSON one.
  CHECK((*set)->rules()[1] == ruleOf(kSeedRule));
  // And a YAML ruleset round-trips through JSON.
  CHECK(rulesOf((*set)->toJson())->rules() == (*set)->rules());

  auto yes = fromYamlText("rules:\n  - {name: r, action: modify, redact: yes}\n");
  REQUIRE_FALSE(yes.ok());
  CHECK(yes.error().message ==
        "rules.yaml:2: rules[0].redact: must be true or false (got a string)");
  auto empty = fromYamlText("other: 1\n");
  REQUIRE(empty.ok());
  CHECK((*empty)->empty());
}

}  // namespace
}  // namespace aiw
