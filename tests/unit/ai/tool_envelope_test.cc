// The sidecar's tool call envelope, POST /proxy/v1/tools/{tool} (SPEC §4): what parseRequest
// takes from it, what it refuses, and where param_overrides go.
#include <doctest/doctest.h>

#include <string>

#include "ai/request_facts.h"
#include "ai_test_helpers.h"

namespace aiw::ai {
namespace {

using testing::checkOffsetsRoundTrip;
using testing::findText;
using testing::textOf;

ApiEndpoint toolEndpoint() {
  ApiEndpoint e;
  e.kind = ApiKind::SidecarToolCall;
  return e;
}

TEST_CASE("a tool call gives its arguments, session, call id and metadata") {
  const std::string body =
      R"j({"session_id":"s-1","args":{"code":"print(1)","user":"external","opts":{"n":2,)j"
      R"j("tags":["a\u00e9"]}},"call_id":"c-9","metadata":{"tenant":"beta","note":"skip me"}})j";
  auto facts = parseRequest(toolEndpoint(), body);
  REQUIRE(facts.ok());
  CHECK(facts->envelope_args_json ==
        R"j({"code":"print(1)","user":"external","opts":{"n":2,"tags":["aé"]}})j");
  CHECK(facts->envelope_session_id == "s-1");
  CHECK(facts->envelope_call_id == "c-9");
  CHECK(facts->envelope_metadata_json == R"j({"tenant":"beta","note":"skip me"})j");
  // The arguments' strings are scanned, located in the body; the metadata's are not.
  CHECK(textOf(*facts, "args.code") == "print(1)");
  CHECK(textOf(*facts, "args.opts.tags[0]") == "a\xC3\xA9");
  CHECK(findText(*facts, "metadata.note") == nullptr);
  CHECK(facts->texts.size() == 3);
  checkOffsetsRoundTrip(body, *facts);
}

TEST_CASE("only args is required; null members count as absent") {
  auto facts = parseRequest(toolEndpoint(), R"j({"args":{},"session_id":null,"metadata":null})j");
  REQUIRE(facts.ok());
  CHECK(facts->envelope_args_json == "{}");
  CHECK(facts->envelope_session_id.empty());
  CHECK(facts->envelope_metadata_json.empty());
}

TEST_CASE("a tool call without an args object is refused with the reason") {
  struct Case {
    const char* body;
    const char* code;
    const char* says;
  };
  const Case cases[] = {
      {R"j({"session_id":"s"})j", "bad_envelope", "no \"args\""},
      {R"j({"args":"print(1)"})j", "bad_envelope", "\"args\" must be a JSON object"},
      {R"j({"args":[1,2]})j", "bad_envelope", "\"args\" must be a JSON object"},
      {R"j({"args":{},"session_id":7})j", "bad_envelope", "\"session_id\" must be a string"},
      {R"j({"args":{},"call_id":{}})j", "bad_envelope", "\"call_id\" must be a string"},
      {R"j({"args":{},"metadata":"beta"})j", "bad_envelope", "\"metadata\" must be a JSON object"},
      {R"j([{"args":{}}])j", "bad_json", "JSON object"},
      {R"j({"args":{)j", "bad_json", ""},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    auto facts = parseRequest(toolEndpoint(), c.body);
    REQUIRE_FALSE(facts.ok());
    CHECK(facts.error().code == c.code);
    CHECK(facts.error().message.find(c.says) != std::string::npos);
  }
}

TEST_CASE("param_overrides of a tool call go into its args") {
  const std::string body = R"j({"args":{"expression":"rm -rf /","user":"external"},"call_id":"c"})j";
  auto facts = parseRequest(toolEndpoint(), body);
  REQUIRE(facts.ok());
  auto out = applyParamOverrides(body, *facts, R"j({"expression":"0","sandbox":true})j");
  REQUIRE(out.ok());
  CHECK(*out == R"j({"args":{"expression":"0","user":"external","sandbox":true},"call_id":"c"})j");
}

}  // namespace
}  // namespace aiw::ai
