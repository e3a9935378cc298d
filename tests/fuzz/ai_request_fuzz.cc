// libFuzzer target for the AI request extraction (src/ai: parseRequest, applyTextEdits) and its
// neighbours (looksLikeJsonRpc, detectEndpoint, parseResponse, StreamDecoder). Built by
// tests/fuzz/CMakeLists.txt and run by `make fuzz` (docs/fuzzing.md).
//
// Input: one byte picking the API, then the body. The byte is read as a digit, '0' + index
// (other values wrap around): '0' OpenAI chat completions, '1' OpenAI Responses, '2' Anthropic
// messages, '3' Gemini generateContent, '4' MCP JSON-RPC. The seeds in corpus/ai_request/ are
// realistic bodies of each. Checks, beyond "no crash, no leak, no UB":
//  * when parseRequest succeeds, every text locates its JSON string token in the body:
//    raw_begin < raw_end <= size, quotes at both ends, texts in body order without overlap,
//    and the token parsed alone by RapidJSON (a DOM, not the SAX pass under test) decodes to
//    exactly `text`;
//  * applyTextEdits replacing every text whole by "[R]" either fails with "bad_edit" or gives a
//    body that parseRequest accepts again with as many texts (the paths that make a text do not
//    depend on its value), each "[R]" at the same path, and every byte outside the string tokens
//    exactly as it was;
//  * looksLikeJsonRpc, detectEndpoint (the body as the request target), parseResponse and a
//    StreamDecoder fed the body's server-sent events run without crashing.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

// json_text.h first, as in src/ai: it configures RapidJSON (SSE2) for everything below.
#include "ai/json_text.h"

#include <rapidjson/document.h>

#include "ai/provider.h"
#include "ai/request_facts.h"
#include "ai/response_facts.h"
#include "http/sse_parser.h"

namespace {

using aiw::ai::ApiEndpoint;
using aiw::ai::ApiKind;
using aiw::ai::Provider;
using aiw::ai::RequestFacts;

// Says which check failed (the line), then aborts: libFuzzer keeps the input.
void check(bool ok, int line = __builtin_LINE()) {
  if (ok) return;
  std::fprintf(stderr, "ai_request_fuzz.cc:%d: check failed\n", line);
  std::abort();
}

bool verbose() {
  static const bool on = std::getenv("AIW_FUZZ_VERBOSE") != nullptr;
  return on;
}

ApiEndpoint endpointFor(uint8_t selector) {
  ApiEndpoint e;
  switch (static_cast<uint8_t>(selector - '0') % 5) {
    case 0:
      e.provider = Provider::OpenAi;
      e.kind = ApiKind::OpenAiChatCompletions;
      break;
    case 1:
      e.provider = Provider::OpenAi;
      e.kind = ApiKind::OpenAiResponses;
      break;
    case 2:
      e.provider = Provider::Anthropic;
      e.kind = ApiKind::AnthropicMessages;
      break;
    case 3:
      e.provider = Provider::Gemini;
      e.kind = ApiKind::GeminiGenerateContent;
      e.model_in_path = "gemini-1.5-pro";
      break;
    default:
      e.provider = Provider::Mcp;
      e.kind = ApiKind::McpJsonRpc;
      break;
  }
  return e;
}

// The JSON string token `token` decoded by RapidJSON's DOM parser equals `text`. Read through
// JsonViewStream, which has no SIMD specialisation, so this is RapidJSON's scalar string path,
// not the SSE2 in-situ one parseRequest uses: a second reading of the token.
//
// Known RapidJSON 1.1 bug: its SSE2 string scan tests `byte <= 0x19` where JSON forbids
// `byte < 0x20`, so a raw 0x1A-0x1F inside a 16-byte block it scans with SIMD passes through
// as itself (before the first aligned block it is refused). Such bytes are given here as the
// escape standing for that same byte, so the check holds the parser to everything else.
bool decodesTo(std::string_view token, std::string_view text) {
  std::string strict;
  for (char c : token) {
    if (c >= 0x1A && c <= 0x1F) {
      static constexpr char kHex[] = "0123456789abcdef";
      strict += "\\u001";
      strict += kHex[c & 0xF];
    } else {
      strict += c;
    }
  }
  aiw::ai::JsonViewStream stream(strict);
  rapidjson::Document doc;
  doc.ParseStream<rapidjson::kParseStopWhenDoneFlag>(stream);
  if (doc.HasParseError() || !doc.IsString() || stream.Tell() != strict.size()) return false;
  return std::string_view(doc.GetString(), doc.GetStringLength()) == text;
}

void checkLocations(std::string_view body, const RequestFacts& facts) {
  size_t previous_end = 0;
  for (const aiw::ai::TextField& t : facts.texts) {
    check(t.raw_begin < t.raw_end && t.raw_end <= body.size());
    check(t.raw_end - t.raw_begin >= 2);
    check(body[t.raw_begin] == '"' && body[t.raw_end - 1] == '"');
    check(t.raw_begin >= previous_end);  // body order, no two texts sharing bytes
    previous_end = t.raw_end;
    check(!t.field.empty());
    check(decodesTo(body.substr(t.raw_begin, t.raw_end - t.raw_begin), t.text));
  }
}

// The bytes of `body` between (and around) the tokens of `facts.texts`.
std::vector<std::string_view> gaps(std::string_view body, const RequestFacts& facts) {
  std::vector<std::string_view> out;
  size_t cursor = 0;
  for (const aiw::ai::TextField& t : facts.texts) {
    out.push_back(body.substr(cursor, t.raw_begin - cursor));
    cursor = t.raw_end;
  }
  out.push_back(body.substr(cursor));
  return out;
}

void checkRedaction(const ApiEndpoint& endpoint, std::string_view body, const RequestFacts& facts) {
  std::vector<aiw::ai::TextEdit> edits;
  for (size_t i = 0; i < facts.texts.size(); ++i) {
    edits.push_back({i, 0, facts.texts[i].text.size(), "[R]"});
  }
  aiw::Result<std::string> edited = aiw::ai::applyTextEdits(body, facts, edits);
  if (!edited) {
    check(edited.error().code == "bad_edit");
    return;
  }
  if (verbose()) std::fprintf(stderr, "edited: %s\n", edited->c_str());
  aiw::Result<RequestFacts> again = aiw::ai::parseRequest(endpoint, *edited);
  // The RapidJSON 1.1 bug of decodesTo: a raw 0x1A-0x1F anywhere (a key too) is accepted or
  // refused by where it lies in 16-byte blocks, and the edit moves the bytes after a token.
  if (!again.ok() && body.find_first_of("\x1a\x1b\x1c\x1d\x1e\x1f") != std::string_view::npos) {
    return;
  }
  check(again.ok());
  check(again->texts.size() == facts.texts.size());
  for (size_t i = 0; i < facts.texts.size(); ++i) {
    check(again->texts[i].text == "[R]");
    check(again->texts[i].field == facts.texts[i].field);
  }
  checkLocations(*edited, *again);
  check(gaps(body, facts) == gaps(*edited, *again));
  check(again->model == facts.model && again->stream == facts.stream);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const ApiEndpoint endpoint = endpointFor(data[0]);
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  aiw::Result<RequestFacts> facts = aiw::ai::parseRequest(endpoint, body);
  if (verbose()) {
    std::fprintf(stderr, "kind=%d parsed=%d\n", static_cast<int>(endpoint.kind),
                 facts.ok());
    if (!facts) std::fprintf(stderr, "error: %s\n", facts.error().message.c_str());
  }
  if (facts) {
    if (verbose()) {
      std::fprintf(stderr, "model=%s stream=%d texts=%zu tool_calls=%zu method=%s tool=%s\n",
                   facts->model.c_str(), facts->stream, facts->texts.size(),
                   facts->tool_calls.size(), facts->jsonrpc_method.c_str(),
                   facts->mcp_tool.c_str());
      for (const aiw::ai::TextField& t : facts->texts) {
        std::fprintf(stderr, "  %s [%zu,%zu) %s\n", t.field.c_str(), t.raw_begin, t.raw_end,
                     t.text.c_str());
      }
    }
    check(facts->endpoint.kind == endpoint.kind);
    checkLocations(body, *facts);
    checkRedaction(endpoint, body, *facts);
  } else {
    check(facts.error().code == "bad_json");
  }

  (void)aiw::ai::looksLikeJsonRpc(body);
  (void)aiw::ai::detectEndpoint("api.openai.com", "POST", body);
  (void)aiw::ai::detectEndpoint("generativelanguage.googleapis.com", "POST", body);
  (void)aiw::ai::parseResponse(endpoint, body);

  ApiEndpoint streamed = endpoint;
  if (streamed.kind == ApiKind::GeminiGenerateContent) {
    streamed.kind = ApiKind::GeminiStreamGenerateContent;
    streamed.stream_in_path = true;
    streamed.sse_in_query = true;
  }
  aiw::ai::StreamDecoder decoder(streamed);
  aiw::SseParser sse([&](const aiw::SseEvent& e) { (void)decoder.onEvent(e); });
  (void)sse.feed(body);
  (void)sse.finish();
  (void)decoder.facts();
  return 0;
}
