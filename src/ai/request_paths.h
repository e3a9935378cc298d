// Where, in each API's request body, the facts sit: a table of path patterns per API, matched
// against the path of the value the SAX parser is at. Keeping the shapes in one table makes
// supporting a new field a one-line change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ai/provider.h"

namespace aiw::ai {

// One level of the path to the current JSON value: a member name or an array index, with the
// rules still possible at this level (so matching a value is a bit test, not a path walk).
struct PathFrame {
  bool is_index = false;
  size_t index = 0;     // of the current element, when is_index
  size_t elements = 0;  // elements begun so far, when is_index
  // The current member's name: a view into the buffer being parsed (in situ), valid while the
  // parse runs; nothing is copied per member.
  std::string_view key;
  // Bit i: rule i's pattern matches the path up to and including this frame.
  uint32_t candidates = 0;
};

// What a value at a matched path means.
enum class PathRole : uint8_t {
  None,
  Model,           // "model": the model asked for
  Stream,          // "stream": true
  Text,            // a string to scan (system prompt, message content, tool result)
  CallName,        // a tool call's name
  CallArgsString,  // a tool call's arguments as a JSON string (OpenAI): also a text
  CallArgsTree,    // a tool call's arguments as an object: captured; its strings are texts
  TreeTexts,       // a subtree whose every string is a text (Gemini functionResponse.response)
  RpcMethod,       // JSON-RPC "method"
  RpcId,           // JSON-RPC "id" (any JSON type)
  RpcToolName,     // MCP tools/call params.name
  RpcArguments,    // MCP params.arguments / sidecar "args": captured; its strings are texts
  EnvelopeSession,   // sidecar envelope "session_id"
  EnvelopeCall,      // sidecar envelope "call_id"
  EnvelopeMetadata,  // sidecar envelope "metadata": captured, not scanned
};

struct PathRule {
  // Member names joined by '.', "[]" for any array index: "messages[].content[].text".
  std::string_view pattern;
  PathRole role;
  // For CallName/CallArgs*: how many path frames lead to the object that holds the call
  // ("messages[].tool_calls[]" is 4), so the call is complete when that object ends.
  uint8_t owner_depth = 0;
};

// A PathRule with its pattern split into frames once, so matching a value compares whole
// member names and rejects most rules on their length alone.
struct CompiledPathRule {
  struct Segment {
    bool is_index = false;
    std::string_view key;
  };
  std::vector<Segment> segments;
  PathRole role = PathRole::None;
  uint8_t owner_depth = 0;
};

struct CompiledPathRules {
  static constexpr size_t kMaxRules = 32;  // candidate sets are 32-bit masks
  std::vector<CompiledPathRule> rules;
  size_t deepest = 0;  // the most frames any rule spans: deeper values need no matching
};

// The rules of `kind` (none for None), built once and shared by all threads. For McpJsonRpc,
// `batch` selects the rules of a batch's elements ("[].method").
const CompiledPathRules& pathRulesFor(ApiKind kind, bool batch);

// Every rule of `rules` as a candidate set (the candidates of the root, before any frame).
uint32_t allCandidates(const CompiledPathRules& rules);

// The candidates among `parent` (those matching the path's first `level` frames) whose segment
// `level` also matches a frame that is an index (`is_index`) or the member `key`.
uint32_t narrowCandidates(const CompiledPathRules& rules, uint32_t parent, size_t level,
                          bool is_index, std::string_view key);

// The first rule among `candidates` whose pattern is exactly `length` frames long, or null.
const CompiledPathRule* completedRule(const CompiledPathRules& rules, uint32_t candidates,
                                      size_t length);

// Appends the readable form of `path` ("messages[1].content[0].text") to `out`.
void appendPath(std::string& out, std::span<const PathFrame> path);

}  // namespace aiw::ai
