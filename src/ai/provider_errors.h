// How a guardrail refusal looks to an AI app: in its provider's own error shape, so the SDK
// raises its usual error and the app shows the reason (SPEC §6).
#pragma once

#include <string>
#include <string_view>

#include "ai/provider.h"

namespace aiw::ai {

// The JSON body of a refused request:
//  OpenAI    {"error":{"message":R,"type":"policy_violation","code":"blocked","param":null}}
//  Anthropic {"type":"error","error":{"type":"permission_error","message":R}}
//  Gemini    {"error":{"code":403,"message":R,"status":"PERMISSION_DENIED"}}
//  MCP       {"jsonrpc":"2.0","id":ID,"error":{"code":-32001,"message":R,"data":{"rule":...}}}
//  None      {"error":"blocked","reason":R,"rule":RULE}
// where R is `reason` itself (the rule's
// block_reason), so apps show exactly what the operator wrote. `rule` may be empty (null).
// `jsonrpc_id` is the raw JSON id for MCP ("null" when empty).
std::string blockedBody(Provider provider, std::string_view reason, std::string_view rule,
                        std::string_view jsonrpc_id = {});

// The SSE bytes that end a streamed response cut by a guardrail, in the provider's stream error
// shape, blank line included:
//  OpenAI    "data: {\"error\":{...as above...}}\n\n"
//  Anthropic "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"permission_error\",...}}\n\n"
//  Gemini    "data: {\"error\":{...as above...}}\n\n"
//  MCP/None  "event: error\ndata: <blockedBody>\n\n"
std::string blockedStreamEvent(Provider provider, std::string_view reason, std::string_view rule,
                               std::string_view jsonrpc_id = {});

}  // namespace aiw::ai
