// What an AI response carries: the generated text (scanned by the guardrails) and the token
// usage, from a whole JSON body or from a stream of server-sent events, event by event.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ai/provider.h"
#include "core/result.h"
#include "http/sse_parser.h"

namespace aiw::ai {

struct Usage {
  int64_t input_tokens = -1;   // -1: not reported
  int64_t output_tokens = -1;
  bool known() const { return input_tokens >= 0 || output_tokens >= 0; }
};

struct ResponseFacts {
  std::string model;
  std::string text;  // the generated text (all choices / content blocks, in order, joined)
  std::vector<std::string> tool_call_names;
  Usage usage;
};

// A whole (non-streamed) JSON response of `endpoint`'s API. Errors: "bad_json".
Result<ResponseFacts> parseResponse(const ApiEndpoint& endpoint, std::string_view body);

// Follows a streamed response event by event (SSE), for OpenAI chat/responses, Anthropic
// messages and Gemini (alt=sse). Each event yields the text it adds; usage and model are kept
// as they arrive (OpenAI's final usage chunk, Anthropic message_start + message_delta, Gemini
// usageMetadata). Events it does not understand are skipped.
class StreamDecoder {
 public:
  explicit StreamDecoder(ApiEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

  // The text this event adds to the answer ("" when none), decoded. Never fails: a data line
  // that is not JSON (OpenAI's "[DONE]", a provider's own error event) adds nothing.
  std::string onEvent(const SseEvent& event);

  const ResponseFacts& facts() const { return facts_; }

 private:
  ApiEndpoint endpoint_;
  ResponseFacts facts_;
};

}  // namespace aiw::ai
