// detectEndpoint and looksLikeJsonRpc: telling the AI API from the request target and body.
#include "ai/provider.h"

#include <doctest/doctest.h>

namespace aiw::ai {
namespace {

TEST_CASE("names each provider, and None by the empty string") {
  CHECK(providerName(Provider::OpenAi) == "openai");
  CHECK(providerName(Provider::Anthropic) == "anthropic");
  CHECK(providerName(Provider::Gemini) == "gemini");
  CHECK(providerName(Provider::Mcp) == "mcp");
  CHECK(providerName(Provider::None).empty());
}

TEST_CASE("recognises OpenAI chat completions and responses on api.openai.com") {
  ApiEndpoint chat = detectEndpoint("api.openai.com", "POST", "/v1/chat/completions");
  CHECK(chat.provider == Provider::OpenAi);
  CHECK(chat.kind == ApiKind::OpenAiChatCompletions);
  CHECK(chat.known());
  CHECK(chat.model_in_path.empty());

  ApiEndpoint responses = detectEndpoint("api.openai.com", "POST", "/v1/responses");
  CHECK(responses.provider == Provider::OpenAi);
  CHECK(responses.kind == ApiKind::OpenAiResponses);
}

TEST_CASE("recognises the OpenAI-compatible APIs by their own paths") {
  CHECK(detectEndpoint("api.groq.com", "POST", "/openai/v1/chat/completions").kind ==
        ApiKind::OpenAiChatCompletions);
  CHECK(detectEndpoint("openrouter.ai", "POST", "/api/v1/chat/completions").kind ==
        ApiKind::OpenAiChatCompletions);
  CHECK(detectEndpoint("api.deepseek.com", "POST", "/chat/completions").kind ==
        ApiKind::OpenAiChatCompletions);
  CHECK(detectEndpoint("api.perplexity.ai", "POST", "/chat/completions").provider ==
        Provider::OpenAi);
  CHECK(detectEndpoint("api.fireworks.ai", "POST", "/inference/v1/chat/completions").kind ==
        ApiKind::OpenAiChatCompletions);
  // A known host's Responses API need not sit under /v1.
  CHECK(detectEndpoint("api.x.ai", "POST", "/responses").kind == ApiKind::OpenAiResponses);
}

TEST_CASE("recognises any host that serves the OpenAI paths, query ignored") {
  ApiEndpoint local = detectEndpoint("localhost", "POST", "/v1/chat/completions?trace=1");
  CHECK(local.kind == ApiKind::OpenAiChatCompletions);
  CHECK(detectEndpoint("llm.internal", "POST", "/proxy/v1/responses").kind ==
        ApiKind::OpenAiResponses);
  // An unknown host's bare /responses is too generic to claim.
  CHECK_FALSE(detectEndpoint("shop.example", "POST", "/responses").known());
}

TEST_CASE("takes the Azure OpenAI deployment as the model in the path") {
  ApiEndpoint azure =
      detectEndpoint("contoso.openai.azure.com", "POST",
                     "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21");
  CHECK(azure.provider == Provider::OpenAi);
  CHECK(azure.kind == ApiKind::OpenAiChatCompletions);
  CHECK(azure.model_in_path == "gpt4o-prod");
}

TEST_CASE("recognises Anthropic messages on any host") {
  ApiEndpoint direct = detectEndpoint("api.anthropic.com", "POST", "/v1/messages");
  CHECK(direct.provider == Provider::Anthropic);
  CHECK(direct.kind == ApiKind::AnthropicMessages);
  CHECK(detectEndpoint("gateway.corp", "POST", "/anthropic/v1/messages?beta=true").kind ==
        ApiKind::AnthropicMessages);
  CHECK_FALSE(detectEndpoint("api.anthropic.com", "POST", "/v1/messages/count_tokens").known());
}

TEST_CASE("recognises Gemini generateContent and its streaming forms with the model") {
  ApiEndpoint once = detectEndpoint("generativelanguage.googleapis.com", "POST",
                                    "/v1beta/models/gemini-1.5-pro:generateContent");
  CHECK(once.provider == Provider::Gemini);
  CHECK(once.kind == ApiKind::GeminiGenerateContent);
  CHECK(once.model_in_path == "gemini-1.5-pro");
  CHECK_FALSE(once.stream_in_path);

  ApiEndpoint sse =
      detectEndpoint("generativelanguage.googleapis.com", "POST",
                     "/v1beta/models/gemini-2.0-flash:streamGenerateContent?key=k&alt=sse");
  CHECK(sse.kind == ApiKind::GeminiStreamGenerateContent);
  CHECK(sse.model_in_path == "gemini-2.0-flash");
  CHECK(sse.stream_in_path);
  CHECK(sse.sse_in_query);

  ApiEndpoint array = detectEndpoint("generativelanguage.googleapis.com", "POST",
                                     "/v1beta/models/gemini-2.0-flash:streamGenerateContent");
  CHECK(array.stream_in_path);
  CHECK_FALSE(array.sse_in_query);

  ApiEndpoint vertex = detectEndpoint(
      "europe-west4-aiplatform.googleapis.com", "POST",
      "/v1/projects/p/locations/europe-west4/publishers/google/models/gemini-1.5-flash:"
      "generateContent");
  CHECK(vertex.kind == ApiKind::GeminiGenerateContent);
  CHECK(vertex.model_in_path == "gemini-1.5-flash");

  CHECK_FALSE(detectEndpoint("generativelanguage.googleapis.com", "POST",
                             "/v1beta/models/gemini-1.5-pro:countTokens")
                  .known());
}

TEST_CASE("only POST requests are API calls") {
  CHECK_FALSE(detectEndpoint("api.openai.com", "GET", "/v1/chat/completions").known());
  CHECK_FALSE(detectEndpoint("api.openai.com", "GET", "/v1/responses/resp_123").known());
  CHECK_FALSE(detectEndpoint("api.openai.com", "POST", "/v1/responses/resp_123").known());
  CHECK_FALSE(detectEndpoint("api.anthropic.com", "post", "/v1/messages").known());
  CHECK_FALSE(detectEndpoint("api.openai.com", "POST", "/v1/embeddings").known());
  CHECK(detectEndpoint("api.openai.com", "GET", "/v1/chat/completions").provider == Provider::None);
}

TEST_CASE("tells JSON-RPC 2.0 requests and batches from other JSON") {
  CHECK(looksLikeJsonRpc(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})"));
  CHECK(looksLikeJsonRpc(" \n{\"method\":\"notifications/initialized\",\"jsonrpc\":\"2.0\"}"));
  CHECK(looksLikeJsonRpc(
      R"([{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b","params":{}}])"));

  CHECK_FALSE(looksLikeJsonRpc(R"({"jsonrpc":"1.0","id":1,"method":"a"})"));
  CHECK_FALSE(looksLikeJsonRpc(R"({"jsonrpc":"2.0","id":1,"result":{}})"));  // a response
  CHECK_FALSE(looksLikeJsonRpc(R"({"model":"gpt-4o","messages":[]})"));
  CHECK_FALSE(looksLikeJsonRpc(R"({"params":{"jsonrpc":"2.0","method":"x"}})"));  // nested
  CHECK_FALSE(looksLikeJsonRpc(R"([{"jsonrpc":"2.0","method":"a"},3])"));
  CHECK_FALSE(looksLikeJsonRpc("[]"));
  CHECK_FALSE(looksLikeJsonRpc(R"({"jsonrpc":"2.0","method":"a")"));  // truncated
  CHECK_FALSE(looksLikeJsonRpc("jsonrpc"));
  CHECK_FALSE(looksLikeJsonRpc(""));
}

}  // namespace
}  // namespace aiw::ai
