// The filter interface (DESIGN.md "The filter interface"). Filters never touch sockets: they
// read and change a codec-neutral view of a connection or an HTTP exchange and return a
// Verdict; the chain (chain.h) and the listeners do the I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ai/request_facts.h"
#include "ai/response_facts.h"
#include "core/buffer.h"
#include "core/headers.h"

namespace aiw {

enum class Action : uint8_t {
  Continue,      // next filter
  NeedMoreData,  // call me again with more (peeked bytes, or the body buffered so far)
  Bypass,        // stop inspecting: tunnel (connection) / pass the rest unchanged (stream)
  Block,         // the chain sends the reply (status + reason); the filter writes nothing
};

struct Verdict {
  Action action = Action::Continue;
  uint16_t status = 0;  // for Block: the HTTP status to answer with (403 when 0)
  std::string reason;
  // For a 429 Block: seconds until the client may try again (the answer's Retry-After); 0: none.
  uint32_t retry_after_s = 0;

  static Verdict next() { return {}; }
  static Verdict needMoreData() { return {Action::NeedMoreData, 0, {}, 0}; }
  static Verdict bypass() { return {Action::Bypass, 0, {}, 0}; }
  static Verdict block(uint16_t status, std::string reason) {
    return {Action::Block, status, std::move(reason), 0};
  }
};

enum class TrafficClass : uint8_t { Unknown, Ai, Chatty };

// Facts about one downstream connection, shared by the connection filters.
struct ConnectionInfo {
  std::string listener;       // listener name
  std::string client;         // "ip:port" of the downstream peer
  std::string target_host;    // CONNECT authority host (lower-case), or absolute-form host
  uint16_t target_port = 0;
  bool is_connect = false;    // CONNECT tunnel request (vs absolute-form plain HTTP)
  // A sidecar listener's connection: an agent's own calls (tools, MCP, LLM routes), always
  // inspected whatever host they go to.
  bool sidecar = false;
  // From the TLS ClientHello (tls_inspector), for a CONNECT whose client spoke first:
  bool tls = false;           // the client's first bytes are a TLS handshake record
  // Why the ClientHello could not be used: malformed, too large, or incomplete when the peek
  // stopped (bound, timeout, EOF). Empty when it parsed (or the bytes are not TLS at all). The
  // classifier refuses a connection it must intercept when this is set.
  std::string tls_error;
  std::string sni;            // server_name, lower-case, a DNS name; empty when absent
  std::vector<std::string> alpn;  // protocols offered, in the client's order (GREASE left out)
  // supported_versions offered (GREASE left out), or {legacy_version} when the hello has no
  // such extension (a TLS 1.2-only client); 0x0304 means TLS 1.3.
  std::vector<uint16_t> tls_versions;
  TrafficClass traffic_class = TrafficClass::Unknown;
  bool intercept = false;     // decided by the classifier: decrypt and inspect
  bool bypassed = false;      // turned into a blind tunnel
  // The blind tunnel's life and bytes, set by the listener when it starts / ends, for the
  // reporter's tunnel event (read in onConnectionClose).
  std::chrono::steady_clock::time_point tunnel_started{};
  std::chrono::steady_clock::time_point tunnel_ended{};
  uint64_t tunnel_bytes_up = 0;    // downstream → upstream
  uint64_t tunnel_bytes_down = 0;  // upstream → downstream
};

// What a pattern_matcher detector found in an exchange. Never the matched text: only where it
// is, so events and logs can say what was found without repeating a secret.
struct Detection {
  std::string detector;  // "secret.aws_access_key", a configured pattern's id
  std::string category;  // "secret", "pii", "prompt_injection", ...
  std::string severity;  // "low", "medium", "high", "critical"
  std::string field;     // "messages[1].content", "response", "body"
  bool response = false; // found in the response (else in the request)
  // Request detections in an extracted text: the index of that text in request_facts->texts
  // and the byte range in its decoded value (what a redaction rewrites). Otherwise SIZE_MAX and
  // the range within the scanned bytes (the raw body, or the streamed response text).
  size_t text_index = SIZE_MAX;
  uint64_t start = 0;
  uint64_t end = 0;
};

// What the rule_evaluator decided for an exchange.
enum class RuleOutcome : uint8_t { None, Allow, Block, Modify, Log };

// A rule decision worth a security event (block, modify, log), recorded by the rule_evaluator
// as it decides; the reporter turns each into one `security` event when the exchange completes.
struct SecurityDecision {
  RuleOutcome action = RuleOutcome::None;
  std::string rule;
  std::string reason;     // the block reason ("" for log / modify)
  bool response = false;  // decided on the response (else on the request)
};

// Facts about one HTTP exchange (an HTTP/1 message pair or an HTTP/2 stream).
struct StreamInfo {
  const ConnectionInfo* connection = nullptr;  // outlives the stream: owned by the connection
  uint64_t id = 0;                             // unique per process
  std::string method;
  std::string scheme;     // "http" / "https"
  std::string authority;  // host[:port]
  std::string host;       // the authority's host: lower-case, no port, IPv6 without brackets
  std::string path;       // origin-form path + query
  std::string protocol;   // "HTTP/1.1", "HTTP/2"
  uint16_t status = 0;    // response status sent downstream
  Verdict verdict;        // the decision taken for the exchange (Block or Bypass; else Continue)
  std::string blocked_by; // filter that blocked, if any
  // A filter that wanted the whole body could not see it (larger than max_inspect_body_bytes
  // with fail_mode: open): the body was passed uninspected, and the reporter says so.
  bool inspection_skipped = false;
  std::string error;      // error code when the exchange failed (upstream_connect, ...)
  uint64_t bytes_in = 0;   // request body bytes received from downstream
  uint64_t bytes_out = 0;  // response body bytes sent downstream

  // ---- AI and guardrail facts (pattern_matcher, rule_evaluator) ----
  // Whether the guardrails look inside this exchange: set by the listener for intercepted
  // connections, by domain_classifier's request phase for plain HTTP to hosts it would intercept.
  // Everything else only passes through the chain (never scanned, like a blind tunnel).
  bool inspect = false;
  TrafficClass traffic_class = TrafficClass::Unknown;
  ai::ApiEndpoint endpoint;  // the AI API the request speaks (provider None when unknown)
  // The request body's extracted facts, when a filter parsed it (the first one that needs them
  // parses, the others reuse). Null when there was no body or it was not an AI API's JSON.
  std::shared_ptr<const ai::RequestFacts> request_facts;
  std::string model;      // requested model (request facts; for the reporter)
  std::string tool;       // tool called (sidecar tool, MCP tools/call), "" if none
  std::string session_id;
  std::string call_id;
  std::string metadata_json;  // sidecar call metadata (a JSON object), "" if none
  bool request_scanned = false;   // the pattern matcher scanned the request
  bool response_scanned = false;  // ... and (part of) the response
  std::vector<Detection> detections;
  // Names of the rules whose match_pattern matched, request and response kept apart because
  // response-side evaluation looks at what the response added.
  std::vector<std::string> request_pattern_rules;
  std::vector<std::string> response_pattern_rules;
  RuleOutcome rule_outcome = RuleOutcome::None;
  std::string rule;       // the rule that decided (empty: default allow)
  std::vector<SecurityDecision> security_decisions;  // in the order they were taken
  bool response_is_sse = false;  // the response is text/event-stream (a cut ends with an event)
  ai::Usage usage;        // token usage from the response, when the API reports it
  std::chrono::steady_clock::time_point started{};
  std::chrono::steady_clock::time_point finished{};
};

class ConnectionFilter {
 public:
  virtual ~ConnectionFilter() = default;
  // Runs once the connection's target is known (after CONNECT / the first request line), with
  // the bytes peeked so far (the TLS ClientHello for a CONNECT, possibly partial). NeedMoreData
  // asks to be called again with more peeked bytes, up to the chain's bound (then the chain
  // takes it as Continue). Block refuses the connection; Bypass makes it a blind tunnel.
  virtual Verdict onConnection(ConnectionInfo& conn, std::span<const uint8_t> peeked) = 0;
  // Runs when the connection closes, whatever happened to it.
  virtual void onConnectionClose(const ConnectionInfo& /*conn*/) {}
};

class StreamFilter {
 public:
  virtual ~StreamFilter() = default;
  // Each phase runs once per event in the exchange, in chain order (StreamFilterChain, chain.h).
  // NeedMoreData on a headers phase holds the headers until the whole body has been through this
  // filter (its body phase still runs as usual); on a body phase the chain buffers the chunk and
  // calls again with everything buffered so far plus the new bytes (up to
  // max_inspect_body_bytes), end_stream set on the last call. NeedMoreData when end_stream is
  // already true counts as Continue. A filter changes the exchange by editing the Headers& /
  // Buffer& it is handed; Block makes the chain answer (status 403 when 0) instead.
  virtual Verdict onRequestHeaders(StreamInfo&, Headers&, bool /*end_stream*/) { return {}; }
  virtual Verdict onRequestBody(StreamInfo&, Buffer& /*chunk*/, bool /*end_stream*/) { return {}; }
  virtual Verdict onResponseHeaders(StreamInfo&, Headers&, bool /*end_stream*/) { return {}; }
  virtual Verdict onResponseBody(StreamInfo&, Buffer& /*chunk*/, bool /*end_stream*/) { return {}; }
  // Always runs once at the end of the exchange, also after Block or Bypass.
  virtual void onComplete(const StreamInfo&) {}
};

// How long and how far the listener peeks at a new connection's first bytes for the connection
// filters (tls_inspector's timeout_ms and max_bytes). Zero: this filter needs no peek.
struct PeekLimits {
  size_t max_bytes = 0;
  uint32_t timeout_ms = 0;
};

// A filter's own counter, named "<filter>.<thing>" (DESIGN.md), for /proxy/v1/filters and
// /metrics.
struct FilterStat {
  std::string name;
  uint64_t value = 0;
  bool gauge = false;  // a level (rules loaded), not a count that only grows
  // Held by a service that outlives the stage (the reporter thread, its http sinks): already
  // continuous across chain rebuilds, so a rebuilt chain does not carry it over again.
  bool process_wide = false;
};

// One per filters.d file; immutable after load, shared by all workers.
class FilterFactory {
 public:
  virtual ~FilterFactory() = default;
  virtual std::unique_ptr<ConnectionFilter> createConnectionFilter() { return nullptr; }
  virtual std::unique_ptr<StreamFilter> createStreamFilter() { return nullptr; }
  // What this filter's connection phase needs peeked before it can decide; read by the listener
  // (through FilterChain::peekLimits) when a connection's target is known.
  virtual PeekLimits peekLimits() const { return {}; }
  // The filter's own counters beyond the chain's per-stage ones; read by the admin thread while
  // workers run, so implementations read relaxed atomics.
  virtual std::vector<FilterStat> stats() const { return {}; }
  // A rebuilt chain (reload, admin update) calls this on each of its stages with the stage it
  // replaces — the same filter at the same rank among that filter's stages — before the chain
  // serves any traffic, while the previous chain may still be serving. A stage with live state
  // worth keeping (the rate limiter's buckets) takes it over when its config allows.
  virtual void inheritState(FilterFactory& /*previous*/) {}
};

}  // namespace aiw
