// Response bodies and streamed events, read through a DOM: answers are read once, by path, and
// only the few members that matter are touched.
#include "ai/response_facts.h"

// json_text.h first: it configures RapidJSON (SSE2) for the whole library.
#include "ai/json_text.h"

#include <rapidjson/document.h>

#include <span>


namespace aiw::ai {

namespace {

using rapidjson::Value;

// Answers and events are small and read once: the DOM is built in situ (strings stay in the
// copy, RapidJSON's SIMD scanning applies) over arenas on the stack, so a typical answer costs
// one allocation (the copy) instead of a 64 KiB pool chunk and a string copy per value. Larger
// ones spill to the heap as usual.
class ParsedJson {
 public:
  explicit ParsedJson(std::string_view json)
      : copy_(json),
        pool_(pool_buffer_, sizeof pool_buffer_),
        stack_pool_(stack_buffer_, sizeof stack_buffer_),
        doc_(&pool_, sizeof stack_buffer_ / 2, &stack_pool_) {
    doc_.ParseInsitu<kDomParseFlags>(copy_.data());
  }
  ParsedJson(const ParsedJson&) = delete;
  ParsedJson& operator=(const ParsedJson&) = delete;
  using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                              rapidjson::MemoryPoolAllocator<>>;
  const Document& doc() const { return doc_; }

 private:
  using Pool = rapidjson::MemoryPoolAllocator<>;
  InsituCopy copy_;
  alignas(16) char pool_buffer_[4096];
  alignas(16) char stack_buffer_[1024];
  Pool pool_;
  Pool stack_pool_;
  Document doc_;
};

// Checked accessors: a member of an unexpected type reads as absent, never asserts.
const Value* member(const Value* object, const char* name) {
  if (object == nullptr || !object->IsObject()) return nullptr;
  auto it = object->FindMember(name);
  return it == object->MemberEnd() ? nullptr : &it->value;
}

std::string_view stringOf(const Value* value) {
  if (value == nullptr || !value->IsString()) return {};
  return {value->GetString(), value->GetStringLength()};
}

std::span<const Value> elementsOf(const Value* value) {
  if (value == nullptr || !value->IsArray()) return {};
  return {value->Begin(), value->Size()};
}

void readCount(const Value* value, int64_t& out) {
  if (value != nullptr && value->IsInt64()) out = value->GetInt64();
}

void readModel(const Value* value, ResponseFacts& facts) {
  if (std::string_view model = stringOf(value); !model.empty()) facts.model = model;
}

void addToolName(const Value* value, ResponseFacts& facts) {
  if (std::string_view name = stringOf(value); !name.empty())
    facts.tool_call_names.emplace_back(name);
}

// Separate answers (choices, candidates) of one whole response are kept apart by a newline so
// a pattern cannot match across them; pieces of one answer are joined as they are.
// A stream chunk's pieces are continuations of the answers so far and are appended as they are.
void appendAnswer(std::string& out, std::string_view answer, bool chunk) {
  if (answer.empty()) return;
  if (!chunk && !out.empty()) out += '\n';
  out += answer;
}

// Chat Completions: choices[].message (whole) or choices[].delta (stream chunk); the usage
// object comes whole, or in the last chunk when stream_options.include_usage is set.
void readOpenAiChat(const Value& root, bool chunk, ResponseFacts& facts, std::string& text) {
  readModel(member(&root, "model"), facts);
  for (const Value& choice : elementsOf(member(&root, "choices"))) {
    const Value* message = member(&choice, chunk ? "delta" : "message");
    const std::string_view content = stringOf(member(message, "content"));
    appendAnswer(text, content, chunk);
    for (const Value& call : elementsOf(member(message, "tool_calls"))) {
      addToolName(member(member(&call, "function"), "name"), facts);
    }
  }
  const Value* usage = member(&root, "usage");
  readCount(member(usage, "prompt_tokens"), facts.usage.input_tokens);
  readCount(member(usage, "completion_tokens"), facts.usage.output_tokens);
}

void readResponsesUsage(const Value* response, ResponseFacts& facts) {
  readModel(member(response, "model"), facts);
  const Value* usage = member(response, "usage");
  readCount(member(usage, "input_tokens"), facts.usage.input_tokens);
  readCount(member(usage, "output_tokens"), facts.usage.output_tokens);
}

// function_call, custom_tool_call and mcp_call items name the tool they call.
void readResponsesItemCall(const Value& item, ResponseFacts& facts) {
  if (stringOf(member(&item, "type")).ends_with("_call")) addToolName(member(&item, "name"), facts);
}

void readOpenAiResponses(const Value& root, ResponseFacts& facts, std::string& text) {
  for (const Value& item : elementsOf(member(&root, "output"))) {
    for (const Value& part : elementsOf(member(&item, "content"))) {
      text += stringOf(member(&part, "text"));
    }
    readResponsesItemCall(item, facts);
  }
  readResponsesUsage(&root, facts);
}

void readOpenAiResponsesEvent(const Value& root, ResponseFacts& facts, std::string& text) {
  const std::string_view type = stringOf(member(&root, "type"));
  if (type == "response.output_text.delta") {
    text += stringOf(member(&root, "delta"));
  } else if (type == "response.output_item.added") {
    if (const Value* item = member(&root, "item")) readResponsesItemCall(*item, facts);
  } else if (type.starts_with("response.")) {  // created, in_progress, completed, incomplete...
    readResponsesUsage(member(&root, "response"), facts);
  }
}

void readAnthropicBlock(const Value* block, ResponseFacts& facts, std::string& text) {
  const std::string_view type = stringOf(member(block, "type"));
  if (type == "text") {
    text += stringOf(member(block, "text"));
  } else if (type == "tool_use" || type == "server_tool_use") {
    addToolName(member(block, "name"), facts);
  }
}

void readAnthropicUsage(const Value* usage, ResponseFacts& facts) {
  readCount(member(usage, "input_tokens"), facts.usage.input_tokens);
  readCount(member(usage, "output_tokens"), facts.usage.output_tokens);
}

void readAnthropic(const Value& root, ResponseFacts& facts, std::string& text) {
  readModel(member(&root, "model"), facts);
  for (const Value& block : elementsOf(member(&root, "content"))) {
    readAnthropicBlock(&block, facts, text);
  }
  readAnthropicUsage(member(&root, "usage"), facts);
}

// input_json_delta (a tool's arguments being streamed) is not answer text and is skipped.
void readAnthropicEvent(const Value& root, ResponseFacts& facts, std::string& text) {
  const std::string_view type = stringOf(member(&root, "type"));
  if (type == "content_block_delta") {
    const Value* delta = member(&root, "delta");
    if (stringOf(member(delta, "type")) == "text_delta") text += stringOf(member(delta, "text"));
  } else if (type == "content_block_start") {
    readAnthropicBlock(member(&root, "content_block"), facts, text);
  } else if (type == "message_start") {
    const Value* message = member(&root, "message");
    readModel(member(message, "model"), facts);
    readAnthropicUsage(member(message, "usage"), facts);
  } else if (type == "message_delta") {
    readAnthropicUsage(member(&root, "usage"), facts);
  }
}

// Gemini sends the same GenerateContentResponse whole or per streamed event.
void readGemini(const Value& root, bool chunk, ResponseFacts& facts, std::string& text) {
  readModel(member(&root, "modelVersion"), facts);
  for (const Value& candidate : elementsOf(member(&root, "candidates"))) {
    std::string answer;
    for (const Value& part : elementsOf(member(member(&candidate, "content"), "parts"))) {
      answer += stringOf(member(&part, "text"));
      addToolName(member(member(&part, "functionCall"), "name"), facts);
    }
    appendAnswer(text, answer, chunk);
  }
  const Value* usage = member(&root, "usageMetadata");
  readCount(member(usage, "promptTokenCount"), facts.usage.input_tokens);
  readCount(member(usage, "candidatesTokenCount"), facts.usage.output_tokens);
}

// MCP tools/call results: result.content[] text items.
void readMcp(const Value& root, std::string& text) {
  for (const Value& item : elementsOf(member(member(&root, "result"), "content"))) {
    text += stringOf(member(&item, "text"));
  }
}

void readDocument(const ApiEndpoint& endpoint, const Value& root, bool chunk, ResponseFacts& facts,
                  std::string& text) {
  switch (endpoint.kind) {
    case ApiKind::OpenAiChatCompletions:
      readOpenAiChat(root, chunk, facts, text);
      break;
    case ApiKind::OpenAiResponses:
      chunk ? readOpenAiResponsesEvent(root, facts, text) : readOpenAiResponses(root, facts, text);
      break;
    case ApiKind::AnthropicMessages:
      chunk ? readAnthropicEvent(root, facts, text) : readAnthropic(root, facts, text);
      break;
    case ApiKind::GeminiGenerateContent:
    case ApiKind::GeminiStreamGenerateContent:
      readGemini(root, chunk, facts, text);
      break;
    case ApiKind::McpJsonRpc:
      readMcp(root, text);
      break;
    case ApiKind::SidecarToolCall:  // a tool answers in its own shape: scanned as it is
    case ApiKind::None:
      break;
  }
}

}  // namespace

Result<ResponseFacts> parseResponse(const ApiEndpoint& endpoint, std::string_view body) {
  const ParsedJson parsed(body);
  const auto& doc = parsed.doc();
  if (doc.HasParseError()) {
    return badJsonError("the response body", doc.GetParseError(), doc.GetErrorOffset());
  }
  ResponseFacts facts;
  if (doc.IsArray()) {
    // streamGenerateContent without alt=sse answers a JSON array of the streamed chunks.
    for (const Value& element : doc.GetArray()) {
      readDocument(endpoint, element, /*chunk=*/true, facts, facts.text);
    }
  } else {
    readDocument(endpoint, doc, /*chunk=*/false, facts, facts.text);
  }
  return facts;
}

std::string StreamDecoder::onEvent(const SseEvent& event) {
  const size_t first = event.data.find_first_not_of(" \t\r\n");
  // "[DONE]" and other non-JSON data are common enough to skip without a parse attempt.
  if (first == std::string::npos || event.data[first] != '{') return {};
  const ParsedJson parsed(event.data);
  const auto& doc = parsed.doc();
  if (doc.HasParseError()) return {};
  std::string text;
  readDocument(endpoint_, doc, /*chunk=*/true, facts_, text);
  facts_.text += text;
  return text;
}

}  // namespace aiw::ai
