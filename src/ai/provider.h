// Which AI API an HTTP exchange speaks, told from its host, method and path. The guardrails
// parse bodies only for the APIs they know; everything else is scanned as plain bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aiw::ai {

enum class Provider : uint8_t { None, OpenAi, Anthropic, Gemini, Mcp };

enum class ApiKind : uint8_t {
  None,
  OpenAiChatCompletions,  // POST .../chat/completions (OpenAI and the OpenAI-compatible APIs)
  OpenAiResponses,        // POST .../responses
  AnthropicMessages,      // POST .../v1/messages
  GeminiGenerateContent,  // POST .../models/{model}:generateContent
  GeminiStreamGenerateContent,  // POST .../models/{model}:streamGenerateContent[?alt=sse]
  McpJsonRpc,             // MCP streamable HTTP: JSON-RPC 2.0 requests (told by the body)
  // The sidecar's tool call envelope, POST /proxy/v1/tools/{tool}:
  // {"args": {...}, "session_id", "call_id", "metadata": {...}} (told by the listener).
  SidecarToolCall,
};

// "openai", "anthropic", "gemini", "mcp"; "" for None.
std::string_view providerName(Provider p);

struct ApiEndpoint {
  Provider provider = Provider::None;
  ApiKind kind = ApiKind::None;
  // Gemini names the model in the path ("gemini-1.5-pro" of
  // /v1beta/models/gemini-1.5-pro:generateContent); Azure OpenAI names the deployment
  // (/openai/deployments/{deployment}/chat/completions). Empty otherwise.
  std::string model_in_path;
  bool stream_in_path = false;  // streamGenerateContent
  bool sse_in_query = false;    // ?alt=sse (Gemini streams SSE instead of a JSON array)

  bool known() const { return kind != ApiKind::None; }
};

// Detects the API from the request target. `host` is lower-case without port; `path` is the
// origin-form target (query included). Only POST requests are API calls. Recognised:
//  * OpenAI: api.openai.com and every OpenAI-compatible API host of the default AI list
//    (Groq, Mistral, OpenRouter, DeepSeek, xAI, Perplexity, Azure OpenAI *.openai.azure.com,
//    ...), and any host when the path ends with /chat/completions or /v1/responses.
//  * Anthropic: a path ending with /v1/messages (api.anthropic.com, Bedrock-style proxies).
//  * Gemini: a path containing /models/{model}:generateContent or :streamGenerateContent.
// MCP is not told by the target (any path can carry it): see looksLikeJsonRpc.
ApiEndpoint detectEndpoint(std::string_view host, std::string_view method, std::string_view path);

// True when `body` starts (after whitespace) like a JSON-RPC 2.0 request or batch: an object or
// array whose objects carry "jsonrpc":"2.0" and a "method". Cheap: parses the JSON once.
bool looksLikeJsonRpc(std::string_view body);

}  // namespace aiw::ai
