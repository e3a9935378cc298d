// What an AI request carries, extracted from its JSON body: the model, the texts a guardrail
// scans (with where each one sits in the body, so a redaction can rewrite it in place), tool
// calls, and for MCP the JSON-RPC call.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ai/provider.h"
#include "core/result.h"

namespace aiw::ai {

// One JSON string of the body that holds text worth scanning.
struct TextField {
  // Where it is, as a path a person reads: "messages[1].content",
  // "messages[0].content[2].text", "system", "contents[0].parts[1].text", "input[3].content",
  // "params.arguments.code", "tool_calls[0].function.arguments".
  std::string field;
  std::string text;        // the decoded string value (JSON escapes resolved), UTF-8
  size_t raw_begin = 0;    // byte offsets of the JSON string token in the body, quotes included:
  size_t raw_end = 0;      // body.substr(raw_begin, raw_end - raw_begin) == "\"...\""
};

struct ToolCall {
  std::string name;
  std::string arguments_json;  // the arguments as JSON text (an object, usually)
  std::string field;           // where the call sits in the body
};

struct RequestFacts {
  ApiEndpoint endpoint;
  std::string model;   // from the body, else endpoint.model_in_path
  bool stream = false; // the response will stream (body "stream": true, or streamGenerateContent)
  // System prompts, message contents (string or content parts), tool results, tool call
  // arguments, in body order.
  std::vector<TextField> texts;
  // Tool calls present in the request (assistant turns in the history, tool definitions are
  // not calls), and for MCP the tools/call being made.
  std::vector<ToolCall> tool_calls;
  // MCP (endpoint.kind == McpJsonRpc, a single request; a batch takes its first tools/call):
  std::string jsonrpc_method;   // "tools/call", "initialize", ...
  std::string jsonrpc_id;       // the raw JSON of the id ("7", "\"abc\""), "" for a notification
  std::string mcp_tool;         // params.name of tools/call
  std::string mcp_arguments_json;  // params.arguments of tools/call, JSON text ("{}" if absent)
  // Sidecar tool call envelope (endpoint.kind == SidecarToolCall): "args" (required, an
  // object) as compact JSON text, and the optional "session_id", "call_id" (strings) and
  // "metadata" (an object, compact JSON text; "" when absent).
  std::string envelope_args_json;
  std::string envelope_session_id;
  std::string envelope_call_id;
  std::string envelope_metadata_json;
};

// Parses `body` as a request of `endpoint`'s API (kind McpJsonRpc parses JSON-RPC). Errors:
// "bad_json" (not JSON, or not an object/array where the API needs one; message says where);
// for SidecarToolCall also "bad_envelope" (no "args" object, or a member of the wrong type).
// Unknown fields are ignored; a known field of an unexpected type is skipped, not an error
// (APIs grow), so the extraction never refuses a request the upstream would accept.
Result<RequestFacts> parseRequest(const ApiEndpoint& endpoint, std::string_view body);

// One replacement of a redaction: the decoded text range [begin, end) of texts[field_index]
// becomes `replacement`.
struct TextEdit {
  size_t field_index = 0;
  size_t begin = 0;
  size_t end = 0;
  std::string replacement;  // "[REDACTED:secret.aws_access_key]"
};

// Returns `body` with the edits applied: each touched JSON string token is re-encoded in
// place, every other byte is kept as it was. Overlapping edits of one field are merged (the
// union is replaced by the first edit's replacement). Errors: "bad_edit" (an index or range
// outside the facts).
Result<std::string> applyTextEdits(std::string_view body, const RequestFacts& facts,
                                   std::vector<TextEdit> edits);

// Returns `body` (a JSON object) with each top-level member of `overrides_json` (a JSON object)
// set: replaced when present, appended when not. For MCP tools/call the members go into
// params.arguments instead, for a sidecar tool call into "args". Errors: "bad_json".
Result<std::string> applyParamOverrides(std::string_view body, const RequestFacts& facts,
                                        std::string_view overrides_json);

}  // namespace aiw::ai
