// ForwardSession on a sidecar listener (SPEC §4): origin-form requests from an agent — tool
// calls, MCP, LLM routes, and the admin API when `admin_routes: true` mounts it. Tool calls and
// routes reuse the exchange machinery of the forward proxy (filters, pool, upstream TLS,
// streaming); what is sidecar-only lives here.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <chrono>
#include <random>

#include "admin/admin_routes.h"
#include "ai/provider.h"
#include "core/log.h"
#include "core/utf8.h"
#include "http/http1_writer.h"
#include "listeners/forward_session_impl.h"
#include "sessions/session_store.h"

namespace aiw {

namespace {

int64_t unixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Session and call ids the sidecar makes up when the agent gives none: unique enough to key a
// timeline, not secrets.
std::string newId(std::string_view prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(prefix);
  for (uint64_t bits = rng(), i = 0; i < 16; ++i, bits >>= 4) out += kHex[bits & 0xf];
  return out;
}

void appendJsonStringOrNull(std::string& out, std::string_view s) {
  if (s.empty()) {
    out += "null";
    return;
  }
  out += '"';
  appendJsonEscaped(out, s);
  out += '"';
}

// A tool's answer as the "result" of the sidecar's reply: its JSON as it is when it is JSON,
// else its text as a JSON string; nothing is null.
void appendToolResult(std::string& out, std::string_view body) {
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    out += "null";
    return;
  }
  rapidjson::BaseReaderHandler<> ignore;
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(body.data(), body.size());
  // Iterative: a deeply nested answer cannot recurse the parser. Valid UTF-8 only, or the
  // reply itself would not be JSON.
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  if (!reader.Parse<kFlags>(stream, ignore).IsError()) {
    out += body.substr(first, body.find_last_not_of(" \t\r\n") + 1 - first);
    return;
  }
  out += '"';
  appendJsonEscaped(out, toValidUtf8(body));  // JSON text is UTF-8, whatever the tool sent
  out += '"';
}

bool isSuccess(uint16_t status) { return status >= 200 && status < 300; }

}  // namespace

// ---- routing a request -----------------------------------------------------------------------

bool ForwardSession::sidecarAuthorized(const RequestHead& head) const {
  const std::string* token = head.headers.find("x-proxy-token");
  const std::string& expected = worker_.runtime().admin_token;
  return token != nullptr && !expected.empty() && constantTimeEquals(*token, expected);
}

void ForwardSession::beginSidecarExchange(RequestHead& head) {
  if (head.target.empty() || head.target[0] != '/') {
    sendErrorAndClose(400, "not_origin_form",
                      "this is a sidecar: call /proxy/v1/tools/{tool}, an MCP path or a route; "
                      "it is not a forward proxy");
    return;
  }
  const std::string_view path = std::string_view(head.target).substr(0, head.target.find('?'));
  if (listener_->admin_routes && isAdminPath(path) && !path.starts_with("/proxy/v1/tools/")) {
    beginAdminRequest(head);  // the admin API checks the token itself (some paths are public)
    return;
  }
  if (!sidecarAuthorized(head)) {
    sendErrorAndClose(401, "unauthorized", "missing or wrong X-Proxy-Token");
    return;
  }
  auto target = routeSidecarRequest(*listener_, head.method, head.target);
  if (!target.ok()) {
    sendErrorAndClose(target.error().code == "method_not_allowed" ? 405 : 404, target.error().code,
                      target.error().message);
    return;
  }
  auto url = sidecarUpstreamUrl(*target);
  if (!url.ok() || (url->scheme != "http" && url->scheme != "https")) {
    // The configuration loader checks every upstream URL: a client's path with a byte no URL
    // may carry, or a bug, gets here.
    sendErrorAndClose(502, "bad_upstream_url", "the upstream URL '" + target->upstreamUrl() +
                                                   "' is not usable");
    return;
  }
  std::string session_header;
  if (const std::string* s = head.headers.find("x-session-id")) session_header = *s;
  std::string call_header;
  if (const std::string* c = head.headers.find("x-call-id")) call_header = *c;
  std::string mcp_session;
  if (const std::string* m = head.headers.find("mcp-session-id")) mcp_session = *m;

  startExchange(head, std::move(url.value()));
  Exchange& ex = *ex_;
  ex.sidecar.kind = target->kind;
  ex.sidecar.started_unix_ms = unixMillis();
  ex.info.inspect = true;  // the agent's calls are what the sidecar is there to guard
  ex.connect_host = ex.url.authority.host;
  ex.connect_port = ex.url.authority.port;
  ex.pool_key = ex.url.scheme + "://" + ex.url.authority.hostPort();
  if (ex.url.scheme == "https") ex.tls_name = ex.url.authority.host;
  ex.info.session_id = std::move(session_header);
  ex.info.call_id = std::move(call_header);
  switch (target->kind) {
    case SidecarKind::Tool:
      ex.info.tool = target->tool;
      ex.info.endpoint.kind = ai::ApiKind::SidecarToolCall;
      ex.sidecar.collecting_request = true;
      break;
    case SidecarKind::Mcp:
      if (!mcp_session.empty()) ex.info.session_id = std::move(mcp_session);
      if (ex.request.method == "POST") {
        ex.info.endpoint.provider = ai::Provider::Mcp;
        ex.info.endpoint.kind = ai::ApiKind::McpJsonRpc;
      }
      break;
    case SidecarKind::Route:
      ex.info.endpoint = ai::detectEndpoint(ex.info.host, ex.info.method, ex.info.path);
      break;
    case SidecarKind::Admin:
    case SidecarKind::None:
      break;
  }
  prepareExchange();
}

// ---- the admin API mounted on the sidecar ----------------------------------------------------

void ForwardSession::beginAdminRequest(RequestHead& head) {
  admin_request_ = std::make_unique<AdminRequest>();
  AdminRequest& rq = *admin_request_;
  rq.method = head.method;
  const size_t q = head.target.find('?');
  rq.path = head.target.substr(0, q);
  if (q != std::string::npos) rq.query = head.target.substr(q + 1);
  rq.headers = std::move(head.headers);
  if (!head.keep_alive || draining_) close_after_response_ = true;
}

void ForwardSession::submitAdminRequest() {
  const AdminSubmitFn& submit = worker_.adminSubmit();
  if (!submit) {
    admin_request_.reset();
    sendErrorAndClose(503, "admin_unavailable", "the admin API is not running");
    return;
  }
  admin_in_flight_ = true;
  // Answered on the main thread; the answer comes back to this worker, and to this session only
  // if it is still there.
  Worker* worker = &worker_;
  submit(std::move(*admin_request_),
         [worker, alive = alive_, self = this](AdminResponse response) {
           worker->post([alive, self, response = std::move(response)]() mutable {
             if (*alive) self->onAdminResponse(std::move(response));
           });
         });
}

void ForwardSession::onAdminResponse(AdminResponse response) {
  admin_in_flight_ = false;
  admin_request_.reset();
  if (closed_) return;
  Headers extra = std::move(response.extra_headers);
  extra.set("Content-Type", response.content_type);
  writeLocalResponse(response.status, response.body, extra, close_after_response_ || draining_);
  waiting_for_head_ = true;
  if (close_after_response_ || draining_) {
    close_after_response_ = true;
    setDownstreamReading(false);
    flushDownstream();
    return;
  }
  flushDownstream();
  armHeaderTimer(snapshot_->config.upstream.idle_timeout_ms);
  resumeRequest();
}

// ---- tool calls ------------------------------------------------------------------------------

void ForwardSession::collectToolRequest(const char* data, size_t len) {
  Exchange& ex = *ex_;
  ex.info.bytes_in += len;
  if (ex.sidecar.request_body.size() + len > snapshot_->config.limits.max_inspect_body_bytes) {
    sendErrorAndClose(413, "body_too_large",
                      "the tool call is larger than limits.max_inspect_body_bytes");
    return;
  }
  ex.sidecar.request_body.append(data, len);
}

void ForwardSession::finishToolRequest() {
  Exchange& ex = *ex_;
  ex.sidecar.collecting_request = false;
  Buffer envelope;
  envelope.moveFrom(ex.sidecar.request_body);
  auto facts = ai::parseRequest(ex.info.endpoint, envelope.view());
  if (!facts.ok()) {
    sendErrorAndClose(400, "bad_request", "tool call body: " + facts.error().message);
    return;
  }
  // Headers first, then the envelope; the sidecar names what the agent left unnamed.
  if (ex.info.session_id.empty()) ex.info.session_id = facts->envelope_session_id;
  if (ex.info.session_id.empty()) ex.info.session_id = newId("s-");
  if (ex.info.call_id.empty()) ex.info.call_id = facts->envelope_call_id;
  if (ex.info.call_id.empty()) ex.info.call_id = newId("c-");
  ex.info.metadata_json = facts->envelope_metadata_json;
  ex.info.request_facts = std::make_shared<const ai::RequestFacts>(std::move(facts).value());

  runToolFilters(envelope);
  if (closed_ || !ex_) return;

  // The tool gets the arguments as its body: as parsed, or read again from the envelope when a
  // rule rewrote it (redactions, param_overrides).
  Buffer args;
  if (ex.info.rule_outcome != RuleOutcome::Modify && ex.info.request_facts) {
    args.append(ex.info.request_facts->envelope_args_json);
  } else {
    auto final_facts = ai::parseRequest(ex.info.endpoint, envelope.view());
    if (!final_facts.ok()) {
      sendErrorAndClose(500, "filter_broke_request",
                        "a filter left the tool call unreadable: " + final_facts.error().message);
      return;
    }
    args.append(final_facts->envelope_args_json);
  }
  Headers& h = ex.request.headers;
  h.remove("content-encoding");  // the arguments are re-serialized, never still encoded
  h.set("Content-Type", "application/json");
  h.set("X-Session-Id", ex.info.session_id);
  h.set("X-Call-Id", ex.info.call_id);
  releaseHeldRequest(args, /*whole_body=*/true);
}

void ForwardSession::runToolFilters(Buffer& envelope) {
  Exchange& ex = *ex_;
  if (!ex.filters) return;
  Verdict v = ex.filters->requestHeaders(ex.info, ex.request.headers, /*end_stream=*/false);
  if (v.action == Action::Block) {
    sendBlocked(v);
    return;
  }
  v = ex.filters->requestBody(ex.info, envelope, /*end_stream=*/true);
  if (v.action == Action::Block) sendBlocked(v);
}

void ForwardSession::collectToolResponse(Buffer& chunk) {
  Exchange& ex = *ex_;
  if (ex.sidecar.response_body.size() + chunk.size() >
      snapshot_->config.limits.max_inspect_body_bytes) {
    ex.sidecar.upstream_failed = true;  // reported by writeToolResult
    chunk.clear();
    return;
  }
  ex.sidecar.response_body.moveFrom(chunk);
}

std::string ForwardSession::toolReplyFields() const {
  std::string out = "\"tool\":";
  appendJsonStringOrNull(out, ex_->info.tool);
  out += ",\"session_id\":";
  appendJsonStringOrNull(out, ex_->info.session_id);
  out += ",\"call_id\":";
  appendJsonStringOrNull(out, ex_->info.call_id);
  return out;
}

// The agent's reply (SPEC §4): {"session_id","call_id","status":"ok","result","rule"}, or a 502
// with status "error" when the tool failed.
void ForwardSession::writeToolResult() {
  Exchange& ex = *ex_;
  const uint16_t tool_status = ex.sidecar.upstream_status;
  const bool too_large = ex.sidecar.upstream_failed;
  const bool ok = isSuccess(tool_status) && !too_large;
  std::string body;
  uint16_t status = 200;
  if (ok) {
    body = "{" + toolReplyFields() + ",\"status\":\"ok\",\"result\":";
    appendToolResult(body, ex.sidecar.response_body.view());
    body += ",\"rule\":";
    appendJsonStringOrNull(body, ex.info.rule);
    body += "}";
  } else {
    status = 502;
    ex.sidecar.upstream_failed = true;
    ex.info.error = too_large ? "tool_response_too_large" : "tool_error";
    const std::string message =
        too_large ? "the tool's answer is larger than limits.max_inspect_body_bytes"
                  : "tool '" + ex.info.tool + "' answered HTTP " + std::to_string(tool_status);
    body = "{\"error\":\"" + ex.info.error + "\",\"message\":\"";
    appendJsonEscaped(body, message);
    body += "\",\"status\":\"error\"," + toolReplyFields() +
            ",\"tool_status\":" + std::to_string(tool_status) + ",\"result\":";
    if (too_large) {
      body += "null";
    } else {
      appendToolResult(body, ex.sidecar.response_body.view());
    }
    body += "}";
    MetricsShard::bump(worker_.metrics().errors);
  }
  ex.sidecar.response_body.clear();
  Headers extra;
  if (ex.info.rule_outcome == RuleOutcome::Modify) extra.add("x-aiwarden-decision", "modified");
  if (draining_) close_after_response_ = true;
  writeLocalResponse(status, body, extra, close_after_response_);
  ex.response_started = true;
  ex.downstream_framing = BodyFraming::ContentLength;
  ex.info.status = status;
  ex.info.bytes_out += body.size();
}

// ---- the session timeline --------------------------------------------------------------------

void ForwardSession::recordSidecarCall() {
  SessionStore* store = worker_.runtime().sessions.get();
  if (store == nullptr) return;
  Exchange& ex = *ex_;
  StreamInfo& info = ex.info;
  const ai::RequestFacts* facts = info.request_facts.get();
  if (ex.sidecar.kind == SidecarKind::Mcp) {
    // The timeline is of tool calls: MCP's handshake and listings are not calls.
    if (facts == nullptr || facts->jsonrpc_method != "tools/call") return;
    if (info.call_id.empty()) {
      std::string_view id = facts->jsonrpc_id;
      if (id.size() >= 2 && id.front() == '"') id = id.substr(1, id.size() - 2);
      info.call_id = std::string(id);
    }
  }
  if (info.session_id.empty()) return;  // a route called without X-Session-Id
  CallRecord call;
  call.time_ms = ex.sidecar.started_unix_ms;
  call.call_id = info.call_id;
  call.kind = std::string(sidecarKindName(ex.sidecar.kind));
  call.tool = info.tool;
  call.method = info.method;
  call.host = info.authority;
  call.path = info.path;
  call.http_status = info.status;
  call.latency_ms =
      std::chrono::duration<double, std::milli>(info.finished - info.started).count();
  call.rule = info.rule;
  if (info.verdict.action == Action::Block) {
    call.status = info.verdict.status == 429 ? CallStatus::RateLimited : CallStatus::Blocked;
    call.reason = info.verdict.reason;
  } else if (!info.error.empty() || ex.sidecar.upstream_failed ||
             (ex.sidecar.kind != SidecarKind::Tool && ex.sidecar.upstream_status >= 500)) {
    call.status = CallStatus::Error;
    call.reason = info.error;
  } else {
    call.status = CallStatus::Ok;
  }
  store->record(info.session_id, std::move(call));
}

}  // namespace aiw
