// Parse speed of the provider-format readers (src/ai): ai::parseRequest on a realistic ~4 KiB
// OpenAI chat request and an Anthropic messages request (system prompt, several turns of prose
// with newlines, some code with quotes and backslashes, a tool call), and ai::parseResponse on a
// ~400-byte chat.completion. Prints µs per parse and MB/s (10^6 bytes per second) of this
// thread's CPU time, which stays meaningful on a machine shared with other work.
//
//   aiw_ai_parse_bench [--iterations 100000]
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "ai/provider.h"
#include "ai/request_facts.h"
#include "ai/response_facts.h"

namespace {

using aiw::ai::ApiEndpoint;
using aiw::ai::ApiKind;
using aiw::ai::Provider;

double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string jsonString(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  out += '"';
  return out;
}

constexpr std::string_view kSystem =
    "You are a careful senior software engineer helping a colleague. Answer precisely, cite the "
    "relevant documentation when you can, and prefer small, reviewable changes.\nNever invent "
    "APIs. When unsure, say so and propose how to find out.\nThe team works in Python 3.12 and "
    "Postgres 16 on Kubernetes; services talk over HTTP/2 and a Kafka queue. Code review happens "
    "in small pull requests, each with tests. Explain trade-offs briefly, and when a change is "
    "risky, say how to roll it out behind a flag and how to roll it back.";

constexpr std::string_view kProse[] = {
    "I have a service that reads orders from a queue and writes them to Postgres. Under load the "
    "latency jumps from 5 ms to 400 ms and I cannot see why.\nThe CPU is at 30%, the database "
    "looks idle. What should I measure first?",
    "Start with where the time goes per request: queue wait, deserialisation, the transaction, "
    "the commit. A histogram per stage usually points at one of them.\nAlso check the connection "
    "pool size against the number of consumers: a pool of 10 with 50 consumers means queueing.",
    "The pool is 10 and we run 64 consumers, so that fits. Here is the code that takes a "
    "connection, can you check it for anything else that looks wrong?",
    "Two things stand out. The connection is held across the HTTP call to the pricing service, "
    "so a slow pricing answer keeps a pool slot busy.\nAnd the retry loop sleeps while holding "
    "it too. Take the connection only around the SQL.",
};

constexpr std::string_view kCode =
    "def handle(msg):\n    with pool.connection() as conn:\n        price = pricing.get(msg[\"sku\"])"
    "\n        for attempt in range(3):\n            try:\n                conn.execute(\"INSERT INTO "
    "orders VALUES (%s, %s)\", (msg[\"id\"], price))\n                break\n            except "
    "Retry:\n                time.sleep(0.1 * attempt)  # path C:\\\\tmp\\\\log\n";

std::string openAiRequest() {
  std::string body = "{\"model\":\"gpt-4o-2024-08-06\",\"temperature\":0.2,\"messages\":[";
  body += "{\"role\":\"system\",\"content\":" + jsonString(kSystem) + "}";
  for (int round = 0; round < 2; ++round) {
    body += ",{\"role\":\"user\",\"content\":" + jsonString(kProse[0]) + "}";
    body += ",{\"role\":\"assistant\",\"content\":" + jsonString(kProse[1]) + "}";
    body += ",{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":" +
            jsonString(std::string(kProse[2]) + "\n```python\n" + std::string(kCode) + "```") + "}]}";
    body += ",{\"role\":\"assistant\",\"content\":" + jsonString(kProse[3]) + "}";
  }
  body += ",{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_8f2a\",\"type\":"
          "\"function\",\"function\":{\"name\":\"run_query\",\"arguments\":" +
          jsonString("{\"sql\":\"SELECT count(*) FROM orders WHERE created_at > now() - interval "
                     "'1 hour'\",\"timeout_ms\":2000}") +
          "}}]}";
  body += ",{\"role\":\"tool\",\"tool_call_id\":\"call_8f2a\",\"content\":\"[{\\\"count\\\":18234}]\"}";
  body += "],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"run_query\",\"description\":"
          "\"Runs a read-only SQL query\",\"parameters\":{\"type\":\"object\",\"properties\":{\"sql\":"
          "{\"type\":\"string\"},\"timeout_ms\":{\"type\":\"integer\"}},\"required\":[\"sql\"]}}}],"
          "\"stream\":true,\"max_tokens\":1024}";
  return body;
}

std::string anthropicRequest() {
  std::string body = "{\"model\":\"claude-3-5-sonnet-20241022\",\"max_tokens\":1024,\"system\":" +
                     jsonString(kSystem) + ",\"messages\":[";
  for (int round = 0; round < 2; ++round) {
    if (round > 0) body += ',';
    body += "{\"role\":\"user\",\"content\":" + jsonString(kProse[0]) + "}";
    body += ",{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":" +
            jsonString(kProse[1]) + "}]}";
    body += ",{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":" +
            jsonString(std::string(kProse[2]) + "\n```python\n" + std::string(kCode) + "```") + "}]}";
    body += ",{\"role\":\"assistant\",\"content\":" + jsonString(kProse[3]) + "}";
  }
  body += ",{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":"
          "\"run_query\",\"input\":{\"sql\":\"SELECT count(*) FROM orders WHERE created_at > now() "
          "- interval '1 hour'\",\"timeout_ms\":2000}}]}";
  body += ",{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_01\","
          "\"content\":\"[{\\\"count\\\":18234}]\"}]}";
  body += "],\"stream\":false}";
  return body;
}

constexpr std::string_view kChatCompletion =
    R"({"id":"chatcmpl-AbC123","object":"chat.completion","created":1727000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"Hold the connection only around the SQL statement; move the pricing call and the retry sleep outside.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1017,"completion_tokens":24,"total_tokens":1041},"system_fingerprint":"fp_abc"})";

volatile size_t g_sink = 0;

template <typename Fn>
void run(const char* name, std::string_view body, size_t iterations, Fn&& fn) {
  for (size_t i = 0; i < iterations / 20 + 1; ++i) fn();  // warm up
  const double start = threadCpuSeconds();
  for (size_t i = 0; i < iterations; ++i) fn();
  const double seconds = threadCpuSeconds() - start;
  const double us = seconds * 1e6 / static_cast<double>(iterations);
  const double mbs = static_cast<double>(body.size()) * static_cast<double>(iterations) / seconds / 1e6;
  std::printf("%-28s %6zu bytes  %8.3f us/parse  %8.1f MB/s\n", name, body.size(), us, mbs);
}

}  // namespace

int main(int argc, char** argv) {
  size_t iterations = 100000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
      iterations = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: %s [--iterations N]\n", argv[0]);
      return 2;
    }
  }
  ApiEndpoint chat;
  chat.provider = Provider::OpenAi;
  chat.kind = ApiKind::OpenAiChatCompletions;
  ApiEndpoint claude;
  claude.provider = Provider::Anthropic;
  claude.kind = ApiKind::AnthropicMessages;

  const std::string openai = openAiRequest();
  const std::string anthropic = anthropicRequest();
  for (const auto& [endpoint, body] : {std::pair{&chat, &openai}, std::pair{&claude, &anthropic}}) {
    auto facts = aiw::ai::parseRequest(*endpoint, *body);
    if (!facts || facts->texts.empty() || facts->tool_calls.empty()) {
      std::fprintf(stderr, "the bench request does not parse as expected\n");
      return 1;
    }
  }
  auto response = aiw::ai::parseResponse(chat, kChatCompletion);
  if (!response || response->usage.input_tokens != 1017) {
    std::fprintf(stderr, "the bench response does not parse as expected\n");
    return 1;
  }

  run("parseRequest openai chat", openai, iterations, [&] {
    auto facts = aiw::ai::parseRequest(chat, openai);
    g_sink = g_sink + facts->texts.size();
  });
  run("parseRequest anthropic", anthropic, iterations, [&] {
    auto facts = aiw::ai::parseRequest(claude, anthropic);
    g_sink = g_sink + facts->texts.size();
  });
  run("parseResponse chat.completion", kChatCompletion, iterations, [&] {
    auto facts = aiw::ai::parseResponse(chat, kChatCompletion);
    g_sink = g_sink + facts->text.size();
  });
  return 0;
}
