// applyTextEdits: redactions spliced into real-shaped bodies.
#include <doctest/doctest.h>

#include <string>

#include "ai/request_facts.h"
#include "ai_test_helpers.h"

namespace aiw::ai {
namespace {

using testing::isValidJson;
using testing::textOf;

ApiEndpoint chatEndpoint() {
  return detectEndpoint("api.openai.com", "POST", "/v1/chat/completions");
}

const std::string kSecretBody =
    "{\"model\": \"gpt-4o\",\n  \"messages\": [\n"
    "    {\"role\": \"system\", \"content\": \"Never leak keys.\"},\n"
    "    {\"role\": \"user\", \"content\": \"my key is AKIAIOSFODNN7EXAMPLE, caf\\u00e9\"}\n"
    "  ],\n  \"temperature\": 0.70\n}";

TEST_CASE("redacts one range and keeps every other byte of the body") {
  auto facts = parseRequest(chatEndpoint(), kSecretBody);
  REQUIRE(facts.ok());
  REQUIRE(facts->texts.size() == 2);
  const TextField& user = facts->texts[1];
  const size_t at = user.text.find("AKIA");
  REQUIRE(at != std::string::npos);

  auto out = applyTextEdits(kSecretBody, *facts,
                            {TextEdit{1, at, at + 20, "[REDACTED:secret.aws_access_key]"}});
  REQUIRE(out.ok());
  CHECK(isValidJson(*out));
  // Only the touched token changed: the prefix and suffix around it are byte-identical.
  CHECK(out->substr(0, user.raw_begin) == kSecretBody.substr(0, user.raw_begin));
  CHECK(out->substr(out->size() - (kSecretBody.size() - user.raw_end)) ==
        kSecretBody.substr(user.raw_end));
  CHECK(out->find("AKIA") == std::string::npos);

  auto reparsed = parseRequest(chatEndpoint(), *out);
  REQUIRE(reparsed.ok());
  CHECK(textOf(*reparsed, "messages[1].content") ==
        "my key is [REDACTED:secret.aws_access_key], caf\xC3\xA9");
  CHECK(textOf(*reparsed, "messages[0].content") == "Never leak keys.");
}

TEST_CASE("escapes the new text properly, control characters included") {
  const std::string body = R"({"messages":[{"role":"user","content":"abc"}]})";
  auto facts = parseRequest(chatEndpoint(), body);
  REQUIRE(facts.ok());
  auto out = applyTextEdits(body, *facts, {TextEdit{0, 1, 2, "\"q\"\\\n\t\x01\x1f\xC3\xA9"}});
  REQUIRE(out.ok());
  CHECK(*out == R"({"messages":[{"role":"user","content":"a\"q\"\\\n\t\u0001\u001f)"
                "\xC3\xA9"
                R"(c"}]})");
  auto reparsed = parseRequest(chatEndpoint(), *out);
  REQUIRE(reparsed.ok());
  CHECK(reparsed->texts[0].text ==
        "a\"q\"\\\n\t\x01\x1f\xC3\xA9"
        "c");
}

TEST_CASE("applies edits of several fields, in any order, in one pass") {
  const std::string body =
      R"({"system":"key sk-1","messages":[{"role":"user","content":[{"type":"text",)"
      R"("text":"sk-2 and sk-3"}]}]})";
  ApiEndpoint anthropic = detectEndpoint("api.anthropic.com", "POST", "/v1/messages");
  auto facts = parseRequest(anthropic, body);
  REQUIRE(facts.ok());
  REQUIRE(facts->texts.size() == 2);
  auto out = applyTextEdits(
      body, *facts,
      {TextEdit{1, 9, 13, "[R]"}, TextEdit{0, 4, 8, "[R]"}, TextEdit{1, 0, 4, "[R]"}});
  REQUIRE(out.ok());
  CHECK(*out == R"({"system":"key [R]","messages":[{"role":"user","content":[{"type":"text",)"
                R"("text":"[R] and [R]"}]}]})");
}

TEST_CASE("merges overlapping edits into their union with the first replacement") {
  const std::string body = R"({"messages":[{"role":"user","content":"0123456789"}]})";
  auto facts = parseRequest(chatEndpoint(), body);
  REQUIRE(facts.ok());
  auto out = applyTextEdits(
      body, *facts, {TextEdit{0, 5, 8, "[B]"}, TextEdit{0, 2, 6, "[A]"}, TextEdit{0, 3, 4, "[C]"}});
  REQUIRE(out.ok());
  CHECK(textOf(*parseRequest(chatEndpoint(), *out), "messages[0].content") == "01[A]89");

  auto adjacent =
      applyTextEdits(body, *facts, {TextEdit{0, 0, 2, "[X]"}, TextEdit{0, 2, 4, "[Y]"}});
  REQUIRE(adjacent.ok());
  CHECK(textOf(*parseRequest(chatEndpoint(), *adjacent), "messages[0].content") == "[X][Y]456789");
}

TEST_CASE("redacts inside OpenAI tool arguments, keeping them a JSON string") {
  const std::string body =
      R"({"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function",)"
      R"("function":{"name":"login","arguments":"{\"password\":\"hunter2\"}"}}]}]})";
  auto facts = parseRequest(chatEndpoint(), body);
  REQUIRE(facts.ok());
  REQUIRE(facts->texts.size() == 1);
  const size_t at = facts->texts[0].text.find("hunter2");
  auto out = applyTextEdits(body, *facts, {TextEdit{0, at, at + 7, "[REDACTED:pw]"}});
  REQUIRE(out.ok());
  auto reparsed = parseRequest(chatEndpoint(), *out);
  REQUIRE(reparsed.ok());
  REQUIRE(reparsed->tool_calls.size() == 1);
  CHECK(reparsed->tool_calls[0].arguments_json == R"({"password":"[REDACTED:pw]"})");
}

TEST_CASE("widens a range that cuts a UTF-8 character to the whole character") {
  const std::string body = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\xC3\xA9y\"}]}";
  auto facts = parseRequest(chatEndpoint(), body);
  REQUIRE(facts.ok());
  auto out = applyTextEdits(body, *facts, {TextEdit{0, 2, 3, "_"}});
  REQUIRE(out.ok());
  CHECK(textOf(*parseRequest(chatEndpoint(), *out), "messages[0].content") == "x_y");
}

TEST_CASE("returns the body unchanged when there is nothing to edit") {
  auto facts = parseRequest(chatEndpoint(), kSecretBody);
  REQUIRE(facts.ok());
  auto out = applyTextEdits(kSecretBody, *facts, {});
  REQUIRE(out.ok());
  CHECK(*out == kSecretBody);
}

TEST_CASE("refuses edits outside the facts with bad_edit") {
  auto facts = parseRequest(chatEndpoint(), kSecretBody);
  REQUIRE(facts.ok());
  const size_t size = facts->texts[1].text.size();
  for (const TextEdit& edit :
       {TextEdit{2, 0, 1, "x"}, TextEdit{1, 0, size + 1, "x"}, TextEdit{1, 5, 4, "x"}}) {
    auto out = applyTextEdits(kSecretBody, *facts, {edit});
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().code == "bad_edit");
  }
  // Facts of another body do not locate strings in this one.
  auto out = applyTextEdits("{}", *facts, {TextEdit{0, 0, 1, "x"}});
  REQUIRE_FALSE(out.ok());
  CHECK(out.error().code == "bad_edit");
}

}  // namespace
}  // namespace aiw::ai
