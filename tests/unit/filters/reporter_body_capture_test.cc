// capture_bodies: what an exchange event may carry of the bodies — never a detection.
#include "filters/reporter/body_capture.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "ai/provider.h"
#include "ai/request_facts.h"

namespace aiw {
namespace {

constexpr char kKey[] = "AKIAIOSFODNN7EXAMPLE";

BodyCapture captured(std::string_view body, size_t cap = 65536) {
  BodyCapture c;
  c.add(body, cap);
  return c;
}

Detection requestDetection(size_t text_index, uint64_t start, uint64_t end) {
  Detection d;
  d.detector = "secret.aws_access_key";
  d.category = "secret";
  d.text_index = text_index;
  d.start = start;
  d.end = end;
  return d;
}

TEST_CASE("a text field holding a detection is replaced whole; the rest stays as sent") {
  const std::string body = std::string(R"({"model":"gpt-4o","messages":[{"role":"user","content":"key )") +
                           kKey + R"( here"}],"temperature":0.2})";
  StreamInfo s;
  s.endpoint = ai::detectEndpoint("api.openai.com", "POST", "/v1/chat/completions");
  auto facts = ai::parseRequest(s.endpoint, body);
  REQUIRE(facts.ok());
  REQUIRE(facts->texts.size() == 1);
  s.request_facts = std::make_shared<const ai::RequestFacts>(std::move(facts).value());
  s.detections.push_back(requestDetection(0, 4, 24));
  const std::string out = capturedRequestBody(s, captured(body));
  CHECK(out == R"({"model":"gpt-4o","messages":[{"role":"user","content":"[REDACTED:secret.aws_access_key]"}],"temperature":0.2})");
  CHECK(out.find(kKey) == std::string::npos);
}

TEST_CASE("a detection on the raw body is replaced in place") {
  const std::string body = std::string("token=") + kKey + "&x=1";
  StreamInfo s;
  s.detections.push_back(requestDetection(SIZE_MAX, 6, 26));
  CHECK(capturedRequestBody(s, captured(body)) == "token=[REDACTED:secret.aws_access_key]&x=1");
}

TEST_CASE("a body a rule rewrote after the scan is replaced whole when it had detections") {
  StreamInfo s;
  s.rule_outcome = RuleOutcome::Modify;
  s.detections.push_back(requestDetection(SIZE_MAX, 0, 20));
  const std::string out = capturedRequestBody(s, captured(kKey));
  CHECK(out.find(kKey) == std::string::npos);
  CHECK(out.find("REDACTED") != std::string::npos);
}

TEST_CASE("responses: raw detections in place, decoded SSE detections take the whole body") {
  Detection d = requestDetection(SIZE_MAX, 5, 25);
  d.response = true;
  StreamInfo s;
  s.detections.push_back(d);
  const std::string raw = std::string("here ") + kKey + " end";
  CHECK(capturedResponseBody(s, captured(raw)) == "here [REDACTED:secret.aws_access_key] end");
  s.response_is_sse = true;
  s.endpoint = ai::detectEndpoint("api.openai.com", "POST", "/v1/chat/completions");
  const std::string out = capturedResponseBody(s, captured("data: {...}\n\n"));
  CHECK(out.find("REDACTED") != std::string::npos);
  CHECK(out.find("data:") == std::string::npos);
}

TEST_CASE("bodies are cut at the cap, and a detection past the cap does not leak its start") {
  StreamInfo s;
  BodyCapture c = captured("0123456789abcdef", 10);
  CHECK(c.truncated);
  CHECK(capturedRequestBody(s, c) == "0123456789...[truncated]");
  // The key starts inside the kept part: the kept part ends where it starts.
  std::string body = std::string("xx") + kKey;
  s.detections.push_back(requestDetection(SIZE_MAX, 2, 22));
  const std::string out = capturedRequestBody(s, captured(body, 8));
  CHECK(out.find("AKIA") == std::string::npos);
  CHECK(out.find("[REDACTED:secret.aws_access_key]") != std::string::npos);
}

TEST_CASE("bytes that are not UTF-8 become U+FFFD") {
  StreamInfo s;
  CHECK(capturedRequestBody(s, captured("a\xff" "b")) == "a\xEF\xBF\xBD" "b");
}

}  // namespace
}  // namespace aiw
