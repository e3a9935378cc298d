#include "ai/provider_errors.h"

// json_text.h first: it configures RapidJSON (SSE2) for the whole library.
#include "ai/json_text.h"

#include <rapidjson/document.h>

#include "core/log.h"

namespace aiw::ai {

namespace {

void appendJsonString(std::string& out, std::string_view text) {
  out += '"';
  appendJsonEscaped(out, text);
  out += '"';
}

// The rule's name, or null when the block has none.
void appendRule(std::string& out, std::string_view rule) {
  if (rule.empty()) {
    out += "null";
  } else {
    appendJsonString(out, rule);
  }
}

// The id is echoed raw (the client matches replies by it), so it must be a JSON scalar an id
// can be; anything else becomes null rather than breaking the reply.
void appendJsonRpcId(std::string& out, std::string_view id) {
  rapidjson::Document doc;
  JsonViewStream stream(id);
  doc.ParseStream<kDomParseFlags>(stream);
  if (id.empty() || doc.HasParseError() || !(doc.IsString() || doc.IsNumber() || doc.IsNull())) {
    out += "null";
    return;
  }
  out += id;
}

}  // namespace

std::string blockedBody(Provider provider, std::string_view reason, std::string_view rule,
                        std::string_view jsonrpc_id) {
  std::string out;
  out.reserve(reason.size() + rule.size() + 128);
  switch (provider) {
    case Provider::OpenAi:
      out += R"({"error":{"message":)";
      appendJsonString(out, reason);
      out += R"(,"type":"policy_violation","code":"blocked","param":null}})";
      break;
    case Provider::Anthropic:
      out += R"({"type":"error","error":{"type":"permission_error","message":)";
      appendJsonString(out, reason);
      out += "}}";
      break;
    case Provider::Gemini:
      out += R"({"error":{"code":403,"message":)";
      appendJsonString(out, reason);
      out += R"(,"status":"PERMISSION_DENIED"}})";
      break;
    case Provider::Mcp:
      out += R"({"jsonrpc":"2.0","id":)";
      appendJsonRpcId(out, jsonrpc_id);
      out += R"(,"error":{"code":-32001,"message":)";
      appendJsonString(out, reason);
      out += R"(,"data":{"rule":)";
      appendRule(out, rule);
      out += "}}}";
      break;
    case Provider::None:
      out += R"({"error":"blocked","reason":)";
      appendJsonString(out, reason);
      out += R"(,"rule":)";
      appendRule(out, rule);
      out += '}';
      break;
  }
  return out;
}

std::string blockedStreamEvent(Provider provider, std::string_view reason, std::string_view rule,
                               std::string_view jsonrpc_id) {
  // OpenAI and Gemini SDKs read an error from an unnamed event's data; Anthropic's SDK, and the
  // generic shape, name the event "error".
  const bool unnamed = provider == Provider::OpenAi || provider == Provider::Gemini;
  std::string out = unnamed ? "data: " : "event: error\ndata: ";
  out += blockedBody(provider, reason, rule, jsonrpc_id);
  out += "\n\n";
  return out;
}

}  // namespace aiw::ai
