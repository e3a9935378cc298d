// Configuration loader and printer inputs found while writing and running the config_yaml fuzz
// target (tests/fuzz/config_yaml_fuzz.cc; docs/fuzzing.md, Findings): YAML aliases expanding to a
// cycle or to too many values, error lines broken by quoted control characters, a line past the
// end of the text, yaml-cpp's LoadAll() never returning, and long keys that --print-config wrote
// in a form the loader refuses, or differently the second time.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "core/config_loader.h"

using aiw::Config;
using aiw::Result;

namespace {

Result<Config> load(const std::string& text) { return aiw::loadConfigText(text, "a.yaml", ""); }

bool reported(const Result<Config>& r, const std::string& where, const std::string& what) {
  if (r.ok()) return false;
  const std::string& m = r.error().message;
  return m.find(where) != std::string::npos && m.find(what) != std::string::npos;
}

}  // namespace

TEST_CASE("an alias inside its own anchor is refused with its line, not walked forever") {
  Result<Config> map_cycle =
      load("listeners: []\nfilters:\n  - filter: reporter\n    config: &a {x: *a}\n");
  CHECK(reported(map_cycle, "a.yaml:4:", "nested too deeply once aliases are expanded"));

  Result<Config> list_cycle =
      load("filters:\n  - filter: x\n    config:\n      l: &l\n        - *l\n");
  CHECK(reported(list_cycle, "a.yaml:", "is an alias inside its own anchor?"));

  Result<Config> key_cycle = load("workers: 1\nx: &k {? *k : 1}\n");
  CHECK(reported(key_cycle, "a.yaml:2:", "nested too deeply once aliases are expanded"));
}

TEST_CASE("aliases that multiply the values past the bound are refused") {
  // Lists of ten aliases of lists of ten, eight deep: 10^8 values once expanded.
  std::string text =
      "filters:\n  - filter: x\n    config:\n      a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n";
  for (int i = 1; i <= 7; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "      a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int j = 1; j < 10; ++j) text += ", " + prev;
    text += "]\n";
  }
  Result<Config> laughs = load(text);
  CHECK(reported(laughs, "a.yaml:", "too many values once aliases are expanded"));
}

TEST_CASE("ordinary aliases still work and print") {
  Result<Config> r = load(
      "listeners:\n  - &l {name: a, type: forward, address: \"127.0.0.1:1\"}\n"
      "filters:\n  - filter: x\n    config: {base: &b {k: 1}, copy: *b}\n");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  CHECK((*r->filters[0].config)["copy"]["k"].as<int>() == 1);
  Result<Config> again = aiw::loadConfigText(aiw::configToYaml(*r, false), "p.yaml", "");
  REQUIRE_MESSAGE(again.ok(), again.error().message);
}

TEST_CASE("an error quoting a line break or a control character stays on its line") {
  // A key with a line break: "unknown key 'a\nb'".
  Result<Config> key = load("workers: 1\n\"a\\nb\": 1\n");
  REQUIRE_FALSE(key.ok());
  CHECK(key.error().message.find('\n') == std::string::npos);
  CHECK(reported(key, "a.yaml:2:", "'a\\nb'"));

  // yaml-cpp's message quotes the bad escape's character, here a raw 0x01.
  Result<Config> escape = load(std::string("workers: 1\nx: \"\\\x01\"\n"));
  REQUIRE_FALSE(escape.ok());
  CHECK(reported(escape, "a.yaml:2:", "unknown escape character: \\x01"));
  CHECK(escape.error().message.find('\x01') == std::string::npos);

  // Shaped like the fuzzer's input (a bad escape "\0" + line break, inside a key): every line of
  // the message is an error of its own.
  const char kFound[] = "listeners:\n  - namteners:\n  - n\0\n\":0m\"a\x03  -\nfilters_dir: x\n";
  Result<Config> found = load(std::string(kFound, sizeof kFound - 1));
  REQUIRE_FALSE(found.ok());
  for (size_t pos = 0; pos < found.error().message.size();) {
    size_t end = found.error().message.find('\n', pos);
    if (end == std::string::npos) end = found.error().message.size();
    CHECK(found.error().message.compare(pos, 7, "a.yaml:") == 0);
    pos = end + 1;
  }
}

TEST_CASE("too deep a nesting that runs to the end of the text is reported on its last line") {
  // yaml-cpp marks it one line past the end; the other "not closed" errors were clamped already.
  Result<Config> deep =
      load("a: " + std::string(300, '[') + "\nb: " + std::string(300, '[') + "\n");
  CHECK(reported(deep, "a.yaml:2:", "nested too deeply"));
  CHECK_FALSE(reported(deep, "a.yaml:3:", ""));
}

TEST_CASE("a stray comma at the top level is an error, not a parser that never returns") {
  // yaml-cpp 0.7's LoadAll() collected empty documents forever on these, until memory ran out
  // (jbeder/yaml-cpp#1040); the fuzzer's input was the next one but with an address and a token.
  for (const char* text : {",[\n", ",\n", ",a:\n  b: [a, b\nc: 3\n"}) {
    CAPTURE(text);
    Result<Config> r = load(text);
    CHECK(reported(r, "a.yaml:1:", "unexpected content after the end of the document"));
  }
  // Two documents are still told apart, at the second one's first line.
  CHECK(reported(load("workers: 1\n---\nworkers: 2\n"), "a.yaml:3:", "one YAML document only"));
  Result<Config> one = load("workers: 1\n...\n");
  REQUIRE_MESSAGE(one.ok(), one.error().message);
  CHECK(one->workers == 1);
}

TEST_CASE("a filter config key longer than YAML's 1024-character simple keys prints readably") {
  // --print-config wrote it as "key: value", which YAML (and the loader) then refuses.
  std::string long_key(1100, 'k');
  Result<Config> r = load("filters:\n  - filter: x\n    config:\n      ? " + long_key +
                          "\n      : 1\n      short: 2\n      \"" +
                          std::string(300, '\x1f') + "\": 3\n");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  std::string printed = aiw::configToYaml(*r, false);
  Result<Config> again = aiw::loadConfigText(printed, "p.yaml", "");
  REQUIRE_MESSAGE(again.ok(), again.error().message);
  const YAML::Node& cfg = *again->filters[0].config;
  CHECK(cfg[long_key].as<int>() == 1);
  CHECK(cfg["short"].as<int>() == 2);
  CHECK(cfg[std::string(300, '\x1f')].as<int>() == 3);
  CHECK(printed.find("\n      short: 2") != std::string::npos);  // short keys stay simple

  // Invalid UTF-8 in a key is printed as U+FFFD, three bytes for one: the key is longer in the
  // second print than in the first, which must not make the two prints differ.
  std::string bad_utf8 = "k" + std::string(100, '\xff');
  Result<Config> first = load("filters:\n  - filter: x\n    config: {" + bad_utf8 + ": 1}\n");
  REQUIRE_MESSAGE(first.ok(), first.error().message);
  std::string print1 = aiw::configToYaml(*first, false);
  Result<Config> second = aiw::loadConfigText(print1, "p.yaml", "");
  REQUIRE_MESSAGE(second.ok(), second.error().message);
  std::string print2 = aiw::configToYaml(*second, false);
  CHECK(print1.substr(print1.find('\n')) == print2.substr(print2.find('\n')));

  // yaml-cpp writes a key of more than 1024 bytes "? key" by itself, and kept that LongKey for
  // the keys of the next map: the next filter printed as "- ? filter".
  Result<Config> two = load("filters:\n  - filter: x\n    config:\n      ? " + long_key +
                            "\n      : {a: 1}\n  - filter: y\n    config: {d: 1}\n");
  REQUIRE_MESSAGE(two.ok(), two.error().message);
  std::string printed_two = aiw::configToYaml(*two, false);
  CHECK(printed_two.find("\n  - filter: y\n    enabled: true\n    config:\n      d: 1\n") !=
        std::string::npos);
  CHECK(printed_two.find("? filter") == std::string::npos);
}
