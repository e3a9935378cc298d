// parseRequest over real-shaped request bodies of each API.
#include "ai/request_facts.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "ai_test_helpers.h"

namespace aiw::ai {
namespace {

using testing::checkOffsetsRoundTrip;
using testing::findText;
using testing::textOf;

ApiEndpoint endpointOf(ApiKind kind) {
  ApiEndpoint e;
  e.kind = kind;
  switch (kind) {
    case ApiKind::OpenAiChatCompletions:
    case ApiKind::OpenAiResponses:
      e.provider = Provider::OpenAi;
      break;
    case ApiKind::AnthropicMessages:
      e.provider = Provider::Anthropic;
      break;
    case ApiKind::GeminiGenerateContent:
    case ApiKind::GeminiStreamGenerateContent:
      e.provider = Provider::Gemini;
      break;
    case ApiKind::McpJsonRpc:
      e.provider = Provider::Mcp;
      break;
    case ApiKind::SidecarToolCall:
    case ApiKind::None:
      break;
  }
  return e;
}

const std::string kOpenAiChatBody = R"json({
  "model": "gpt-4o",
  "stream": true,
  "messages": [
    {"role": "developer", "content": "You are terse."},
    {"role": "user", "content": [
      {"type": "text", "text": "What is in this image?"},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    ]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_1", "type": "function",
       "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
    ]},
    {"role": "tool", "tool_call_id": "call_1", "content": "18C and sunny"}
  ],
  "tools": [{"type": "function", "function": {"name": "get_weather",
             "description": "Weather of a city", "parameters": {"type": "object"}}}]
})json";

TEST_CASE("extracts model, stream, contents, parts and tool calls of OpenAI chat") {
  auto facts = parseRequest(endpointOf(ApiKind::OpenAiChatCompletions), kOpenAiChatBody);
  REQUIRE(facts.ok());
  CHECK(facts->model == "gpt-4o");
  CHECK(facts->stream);
  REQUIRE(facts->texts.size() == 4);
  CHECK(facts->texts[0].field == "messages[0].content");
  CHECK(facts->texts[0].text == "You are terse.");
  CHECK(facts->texts[1].field == "messages[1].content[0].text");
  CHECK(facts->texts[1].text == "What is in this image?");
  CHECK(facts->texts[2].field == "messages[2].tool_calls[0].function.arguments");
  CHECK(facts->texts[2].text == R"({"city":"Paris"})");
  CHECK(facts->texts[3].field == "messages[3].content");
  CHECK(facts->texts[3].text == "18C and sunny");
  // Tool definitions and image URLs are not texts of the conversation.
  CHECK(findText(*facts, "tools[0].function.description") == nullptr);

  REQUIRE(facts->tool_calls.size() == 1);
  CHECK(facts->tool_calls[0].name == "get_weather");
  CHECK(facts->tool_calls[0].arguments_json == R"({"city":"Paris"})");
  CHECK(facts->tool_calls[0].field == "messages[2].tool_calls[0]");
  CHECK(facts->jsonrpc_method.empty());
  checkOffsetsRoundTrip(kOpenAiChatBody, *facts);
}

TEST_CASE("reads an OpenAI tool call whose arguments come before its name") {
  const std::string body =
      R"({"messages":[{"role":"assistant","function_call":{"arguments":"{}","name":"f"}}]})";
  auto facts = parseRequest(endpointOf(ApiKind::OpenAiChatCompletions), body);
  REQUIRE(facts.ok());
  REQUIRE(facts->tool_calls.size() == 1);
  CHECK(facts->tool_calls[0].name == "f");
  CHECK(facts->tool_calls[0].field == "messages[0].function_call");
  CHECK_FALSE(facts->stream);
}

TEST_CASE("takes the Azure deployment as model when the body names none") {
  ApiEndpoint azure = endpointOf(ApiKind::OpenAiChatCompletions);
  azure.model_in_path = "gpt4o-prod";
  auto facts = parseRequest(azure, R"({"messages":[{"role":"user","content":"hi"}]})");
  REQUIRE(facts.ok());
  CHECK(facts->model == "gpt4o-prod");
}

TEST_CASE("extracts instructions, input items, function calls and outputs of OpenAI responses") {
  const std::string body = R"json({"model":"gpt-4.1","instructions":"Be brief.","input":[
    {"role":"user","content":[{"type":"input_text","text":"Weather in Paris?"}]},
    {"type":"function_call","call_id":"c1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
    {"type":"function_call_output","call_id":"c1","output":"18C"},
    {"role":"assistant","content":[{"type":"output_text","text":"It is 18C."}]},
    {"type":"message","role":"user","content":"Thanks"}],
   "stream":true})json";
  auto facts = parseRequest(endpointOf(ApiKind::OpenAiResponses), body);
  REQUIRE(facts.ok());
  CHECK(facts->model == "gpt-4.1");
  CHECK(facts->stream);
  REQUIRE(facts->texts.size() == 6);
  CHECK(textOf(*facts, "instructions") == "Be brief.");
  CHECK(textOf(*facts, "input[0].content[0].text") == "Weather in Paris?");
  CHECK(textOf(*facts, "input[1].arguments") == R"({"city":"Paris"})");
  CHECK(textOf(*facts, "input[2].output") == "18C");
  CHECK(textOf(*facts, "input[3].content[0].text") == "It is 18C.");
  CHECK(textOf(*facts, "input[4].content") == "Thanks");
  REQUIRE(facts->tool_calls.size() == 1);
  CHECK(facts->tool_calls[0].name == "get_weather");
  CHECK(facts->tool_calls[0].arguments_json == R"({"city":"Paris"})");
  CHECK(facts->tool_calls[0].field == "input[1]");
  checkOffsetsRoundTrip(body, *facts);
}

TEST_CASE("takes an OpenAI responses input given as one string") {
  const std::string body = R"({"model":"gpt-4.1-mini","input":"Tell me a joke"})";
  auto facts = parseRequest(endpointOf(ApiKind::OpenAiResponses), body);
  REQUIRE(facts.ok());
  REQUIRE(facts->texts.size() == 1);
  CHECK(facts->texts[0].field == "input");
  CHECK(facts->texts[0].text == "Tell me a joke");
  checkOffsetsRoundTrip(body, *facts);
}

const std::string kAnthropicBody = R"json({
  "model": "claude-sonnet-4-20250514",
  "max_tokens": 1024,
  "system": [{"type": "text", "text": "You are a helpful assistant.",
              "cache_control": {"type": "ephemeral"}}],
  "messages": [
    {"role": "user", "content": "What's the weather in Paris?"},
    {"role": "assistant", "content": [
      {"type": "text", "text": "Let me check."},
      {"type": "tool_use", "id": "toolu_01", "name": "get_weather",
       "input": {"city": "Paris", "units": {"temp": "celsius"}, "days": 3, "precise": 1.50,
                 "big": 12345678901234567890123, "flags": [true, null, "x"]}}
    ]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C"},
      {"type": "tool_result", "tool_use_id": "toolu_02",
       "content": [{"type": "text", "text": "rainy"}]}
    ]}
  ],
  "stream": true
})json";

TEST_CASE("extracts system blocks, messages, tool_use input and tool results of Anthropic") {
  auto facts = parseRequest(endpointOf(ApiKind::AnthropicMessages), kAnthropicBody);
  REQUIRE(facts.ok());
  CHECK(facts->model == "claude-sonnet-4-20250514");
  CHECK(facts->stream);
  REQUIRE(facts->texts.size() == 8);
  CHECK(facts->texts[0].field == "system[0].text");
  CHECK(facts->texts[1].field == "messages[0].content");
  CHECK(facts->texts[2].field == "messages[1].content[0].text");
  CHECK(facts->texts[3].field == "messages[1].content[1].input.city");
  CHECK(facts->texts[3].text == "Paris");
  CHECK(facts->texts[4].field == "messages[1].content[1].input.units.temp");
  CHECK(facts->texts[5].field == "messages[1].content[1].input.flags[2]");
  CHECK(facts->texts[6].field == "messages[2].content[0].content");
  CHECK(facts->texts[6].text == "18C");
  CHECK(facts->texts[7].field == "messages[2].content[1].content[0].text");
  CHECK(facts->texts[7].text == "rainy");

  REQUIRE(facts->tool_calls.size() == 1);
  CHECK(facts->tool_calls[0].name == "get_weather");
  CHECK(facts->tool_calls[0].field == "messages[1].content[1]");
  // Compact, and numbers exactly as the client wrote them.
  CHECK(facts->tool_calls[0].arguments_json ==
        R"({"city":"Paris","units":{"temp":"celsius"},"days":3,"precise":1.50,)"
        R"("big":12345678901234567890123,"flags":[true,null,"x"]})");
  checkOffsetsRoundTrip(kAnthropicBody, *facts);
}

TEST_CASE("takes an Anthropic system prompt given as one string") {
  const std::string body =
      R"({"model":"claude-3-5-haiku-latest","system":"Be kind.","messages":[]})";
  auto facts = parseRequest(endpointOf(ApiKind::AnthropicMessages), body);
  REQUIRE(facts.ok());
  REQUIRE(facts->texts.size() == 1);
  CHECK(facts->texts[0].field == "system");
  CHECK(facts->texts[0].text == "Be kind.");
  CHECK_FALSE(facts->stream);
}

TEST_CASE("extracts Gemini system instruction, parts, function calls and responses") {
  const std::string body = R"json({
    "systemInstruction": {"parts": [{"text": "Answer in French."}]},
    "contents": [
      {"role": "user", "parts": [{"text": "Weather?"},
                                 {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}}]},
      {"role": "model", "parts": [{"functionCall": {"name": "get_weather",
                                                    "args": {"city": "Paris", "days": 2}}}]},
      {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
         "response": {"result": "18C", "details": ["sunny"]}}}]}
    ],
    "generationConfig": {"temperature": 0.2}
  })json";
  ApiEndpoint endpoint = detectEndpoint("generativelanguage.googleapis.com", "POST",
                                        "/v1beta/models/gemini-2.0-flash:streamGenerateContent");
  auto facts = parseRequest(endpoint, body);
  REQUIRE(facts.ok());
  CHECK(facts->model == "gemini-2.0-flash");
  CHECK(facts->stream);
  REQUIRE(facts->texts.size() == 5);
  CHECK(facts->texts[0].field == "systemInstruction.parts[0].text");
  CHECK(facts->texts[1].field == "contents[0].parts[0].text");
  CHECK(facts->texts[2].field == "contents[1].parts[0].functionCall.args.city");
  CHECK(facts->texts[3].field == "contents[2].parts[0].functionResponse.response.result");
  CHECK(facts->texts[4].field == "contents[2].parts[0].functionResponse.response.details[0]");
  CHECK(facts->texts[4].text == "sunny");
  REQUIRE(facts->tool_calls.size() == 1);
  CHECK(facts->tool_calls[0].name == "get_weather");
  CHECK(facts->tool_calls[0].arguments_json == R"({"city":"Paris","days":2})");
  CHECK(facts->tool_calls[0].field == "contents[1].parts[0]");
  checkOffsetsRoundTrip(body, *facts);
}

TEST_CASE("accepts Gemini's snake_case member names") {
  const std::string body =
      R"({"system_instruction":{"parts":[{"text":"sys"}]},)"
      R"("contents":[{"parts":[{"function_call":{"name":"f","args":{"a":"b"}}}]}]})";
  auto facts = parseRequest(endpointOf(ApiKind::GeminiGenerateContent), body);
  REQUIRE(facts.ok());
  CHECK_FALSE(facts->stream);
  CHECK(textOf(*facts, "system_instruction.parts[0].text") == "sys");
  CHECK(textOf(*facts, "contents[0].parts[0].function_call.args.a") == "b");
  REQUIRE(facts->tool_calls.size() == 1);
  CHECK(facts->tool_calls[0].name == "f");
}

TEST_CASE("extracts the MCP tools/call: method, raw id, tool, arguments and their strings") {
  const std::string body =
      R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"python_exec",)"
      R"j("arguments":{"code":"print(1)","env":{"user":"external"},"timeout":30}}})j";
  auto facts = parseRequest(endpointOf(ApiKind::McpJsonRpc), body);
  REQUIRE(facts.ok());
  CHECK(facts->endpoint.provider == Provider::Mcp);
  CHECK(facts->jsonrpc_method == "tools/call");
  CHECK(facts->jsonrpc_id == "7");
  CHECK(facts->mcp_tool == "python_exec");
  CHECK(facts->mcp_arguments_json ==
        R"j({"code":"print(1)","env":{"user":"external"},"timeout":30})j");
  REQUIRE(facts->texts.size() == 2);
  CHECK(facts->texts[0].field == "params.arguments.code");
  CHECK(facts->texts[0].text == "print(1)");
  CHECK(facts->texts[1].field == "params.arguments.env.user");
  REQUIRE(facts->tool_calls.size() == 1);
  CHECK(facts->tool_calls[0].name == "python_exec");
  CHECK(facts->tool_calls[0].arguments_json == facts->mcp_arguments_json);
  CHECK(facts->tool_calls[0].field == "params");
  checkOffsetsRoundTrip(body, *facts);
}

TEST_CASE("keeps an MCP string id as raw JSON and a notification without id") {
  auto named = parseRequest(endpointOf(ApiKind::McpJsonRpc),
                            R"({"method":"tools/list","id":"a\"b","jsonrpc":"2.0"})");
  REQUIRE(named.ok());
  CHECK(named->jsonrpc_id == R"("a\"b")");
  CHECK(named->jsonrpc_method == "tools/list");
  CHECK(named->mcp_arguments_json == "{}");
  CHECK(named->tool_calls.empty());

  auto note = parseRequest(endpointOf(ApiKind::McpJsonRpc),
                           R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  REQUIRE(note.ok());
  CHECK(note->jsonrpc_id.empty());
  CHECK(note->jsonrpc_method == "notifications/initialized");

  auto null_id = parseRequest(endpointOf(ApiKind::McpJsonRpc),
                              R"({"jsonrpc":"2.0","id":null,"method":"ping"})");
  REQUIRE(null_id.ok());
  CHECK(null_id->jsonrpc_id == "null");
}

TEST_CASE("reports the first tools/call of an MCP batch") {
  const std::string body =
      R"([{"jsonrpc":"2.0","id":1,"method":"tools/list"},)"
      R"({"jsonrpc":"2.0","id":"b","params":{"arguments":{"q":"hi"},"name":"search"},)"
      R"("method":"tools/call"},)"
      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"other"}}])";
  auto facts = parseRequest(endpointOf(ApiKind::McpJsonRpc), body);
  REQUIRE(facts.ok());
  CHECK(facts->jsonrpc_method == "tools/call");
  CHECK(facts->jsonrpc_id == R"("b")");
  CHECK(facts->mcp_tool == "search");
  CHECK(facts->mcp_arguments_json == R"({"q":"hi"})");
  REQUIRE(facts->texts.size() == 1);
  CHECK(facts->texts[0].field == "[1].params.arguments.q");
  REQUIRE(facts->tool_calls.size() == 2);
  CHECK(facts->tool_calls[0].field == "[1].params");
  CHECK(facts->tool_calls[1].name == "other");
  CHECK(facts->tool_calls[1].arguments_json == "{}");
  checkOffsetsRoundTrip(body, *facts);
}

TEST_CASE("decodes escapes and still locates the raw tokens") {
  const std::string body =
      R"({"model":"gpt-4o","messages":[{"role":"user","content":)"
      R"("line1\nline2 \"quoted\" caf\u00e9 \ud83d\ude00 back\\slash \\\"x\\"}]})";
  auto facts = parseRequest(endpointOf(ApiKind::OpenAiChatCompletions), body);
  REQUIRE(facts.ok());
  REQUIRE(facts->texts.size() == 1);
  CHECK(facts->texts[0].text ==
        "line1\nline2 \"quoted\" caf\xC3\xA9 \xF0\x9F\x98\x80 back\\slash \\\"x\\");
  CHECK(body[facts->texts[0].raw_begin] == '"');
  CHECK(body[facts->texts[0].raw_end - 1] == '"');
  CHECK(facts->texts[0].raw_end == body.size() - 3);
  checkOffsetsRoundTrip(body, *facts);
}

TEST_CASE("keeps raw UTF-8 text as it is") {
  const std::string body =
      "{\"messages\":[{\"role\":\"user\",\"content\":\"\xE6\x97\xA5\xE6\x9C\xAC \xC3\xA9\"}]}";
  auto facts = parseRequest(endpointOf(ApiKind::OpenAiChatCompletions), body);
  REQUIRE(facts.ok());
  REQUIRE(facts->texts.size() == 1);
  CHECK(facts->texts[0].text == "\xE6\x97\xA5\xE6\x9C\xAC \xC3\xA9");
  checkOffsetsRoundTrip(body, *facts);
}

TEST_CASE("refuses malformed JSON with bad_json and says where") {
  const ApiEndpoint chat = endpointOf(ApiKind::OpenAiChatCompletions);
  for (const char* bad : {"", "{\"model\": \"gpt", "{\"a\":1} x", "{'a':1}", "{\"a\":\"\x01\"}",
                          "{\"a\":\"\\ud800\"}", "nul"}) {
    INFO("body " << bad);
    auto facts = parseRequest(chat, bad);
    REQUIRE_FALSE(facts.ok());
    CHECK(facts.error().code == "bad_json");
    CHECK_FALSE(facts.error().message.empty());
  }
  auto truncated = parseRequest(chat, "{\"model\": \"gpt");
  REQUIRE_FALSE(truncated.ok());
  CHECK(truncated.error().message.find("offset") != std::string::npos);
  // A NUL byte inside the body ends nothing early and is not JSON either.
  auto nul = parseRequest(chat, std::string("{\"a\":\"x\0y\"}", 11));
  CHECK_FALSE(nul.ok());
}

TEST_CASE("refuses a body that is not an object where the API needs one") {
  auto array = parseRequest(endpointOf(ApiKind::AnthropicMessages), "[1,2]");
  REQUIRE_FALSE(array.ok());
  CHECK(array.error().code == "bad_json");
  auto scalar = parseRequest(endpointOf(ApiKind::McpJsonRpc), "\"tools/call\"");
  REQUIRE_FALSE(scalar.ok());
  CHECK(scalar.error().code == "bad_json");
}

TEST_CASE("skips known fields of unexpected types instead of failing") {
  const std::string body =
      R"({"model":5,"stream":"yes","messages":[{"role":"user","content":42},)"
      R"({"role":"user","content":{"text":"not a part list"}},)"
      R"({"role":"user","content":["bare string part", {"type":"text","text":7}]},)"
      R"({"role":"assistant","tool_calls":{"function":{"name":"f","arguments":"{}"}}},)"
      R"({"role":"assistant","tool_calls":[{"function":{"name":"g","arguments":{"a":"b"}}}]},)"
      R"("not a message"]})";
  auto facts = parseRequest(endpointOf(ApiKind::OpenAiChatCompletions), body);
  REQUIRE(facts.ok());
  CHECK(facts->model.empty());
  CHECK_FALSE(facts->stream);
  CHECK(facts->texts.empty());
  CHECK(facts->tool_calls.empty());

  auto messages_string =
      parseRequest(endpointOf(ApiKind::AnthropicMessages), R"({"messages":"hello","system":1})");
  REQUIRE(messages_string.ok());
  CHECK(messages_string->texts.empty());
}

TEST_CASE("survives nesting far deeper than any request without recursion") {
  const size_t depth = 200000;
  std::string body = R"({"messages":[{"role":"user","content":"hi","x":)";
  body += std::string(depth, '[');
  body += std::string(depth, ']');
  body += "}]}";
  auto facts = parseRequest(endpointOf(ApiKind::OpenAiChatCompletions), body);
  REQUIRE(facts.ok());
  CHECK(textOf(*facts, "messages[0].content") == "hi");

  auto unclosed = parseRequest(endpointOf(ApiKind::McpJsonRpc), std::string(depth, '{'));
  CHECK_FALSE(unclosed.ok());
}

TEST_CASE("locates tokens ending in escaped quotes and backslashes") {
  // Each content ends with an escape right before the closing quote; the last ones also start
  // with escapes, so the decoded length lands inside an escape run.
  const std::string body =
      R"({"messages":[{"role":"user","content":"a\""},{"role":"user","content":"b\\"},)"
      R"({"role":"user","content":"\\\""},{"role":"user","content":"\"\\\"\\"},)"
      R"({"role":"user","content":""},{"role":"user","content":"\\\\\\\\"},)"
      R"({"role":"user","content":"\ud83d\ude00\""},{"role":"user","content":"\u0022\u005c"}]})";
  auto facts = parseRequest(endpointOf(ApiKind::OpenAiChatCompletions), body);
  REQUIRE(facts.ok());
  REQUIRE(facts->texts.size() == 8);
  CHECK(facts->texts[0].text == "a\"");
  CHECK(facts->texts[1].text == "b\\");
  CHECK(facts->texts[2].text == "\\\"");
  CHECK(facts->texts[3].text == "\"\\\"\\");
  CHECK(facts->texts[4].text.empty());
  CHECK(facts->texts[5].text == "\\\\\\\\");
  CHECK(facts->texts[6].text == "\xF0\x9F\x98\x80\"");
  CHECK(facts->texts[7].text == "\"\\");
  for (const TextField& text : facts->texts) {
    CHECK(body[text.raw_begin] == '"');
    CHECK(body[text.raw_end - 1] == '"');
    CHECK(body[text.raw_end] == '}');
  }
  checkOffsetsRoundTrip(body, *facts);
}

TEST_CASE("locates every token of randomly escaped texts") {
  // Each character written plainly or as an escape (\uXXXX, \/, surrogate pairs), at random.
  uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) & 0x7fff;
  };
  const std::string alphabet = "ab \"\\/\n\t{}[]:,";
  for (int round = 0; round < 200; ++round) {
    std::string body = R"({"model":"m","messages":[)";
    std::vector<std::string> expected;
    const size_t count = 1 + next() % 4;
    for (size_t m = 0; m < count; ++m) {
      std::string raw;
      std::string decoded;
      const size_t length = next() % 12;
      for (size_t i = 0; i < length; ++i) {
        if (next() % 8 == 0) {  // U+1F600 as a surrogate pair, or as raw UTF-8
          raw += next() % 2 ? "\\ud83d\\ude00" : "\xF0\x9F\x98\x80";
          decoded += "\xF0\x9F\x98\x80";
          continue;
        }
        const char c = alphabet[next() % alphabet.size()];
        decoded += c;
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
        if (next() % 3 == 0) {
          raw += escaped;
        } else if (c == '"' || c == '\\') {
          raw += '\\';
          raw += c;
        } else if (c == '\n') {
          raw += "\\n";
        } else if (c == '\t') {
          raw += "\\t";
        } else if (c == '/' && next() % 2) {
          raw += "\\/";
        } else {
          raw += c;
        }
      }
      if (m > 0) body += ',';
      body += R"({"role":"user","content":")" + raw + R"("})";
      expected.push_back(decoded);
    }
    body += "]}";
    INFO("body " << body);
    auto facts = parseRequest(endpointOf(ApiKind::OpenAiChatCompletions), body);
    REQUIRE(facts.ok());
    REQUIRE(facts->texts.size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) CHECK(facts->texts[i].text == expected[i]);
    checkOffsetsRoundTrip(body, *facts);
  }
}

TEST_CASE("matches member names written with escapes") {
  const std::string body =
      R"({"mod\u0065l":"gpt-4o","messages":[{"role":"user","con\u0074ent":"hi \"there\""}]})";
  auto facts = parseRequest(endpointOf(ApiKind::OpenAiChatCompletions), body);
  REQUIRE(facts.ok());
  CHECK(facts->model == "gpt-4o");
  CHECK(textOf(*facts, "messages[0].content") == "hi \"there\"");
  checkOffsetsRoundTrip(body, *facts);
}

TEST_CASE("keeps an escaped MCP string id exactly as written") {
  auto facts = parseRequest(endpointOf(ApiKind::McpJsonRpc),
                            R"({"jsonrpc":"2.0","id":"a\"b\\","method":"tools/call"})");
  REQUIRE(facts.ok());
  CHECK(facts->jsonrpc_id == R"("a\"b\\")");
  CHECK(facts->jsonrpc_method == "tools/call");
}

TEST_CASE("reads only the given bytes of a body that is not NUL-terminated") {
  const std::string body = R"({"messages":[{"role":"user","content":"end\\"}]})";
  // The bytes after the view would continue the last string if they were read.
  const std::string buffer = body + R"(more text"}]} trailing)";
  auto facts = parseRequest(endpointOf(ApiKind::OpenAiChatCompletions),
                            std::string_view(buffer).substr(0, body.size()));
  REQUIRE(facts.ok());
  REQUIRE(facts->texts.size() == 1);
  CHECK(facts->texts[0].text == "end\\");
  CHECK(facts->texts[0].raw_end == body.size() - 3);
  checkOffsetsRoundTrip(body, *facts);

  // Cut inside a string: refused, never read past the view.
  auto cut = parseRequest(endpointOf(ApiKind::OpenAiChatCompletions),
                          std::string_view(buffer).substr(0, body.size() - 5));
  CHECK_FALSE(cut.ok());
}

TEST_CASE("refuses NUL bytes inside strings and between tokens") {
  const ApiEndpoint chat = endpointOf(ApiKind::OpenAiChatCompletions);
  for (const std::string& bad :
       {std::string("{\"messages\":[{\"content\":\"a\0b\"}]}", 32),
        std::string("{\"model\":\0\"m\"}", 14), std::string("\0{}", 3)}) {
    auto facts = parseRequest(chat, bad);
    REQUIRE_FALSE(facts.ok());
    CHECK(facts.error().code == "bad_json");
  }
}

TEST_CASE("parses long texts of every length around the SIMD block size") {
  for (size_t length = 0; length < 80; ++length) {
    for (const char* tail : {"", "\\\"", "\\\\"}) {
      const std::string text = std::string(length, 'x') + tail;
      const std::string body = R"({"messages":[{"role":"user","content":")" + text + R"("}]})";
      auto facts = parseRequest(endpointOf(ApiKind::OpenAiChatCompletions), body);
      REQUIRE(facts.ok());
      REQUIRE(facts->texts.size() == 1);
      CHECK(facts->texts[0].text.size() == length + (*tail ? 1 : 0));
      checkOffsetsRoundTrip(body, *facts);
    }
  }
}

TEST_CASE("parses a body of an unknown API as plain JSON with nothing extracted") {
  auto facts = parseRequest(ApiEndpoint{}, R"({"messages":[{"content":"hi"}]})");
  REQUIRE(facts.ok());
  CHECK(facts->texts.empty());
  CHECK_FALSE(parseRequest(ApiEndpoint{}, "{").ok());
}

}  // namespace
}  // namespace aiw::ai
