// parseResponse and StreamDecoder over real-shaped answers and event streams of each API.
#include "ai/response_facts.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

namespace aiw::ai {
namespace {

ApiEndpoint endpointOf(Provider provider, ApiKind kind) {
  ApiEndpoint e;
  e.provider = provider;
  e.kind = kind;
  return e;
}

const ApiEndpoint kChat = endpointOf(Provider::OpenAi, ApiKind::OpenAiChatCompletions);
const ApiEndpoint kResponses = endpointOf(Provider::OpenAi, ApiKind::OpenAiResponses);
const ApiEndpoint kAnthropic = endpointOf(Provider::Anthropic, ApiKind::AnthropicMessages);
const ApiEndpoint kGemini = endpointOf(Provider::Gemini, ApiKind::GeminiStreamGenerateContent);
const ApiEndpoint kMcp = endpointOf(Provider::Mcp, ApiKind::McpJsonRpc);

SseEvent event(std::string data, std::string type = "message") {
  SseEvent e;
  e.type = std::move(type);
  e.data = std::move(data);
  return e;
}

// Feeds every event and returns the texts they added, joined.
std::string feed(StreamDecoder& decoder, const std::vector<SseEvent>& events) {
  std::string added;
  for (const SseEvent& e : events) added += decoder.onEvent(e);
  return added;
}

TEST_CASE("reads an OpenAI chat completion: text of every choice, tool calls and usage") {
  auto facts = parseResponse(kChat, R"json({"id":"chatcmpl-1","object":"chat.completion",
    "created":1720000000,"model":"gpt-4o-2024-08-06","choices":[
     {"index":0,"message":{"role":"assistant","content":"Hello there","refusal":null},
      "finish_reason":"stop"},
     {"index":1,"message":{"role":"assistant","content":"General Kenobi"},"finish_reason":"stop"},
     {"index":2,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1",
       "type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
      "finish_reason":"tool_calls"}],
    "usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}})json");
  REQUIRE(facts.ok());
  CHECK(facts->model == "gpt-4o-2024-08-06");
  CHECK(facts->text == "Hello there\nGeneral Kenobi");
  CHECK(facts->tool_call_names == std::vector<std::string>{"get_weather"});
  CHECK(facts->usage.input_tokens == 12);
  CHECK(facts->usage.output_tokens == 5);
}

TEST_CASE("follows an OpenAI chat stream: deltas, tool call names and the final usage chunk") {
  StreamDecoder decoder(kChat);
  const std::string head =
      R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o",)"
      R"("choices":[{"index":0,"delta":)";
  CHECK(decoder.onEvent(event(head + R"({"role":"assistant","content":""}}],"usage":null})")) ==
        "");
  CHECK(decoder.onEvent(event(head + R"({"content":"Hel"}}],"usage":null})")) == "Hel");
  CHECK(decoder.onEvent(event(head + R"({"content":"lo caf\u00e9"}}],"usage":null})")) ==
        "lo caf\xC3\xA9");
  CHECK(decoder.onEvent(event(head + R"({"tool_calls":[{"index":0,"id":"call_1","type":"function",)"
                                     R"("function":{"name":"lookup","arguments":""}}]}}]})")) ==
        "");
  CHECK(decoder.onEvent(event(
            head + R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"q\":1}"}}]}}]})")) ==
        "");
  CHECK_FALSE(decoder.facts().usage.known());
  CHECK(
      decoder.onEvent(event(R"({"id":"c","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":9,)"
                            R"("completion_tokens":3,"total_tokens":12}})")) == "");
  CHECK(decoder.onEvent(event("[DONE]")) == "");

  const ResponseFacts& facts = decoder.facts();
  CHECK(facts.model == "gpt-4o");
  CHECK(facts.text == "Hello caf\xC3\xA9");
  CHECK(facts.tool_call_names == std::vector<std::string>{"lookup"});
  CHECK(facts.usage.input_tokens == 9);
  CHECK(facts.usage.output_tokens == 3);
}

TEST_CASE("reads an OpenAI responses answer: output text, function calls and usage") {
  auto facts = parseResponse(kResponses, R"json({"id":"resp_1","object":"response",
    "model":"gpt-4.1-2025-04-14","status":"completed","output":[
      {"type":"reasoning","id":"rs_1","summary":[]},
      {"type":"message","id":"msg_1","role":"assistant","content":[
        {"type":"output_text","text":"Paris is sunny.","annotations":[]}]},
      {"type":"function_call","id":"fc_1","call_id":"c","name":"get_weather","arguments":"{}"}],
    "usage":{"input_tokens":20,"output_tokens":8,"total_tokens":28}})json");
  REQUIRE(facts.ok());
  CHECK(facts->model == "gpt-4.1-2025-04-14");
  CHECK(facts->text == "Paris is sunny.");
  CHECK(facts->tool_call_names == std::vector<std::string>{"get_weather"});
  CHECK(facts->usage.input_tokens == 20);
  CHECK(facts->usage.output_tokens == 8);
}

TEST_CASE("follows an OpenAI responses stream by event type") {
  StreamDecoder decoder(kResponses);
  const std::string added = feed(
      decoder,
      {event(R"({"type":"response.created","sequence_number":0,"response":{"id":"resp_1",)"
             R"("model":"gpt-4.1","usage":null}})",
             "response.created"),
       event(R"({"type":"response.output_text.delta","item_id":"m","output_index":0,)"
             R"("content_index":0,"delta":"Hi"})",
             "response.output_text.delta"),
       event(R"({"type":"response.output_text.delta","item_id":"m","output_index":0,)"
             R"("content_index":0,"delta":" there"})",
             "response.output_text.delta"),
       event(R"({"type":"response.output_text.done","text":"Hi there"})",
             "response.output_text.done"),
       event(
           R"({"type":"response.output_item.added","item":{"type":"function_call","name":"search",)"
           R"("arguments":""}})",
           "response.output_item.added"),
       event(R"({"type":"response.completed","response":{"model":"gpt-4.1",)"
             R"("usage":{"input_tokens":11,"output_tokens":2}}})",
             "response.completed")});
  CHECK(added == "Hi there");
  CHECK(decoder.facts().text == "Hi there");
  CHECK(decoder.facts().model == "gpt-4.1");
  CHECK(decoder.facts().tool_call_names == std::vector<std::string>{"search"});
  CHECK(decoder.facts().usage.input_tokens == 11);
  CHECK(decoder.facts().usage.output_tokens == 2);
}

TEST_CASE("reads an Anthropic message: text blocks, tool_use names and usage") {
  auto facts = parseResponse(kAnthropic, R"json({"id":"msg_1","type":"message","role":"assistant",
    "model":"claude-sonnet-4-20250514","content":[{"type":"text","text":"Let me check."},
      {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}],
    "stop_reason":"tool_use","usage":{"input_tokens":30,"output_tokens":12}})json");
  REQUIRE(facts.ok());
  CHECK(facts->model == "claude-sonnet-4-20250514");
  CHECK(facts->text == "Let me check.");
  CHECK(facts->tool_call_names == std::vector<std::string>{"get_weather"});
  CHECK(facts->usage.input_tokens == 30);
  CHECK(facts->usage.output_tokens == 12);
}

TEST_CASE("follows an Anthropic stream: message_start, text deltas and message_delta usage") {
  StreamDecoder decoder(kAnthropic);
  std::vector<SseEvent> events = {
      event(
          R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",)"
          R"("model":"claude-sonnet-4-20250514","content":[],"usage":{"input_tokens":25,)"
          R"("output_tokens":1}}})",
          "message_start"),
      event(R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
            "content_block_start"),
      event(R"({"type":"ping"})", "ping"),
      event(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta",)"
            R"("text":"Hello"}})",
            "content_block_delta"),
      event(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta",)"
            R"("text":" world\n"}})",
            "content_block_delta"),
      event(R"({"type":"content_block_stop","index":0})", "content_block_stop"),
      event(
          R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t",)"
          R"("name":"get_weather","input":{}}})",
          "content_block_start"),
      event(R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",)"
            R"("partial_json":"{\"city\": \"Par"}})",
            "content_block_delta"),
  };
  CHECK(feed(decoder, events) == "Hello world\n");
  CHECK(decoder.facts().usage.input_tokens == 25);
  CHECK(decoder.facts().model == "claude-sonnet-4-20250514");
  CHECK(decoder.onEvent(event(
            R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
            R"("usage":{"output_tokens":15}})",
            "message_delta")) == "");
  CHECK(decoder.onEvent(event(R"({"type":"message_stop"})", "message_stop")) == "");
  CHECK(decoder.onEvent(
            event(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
                  "error")) == "");
  CHECK(decoder.facts().usage.input_tokens == 25);
  CHECK(decoder.facts().usage.output_tokens == 15);
  CHECK(decoder.facts().tool_call_names == std::vector<std::string>{"get_weather"});
  CHECK(decoder.facts().text == "Hello world\n");
}

const std::string kGeminiChunk1 =
    R"({"candidates":[{"content":{"parts":[{"text":"Bon"}],"role":"model"}}],)"
    R"("modelVersion":"gemini-2.0-flash"})";
const std::string kGeminiChunk2 =
    R"({"candidates":[{"content":{"parts":[{"text":"jour"},{"functionCall":{"name":"get_weather",)"
    R"("args":{}}}],"role":"model"},"finishReason":"STOP"}],)"
    R"("usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"totalTokenCount":6},)"
    R"("modelVersion":"gemini-2.0-flash"})";

TEST_CASE("reads a Gemini answer: parts of each candidate, function calls and usage metadata") {
  auto facts = parseResponse(kGemini, R"json({"candidates":[
      {"content":{"parts":[{"text":"Bonjour"},{"text":" !"}],"role":"model"},"finishReason":"STOP",
       "index":0},
      {"content":{"parts":[{"text":"Salut"},
                           {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}],
                  "role":"model"},"index":1}],
    "usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":3,"totalTokenCount":11},
    "modelVersion":"gemini-2.0-flash"})json");
  REQUIRE(facts.ok());
  CHECK(facts->model == "gemini-2.0-flash");
  CHECK(facts->text == "Bonjour !\nSalut");
  CHECK(facts->tool_call_names == std::vector<std::string>{"get_weather"});
  CHECK(facts->usage.input_tokens == 8);
  CHECK(facts->usage.output_tokens == 3);
}

TEST_CASE("reads a Gemini stream sent as one JSON array of chunks") {
  auto facts = parseResponse(kGemini, "[" + kGeminiChunk1 + ",\r\n" + kGeminiChunk2 + "]");
  REQUIRE(facts.ok());
  CHECK(facts->text == "Bonjour");
  CHECK(facts->usage.input_tokens == 4);
  CHECK(facts->usage.output_tokens == 2);
  CHECK(facts->tool_call_names == std::vector<std::string>{"get_weather"});
}

TEST_CASE("follows a Gemini alt=sse stream, one response per event") {
  StreamDecoder decoder(kGemini);
  CHECK(decoder.onEvent(event(kGeminiChunk1)) == "Bon");
  CHECK(decoder.onEvent(event(kGeminiChunk2)) == "jour");
  CHECK(decoder.facts().text == "Bonjour");
  CHECK(decoder.facts().model == "gemini-2.0-flash");
  CHECK(decoder.facts().usage.input_tokens == 4);
  CHECK(decoder.facts().usage.output_tokens == 2);
}

TEST_CASE("reads the text of an MCP tools/call result, whole or streamed") {
  const std::string result =
      R"({"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"42"},{"type":"image",)"
      R"("data":"x"}],"isError":false}})";
  auto facts = parseResponse(kMcp, result);
  REQUIRE(facts.ok());
  CHECK(facts->text == "42");
  CHECK_FALSE(facts->usage.known());
  StreamDecoder decoder(kMcp);
  CHECK(decoder.onEvent(event(result)) == "42");
}

TEST_CASE("skips members of unexpected types in answers") {
  auto facts = parseResponse(kChat, R"({"model":7,"choices":{"message":{"content":"x"}},)"
                                    R"("usage":{"prompt_tokens":"9","completion_tokens":1.5}})");
  REQUIRE(facts.ok());
  CHECK(facts->model.empty());
  CHECK(facts->text.empty());
  CHECK_FALSE(facts->usage.known());
  auto odd =
      parseResponse(kAnthropic, R"({"content":[1,"text",{"type":"text","text":3}],"usage":[]})");
  REQUIRE(odd.ok());
  CHECK(odd->text.empty());
  auto scalar = parseResponse(kGemini, "42");
  REQUIRE(scalar.ok());
  CHECK(scalar->text.empty());
}

TEST_CASE("refuses a malformed answer with bad_json and ignores malformed events") {
  auto facts = parseResponse(kChat, R"({"choices":[)");
  REQUIRE_FALSE(facts.ok());
  CHECK(facts.error().code == "bad_json");
  CHECK_FALSE(parseResponse(kAnthropic, "").ok());

  StreamDecoder decoder(kAnthropic);
  CHECK(decoder.onEvent(event("{not json")) == "");
  CHECK(decoder.onEvent(event("")) == "");
  CHECK(decoder.onEvent(event(R"({"type":"content_block_delta","delta":{"type":"text_delta",)"
                              R"("text":"ok"}} trailing)")) == "");
  CHECK(decoder.onEvent(event("{\"a\":" + std::string(100000, '['))) == "");
  CHECK(decoder.facts().text.empty());
}

TEST_CASE("an unknown API's answer yields no facts") {
  auto facts = parseResponse(ApiEndpoint{}, R"({"choices":[{"message":{"content":"hi"}}]})");
  REQUIRE(facts.ok());
  CHECK(facts->text.empty());
  StreamDecoder decoder{ApiEndpoint{}};
  CHECK(decoder.onEvent(event(R"({"choices":[{"delta":{"content":"hi"}}]})")) == "");
}

}  // namespace
}  // namespace aiw::ai
