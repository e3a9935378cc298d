#include "ai/provider.h"

// json_text.h first: it configures RapidJSON (SSE2) for the whole library.
#include "ai/json_text.h"

#include <rapidjson/reader.h>

#include <array>


namespace aiw::ai {

namespace {

// The OpenAI API and the hosts that speak its format (the default AI list's compatible APIs).
// Any host is recognised by its path as well; this list also accepts their unusual paths.
constexpr auto kOpenAiCompatibleHosts = std::to_array<std::string_view>({
    "api.openai.com",
    "api.groq.com",
    "api.mistral.ai",
    "openrouter.ai",
    "api.deepseek.com",
    "api.x.ai",
    "api.perplexity.ai",
    "api.together.xyz",
    "api.fireworks.ai",
    "api.together.ai",
});

constexpr std::string_view kAzureOpenAiSuffix = ".openai.azure.com";

bool isOpenAiCompatibleHost(std::string_view host) {
  for (std::string_view known : kOpenAiCompatibleHosts) {
    if (host == known) return true;
  }
  return host.size() > kAzureOpenAiSuffix.size() && host.ends_with(kAzureOpenAiSuffix);
}

bool hasQueryParameter(std::string_view query, std::string_view parameter) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    if (query.substr(0, amp) == parameter) return true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

// /v1beta/models/gemini-1.5-pro:generateContent (also Vertex AI's
// /v1/projects/p/locations/l/publishers/google/models/m:streamGenerateContent).
bool detectGemini(std::string_view path, std::string_view query, ApiEndpoint& out) {
  const size_t last_slash = path.rfind('/');
  if (last_slash == std::string_view::npos) return false;
  const std::string_view parent = path.substr(0, last_slash);
  if (!parent.ends_with("/models")) return false;
  const std::string_view leaf = path.substr(last_slash + 1);
  const size_t colon = leaf.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view action = leaf.substr(colon + 1);
  if (action == "generateContent") {
    out.kind = ApiKind::GeminiGenerateContent;
  } else if (action == "streamGenerateContent") {
    out.kind = ApiKind::GeminiStreamGenerateContent;
    out.stream_in_path = true;
    out.sse_in_query = hasQueryParameter(query, "alt=sse");
  } else {
    return false;
  }
  out.provider = Provider::Gemini;
  out.model_in_path = std::string(leaf.substr(0, colon));
  return true;
}

// Azure OpenAI names the deployment, not the model: /openai/deployments/{deployment}/...
std::string azureDeployment(std::string_view path) {
  constexpr std::string_view kPrefix = "/openai/deployments/";
  const size_t at = path.find(kPrefix);
  if (at == std::string_view::npos) return {};
  std::string_view rest = path.substr(at + kPrefix.size());
  return std::string(rest.substr(0, rest.find('/')));
}

bool detectOpenAi(std::string_view host, std::string_view path, ApiEndpoint& out) {
  const bool known_host = isOpenAiCompatibleHost(host);
  if (path.ends_with("/chat/completions")) {
    out.kind = ApiKind::OpenAiChatCompletions;
  } else if (path.ends_with("/v1/responses") || (known_host && path.ends_with("/responses"))) {
    out.kind = ApiKind::OpenAiResponses;
  } else {
    return false;
  }
  out.provider = Provider::OpenAi;
  out.model_in_path = azureDeployment(path);
  return true;
}

// Decides whether a JSON document is a JSON-RPC 2.0 request or a batch of them, in one SAX pass.
class JsonRpcSniffer : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, JsonRpcSniffer> {
 public:
  bool StartObject() {
    if (depth_ == 0) {
      request_level_ = 1;
    }
    ++depth_;
    if (depth_ == request_level_) beginRequest();
    return true;
  }
  bool StartArray() {
    if (depth_ == 0) {
      request_level_ = 2;
    } else if (depth_ == 1 && request_level_ == 2) {
      all_requests_ = false;  // a batch holds objects only
    }
    ++depth_;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    if (depth_ == request_level_) {
      ++requests_;
      if (!has_jsonrpc_ || !has_method_) all_requests_ = false;
    }
    --depth_;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    return true;
  }
  bool Key(const char* str, rapidjson::SizeType len, bool) {
    if (depth_ == request_level_) key_.assign(str, len);
    return true;
  }
  bool String(const char* str, rapidjson::SizeType len, bool) {
    if (depth_ == request_level_) {
      const std::string_view value(str, len);
      if (key_ == "jsonrpc" && value == "2.0") has_jsonrpc_ = true;
      if (key_ == "method") has_method_ = true;
    } else if (depth_ == 1 && request_level_ == 2) {
      all_requests_ = false;
    }
    return true;
  }
  bool Default() {
    if (depth_ == 1 && request_level_ == 2) all_requests_ = false;
    return true;
  }

  bool verdict() const { return all_requests_ && requests_ > 0; }

 private:
  void beginRequest() {
    has_jsonrpc_ = false;
    has_method_ = false;
    key_.clear();
  }

  size_t depth_ = 0;
  size_t request_level_ = 0;  // depth of the request objects: 1 alone, 2 inside a batch
  size_t requests_ = 0;
  bool all_requests_ = true;
  bool has_jsonrpc_ = false;
  bool has_method_ = false;
  std::string key_;
};

}  // namespace

std::string_view providerName(Provider p) {
  switch (p) {
    case Provider::OpenAi:
      return "openai";
    case Provider::Anthropic:
      return "anthropic";
    case Provider::Gemini:
      return "gemini";
    case Provider::Mcp:
      return "mcp";
    case Provider::None:
      break;
  }
  return "";
}

ApiEndpoint detectEndpoint(std::string_view host, std::string_view method, std::string_view path) {
  ApiEndpoint out;
  if (method != "POST") return out;
  const size_t question = path.find('?');
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : path.substr(question + 1);
  path = path.substr(0, question);

  if (path.ends_with("/v1/messages")) {
    out.provider = Provider::Anthropic;
    out.kind = ApiKind::AnthropicMessages;
    return out;
  }
  if (detectGemini(path, query, out)) return out;
  if (detectOpenAi(host, path, out)) return out;
  return ApiEndpoint{};
}

bool looksLikeJsonRpc(std::string_view body) {
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || (body[first] != '{' && body[first] != '[')) return false;
  JsonViewStream stream(body);
  JsonRpcSniffer sniffer;
  rapidjson::Reader reader;
  if (reader.Parse<rapidjson::kParseIterativeFlag>(stream, sniffer).IsError()) return false;
  return sniffer.verdict();
}

}  // namespace aiw::ai
