#include "ai/request_paths.h"

#include <algorithm>
#include <array>

namespace aiw::ai {

namespace {

using R = PathRole;

// Content parts are recognised by their "text" member rather than by "type", because member
// order is free and a part's type may come after its text; parts without text (images, audio,
// files) then need no special case.
constexpr auto kOpenAiChat = std::to_array<PathRule>({
    {"model", R::Model},
    {"stream", R::Stream},
    {"messages[].content", R::Text},
    {"messages[].content[].text", R::Text},
    {"messages[].tool_calls[].function.name", R::CallName, 4},
    {"messages[].tool_calls[].function.arguments", R::CallArgsString, 4},
    // The deprecated single function call of older assistant turns.
    {"messages[].function_call.name", R::CallName, 3},
    {"messages[].function_call.arguments", R::CallArgsString, 3},
});

// Responses API input items: messages ({role, content}), function_call ({name, arguments}) and
// function_call_output ({output}: a string or content parts).
constexpr auto kOpenAiResponses = std::to_array<PathRule>({
    {"model", R::Model},
    {"stream", R::Stream},
    {"instructions", R::Text},
    {"input", R::Text},
    {"input[].content", R::Text},
    {"input[].content[].text", R::Text},
    {"input[].name", R::CallName, 2},
    {"input[].arguments", R::CallArgsString, 2},
    {"input[].output", R::Text},
    {"input[].output[].text", R::Text},
});

// Messages API blocks: text {text}, tool_use {name, input}, tool_result {content: string or
// blocks}.
constexpr auto kAnthropic = std::to_array<PathRule>({
    {"model", R::Model},
    {"stream", R::Stream},
    {"system", R::Text},
    {"system[].text", R::Text},
    {"messages[].content", R::Text},
    {"messages[].content[].text", R::Text},
    {"messages[].content[].name", R::CallName, 4},
    {"messages[].content[].input", R::CallArgsTree, 4},
    {"messages[].content[].content", R::Text},
    {"messages[].content[].content[].text", R::Text},
});

// Gemini's JSON accepts both the lowerCamel names and the proto's snake_case names.
constexpr auto kGemini = std::to_array<PathRule>({
    {"model", R::Model},
    {"systemInstruction.parts[].text", R::Text},
    {"system_instruction.parts[].text", R::Text},
    {"contents[].parts[].text", R::Text},
    {"contents[].parts[].functionCall.name", R::CallName, 4},
    {"contents[].parts[].functionCall.args", R::CallArgsTree, 4},
    {"contents[].parts[].function_call.name", R::CallName, 4},
    {"contents[].parts[].function_call.args", R::CallArgsTree, 4},
    {"contents[].parts[].functionResponse.response", R::TreeTexts},
    {"contents[].parts[].function_response.response", R::TreeTexts},
});

constexpr auto kMcpSingle = std::to_array<PathRule>({
    {"method", R::RpcMethod},
    {"id", R::RpcId},
    {"params.name", R::RpcToolName},
    {"params.arguments", R::RpcArguments},
});
constexpr auto kMcpBatch = std::to_array<PathRule>({
    {"[].method", R::RpcMethod},
    {"[].id", R::RpcId},
    {"[].params.name", R::RpcToolName},
    {"[].params.arguments", R::RpcArguments},
});

CompiledPathRule compile(const PathRule& rule) {
  CompiledPathRule out;
  out.role = rule.role;
  out.owner_depth = rule.owner_depth;
  std::string_view rest = rule.pattern;
  while (!rest.empty()) {
    if (rest.front() == '.') rest.remove_prefix(1);
    if (rest.starts_with("[]")) {
      out.segments.push_back({true, {}});
      rest.remove_prefix(2);
      continue;
    }
    const size_t end = std::min(rest.find_first_of(".["), rest.size());
    out.segments.push_back({false, rest.substr(0, end)});
    rest.remove_prefix(end);
  }
  return out;
}

CompiledPathRules compileAll(std::span<const PathRule> rules) {
  CompiledPathRules out;
  for (const PathRule& rule : rules) {
    out.rules.push_back(compile(rule));
    out.deepest = std::max(out.deepest, out.rules.back().segments.size());
  }
  return out;
}

}  // namespace

const CompiledPathRules& pathRulesFor(ApiKind kind, bool batch) {
  // Function-local statics: built on first use, thread-safe, never freed before exit.
  static const CompiledPathRules kNone;
  static const CompiledPathRules kChat = compileAll(kOpenAiChat);
  static const CompiledPathRules kResp = compileAll(kOpenAiResponses);
  static const CompiledPathRules kClaude = compileAll(kAnthropic);
  static const CompiledPathRules kGem = compileAll(kGemini);
  static const CompiledPathRules kRpc = compileAll(kMcpSingle);
  static const CompiledPathRules kRpcBatch = compileAll(kMcpBatch);
  switch (kind) {
    case ApiKind::OpenAiChatCompletions:
      return kChat;
    case ApiKind::OpenAiResponses:
      return kResp;
    case ApiKind::AnthropicMessages:
      return kClaude;
    case ApiKind::GeminiGenerateContent:
    case ApiKind::GeminiStreamGenerateContent:
      return kGem;
    case ApiKind::McpJsonRpc:
      return batch ? kRpcBatch : kRpc;
    case ApiKind::None:
      break;
  }
  return kNone;
}

bool pathMatches(const CompiledPathRule& rule, std::span<const PathFrame> path) {
  if (rule.segments.size() != path.size()) return false;
  for (size_t i = 0; i < path.size(); ++i) {
    const CompiledPathRule::Segment& segment = rule.segments[i];
    if (segment.is_index != path[i].is_index) return false;
    if (!segment.is_index && segment.key != path[i].key) return false;
  }
  return true;
}

void appendPath(std::string& out, std::span<const PathFrame> path) {
  bool first = true;
  for (const PathFrame& frame : path) {
    if (frame.is_index) {
      out += '[';
      out += std::to_string(frame.index);
      out += ']';
    } else {
      if (!first) out += '.';
      out += frame.key;
    }
    first = false;
  }
}

}  // namespace aiw::ai
