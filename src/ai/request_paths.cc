#include "ai/request_paths.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstdlib>

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

// The sidecar's tool call: the arguments are what the tool gets and what the rules look at.
constexpr auto kSidecarTool = std::to_array<PathRule>({
    {"args", R::RpcArguments},
    {"session_id", R::EnvelopeSession},
    {"call_id", R::EnvelopeCall},
    {"metadata", R::EnvelopeMetadata},
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
  if (rules.size() > CompiledPathRules::kMaxRules) std::abort();  // a table too big for the masks
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
  static const CompiledPathRules kTool = compileAll(kSidecarTool);
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
    case ApiKind::SidecarToolCall:
      return kTool;
    case ApiKind::None:
      break;
  }
  return kNone;
}

uint32_t allCandidates(const CompiledPathRules& rules) {
  const size_t n = rules.rules.size();
  return n >= 32 ? ~uint32_t{0} : (uint32_t{1} << n) - 1;
}

uint32_t narrowCandidates(const CompiledPathRules& rules, uint32_t parent, size_t level,
                          bool is_index, std::string_view key) {
  uint32_t out = 0;
  for (uint32_t left = parent; left != 0; left &= left - 1) {
    const unsigned i = static_cast<unsigned>(std::countr_zero(left));
    const std::vector<CompiledPathRule::Segment>& segments = rules.rules[i].segments;
    if (level >= segments.size()) continue;
    const CompiledPathRule::Segment& segment = segments[level];
    if (segment.is_index != is_index) continue;
    if (!is_index && segment.key != key) continue;
    out |= uint32_t{1} << i;
  }
  return out;
}

const CompiledPathRule* completedRule(const CompiledPathRules& rules, uint32_t candidates,
                                      size_t length) {
  for (uint32_t left = candidates; left != 0; left &= left - 1) {
    const CompiledPathRule& rule = rules.rules[static_cast<size_t>(std::countr_zero(left))];
    if (rule.segments.size() == length) return &rule;
  }
  return nullptr;
}

void appendPath(std::string& out, std::span<const PathFrame> path) {
  bool first = true;
  for (const PathFrame& frame : path) {
    if (frame.is_index) {
      char digits[24];
      digits[0] = '[';
      char* end = std::to_chars(digits + 1, digits + sizeof digits - 1, frame.index).ptr;
      *end++ = ']';
      out.append(digits, end);
    } else {
      if (!first) out += '.';
      out += frame.key;
    }
    first = false;
  }
}

}  // namespace aiw::ai
