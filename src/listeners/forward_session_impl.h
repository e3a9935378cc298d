// Private to the forward listener: the ForwardSession class, implemented in
// forward_session.cc (downstream side, exchanges, CONNECT) and forward_upstream.cc (the
// upstream connection of an exchange).
#pragma once

#include <memory>
#include <string>

#include "core/buffer.h"
#include "core/c_handles.h"
#include "core/config.h"
#include "core/snapshot.h"
#include "filters/chain.h"
#include "filters/filter.h"
#include "http/http1_parser.h"
#include "http/message_utils.h"
#include "listeners/h2_downstream.h"
#include "listeners/h2_upstream.h"
#include "listeners/sidecar_routes.h"
#include "listeners/stream_port.h"
#include "listeners/worker.h"
#include "upstream/connector.h"
#include "upstream/pool.h"
#include "upstream/tunnel.h"

namespace aiw {

// "HTTP/1.1 200 Connection Established", the answer that opens a tunnel or an interception.
inline constexpr char kEstablished[] = "HTTP/1.1 200 Connection Established\r\n\r\n";

class ForwardSession;
struct AdminRequest;   // admin/admin_routes.h
struct AdminResponse;

// Removes the HTTP/3 alternatives from Alt-Svc (SPEC §4: intercepted clients stay on TCP).
void stripHttp3AltSvc(Headers& headers);

// libevent callbacks of the downstream bufferevent (socket or TLS), routed to the session.
void onDownReadTrampoline(bufferevent* bev, void* arg) noexcept;
void onDownWriteTrampoline(bufferevent* bev, void* arg) noexcept;
void onDownEventTrampoline(bufferevent* bev, short what, void* arg) noexcept;

// Response-side parser events, routed to the session (which is already the request parser's
// callbacks object).
class UpstreamParserEvents : public Http1ParserCallbacks {
 public:
  explicit UpstreamParserEvents(ForwardSession& s) : session_(s) {}
  HeadAction onResponseHead(ResponseHead& head) override;
  FlowAction onBody(const char* data, size_t len) override;
  FlowAction onMessageComplete(Headers& trailers) override;

 private:
  ForwardSession& session_;  // owns this object
};

// What a sidecar listener adds to an exchange (forward_sidecar.cc).
struct SidecarCall {
  SidecarKind kind = SidecarKind::None;
  // Tool: the envelope is read whole before the filters run (its session id and arguments are
  // facts the rules and the rate limiter need at once), and the tool's answer is read whole
  // before it goes back wrapped in the sidecar's reply.
  bool collecting_request = false;
  Buffer request_body;
  bool collecting_response = false;
  Buffer response_body;
  uint16_t upstream_status = 0;
  bool upstream_failed = false;  // no usable answer from the upstream (status error)
  int64_t started_unix_ms = 0;
};

// One HTTP exchange on the session (HTTP/1.1: one at a time; pipelined requests wait).
struct Exchange {
  StreamInfo info;
  RequestHead request;
  AbsoluteUrl url;
  std::string pool_key;
  std::string connect_host;  // where the upstream connection goes (the CONNECT target)
  uint16_t connect_port = 0;
  std::string tls_name;      // verify the origin's certificate for this name; empty: plain
  std::unique_ptr<StreamFilterChain> filters;  // null when the chain has no stream filters
  bool request_held = false;       // a filter holds the request head until the body is whole
  BodyFraming upstream_framing = BodyFraming::None;  // how the request body goes upstream

  std::unique_ptr<ConnectAttempt> connecting;
  std::unique_ptr<PooledConnection> upstream;
  // Instead of `upstream`, for an origin that speaks h2: the request's stream on a shared
  // connection (h2_upstream.h), which delivers the response to `events` as the parser would.
  std::unique_ptr<H2Stream> h2;
  // This exchange's TLS connect is the one that tells whether the origin speaks h2
  // (h2_upstream.h); handed to the connection once made.
  std::shared_ptr<void> probe;
  bool awaiting_alpn = false;  // `upstream` is TLS mid-handshake: nothing written until ALPN
  bool reused_connection = false;
  bool upstream_head_sent = false;
  Buffer pending_body;  // request body bytes waiting for the upstream connection
  bool request_complete = false;   // the whole request has been read from downstream
  bool request_sent = false;       // ... and written upstream (incl. the last chunk)
  bool final_head_seen = false;    // the origin sent a final (non-1xx) response head
  // upstream.request_timeout_ms is running on `upstream` (see updateUpstreamTimeout).
  bool upstream_timeout_armed = false;
  int retries_left = 1;            // a stale pooled connection is retried once (no body yet)
  // A request held whole (a filter or the sidecar read it all), up to kReplayLimit bytes, can be
  // sent again after a stale pooled connection failed it. Its body is copied only when it goes
  // to a reused connection (the only case a retry is for), and kept until the exchange ends.
  static constexpr size_t kReplayLimit = 1 << 20;
  bool replayable = false;
  std::string replay_body;

  UpstreamParserEvents events;
  std::unique_ptr<Http1Parser> response_parser;
  bool response_started = false;   // a final response head went downstream
  bool response_complete = false;
  bool response_held = false;
  BodyFraming downstream_framing = BodyFraming::None;
  bool head_request = false;
  bool failed = false;
  bool informational = false;      // the last response head was 1xx: the final one follows
  bool response_aborted = false;   // a filter blocked the response after its head went out
  Verdict response_abort;          // ... with this verdict
  Verdict response_block;          // a filter blocked the response before anything went out
  ResponseHead held_response;      // the response head a filter holds until the body is whole
  SidecarCall sidecar;

  explicit Exchange(ForwardSession& s) : events(s) {}

  // An exchange is made per request and is larger than glibc's per-thread cache serves (1 KiB):
  // each went through the shared heap, and a request that size has malloc consolidate its fast
  // bins first. Each thread keeps a few freed ones for its next exchanges (forward_session.cc).
  static void* operator new(std::size_t size);
  static void operator delete(void* block, std::size_t size) noexcept;
};

class ForwardSession final : public WorkerConnection,
                             public Http1ParserCallbacks,
                             public H2StreamListener {
 public:
  ForwardSession(Worker& worker, const ListenerConfig& listener, UniqueFd fd, std::string peer);
  // The exchange of one HTTP/2 stream (h2_downstream.cc): its request arrives parsed
  // (startOnStream, streamRequestBody) and its answer leaves through `port` (stream_port.h),
  // with what the connection knew (`context`); `protocol` is what the exchange reports it came
  // as ("HTTP/2").
  ForwardSession(Worker& worker, const ListenerConfig& listener, StreamPort& port,
                 const DownstreamContext& context, std::string protocol);
  ~ForwardSession() override;

  void start();
  // The stream's request head; `whole`: no body follows.
  void startOnStream(RequestHead head, bool whole);
  // Body bytes of the stream's request (valid during the call), then `end` once.
  void streamRequestBody(std::string_view data, bool end);
  // The stream has room for more of the answer again (after StreamPort::answerBackedUp()).
  void onStreamDrained();
  // The HTTP/2 client reset the stream, or its connection went: everything ends now, the
  // upstream request with it, and the port is not touched again.
  void abortStream() {
    port_ = nullptr;
    closeSession();
  }
  // False once this session is destroyed (shared with whoever holds a pointer to it).
  std::shared_ptr<bool> aliveToken() const { return alive_; }
  void drain() override;

  // libevent callbacks (forward_session.cc / forward_upstream.cc route them here).
  void onDownstreamRead();
  void onDownstreamWrite();
  void onDownstreamEvent(short what);
  void onHeaderTimeout();
  void onBodyTimeout();
  void onUpstreamRead();
  void onUpstreamWrite();
  void onUpstreamEvent(short what);
  // The exchange's HTTP/2 stream to the origin (h2_upstream.h).
  void onH2StreamReadable() override { parseUpstream(); }
  void onH2StreamWritable() override { onUpstreamWrite(); }

  // Request parser events.
  HeadAction onRequestHead(RequestHead& head) override;
  FlowAction onBody(const char* data, size_t len) override;
  FlowAction onMessageComplete(Headers& trailers) override;

  // Response parser events (via UpstreamParserEvents).
  HeadAction onResponseHead(ResponseHead& head) override;
  FlowAction onResponseBody(const char* data, size_t len);
  FlowAction onResponseComplete();

 private:
  friend class UpstreamParserEvents;

  // Downstream side.
  void parseDownstream();
  // An HTTP/2 stream's request body, delivered as the parser would: while not paused, then the
  // end once all of it was taken.
  void pumpStream();
  void deliverStreamBody(const char* data, size_t len);
  // The request source (the HTTP/1 parser, or the stream) in the terms the exchange needs.
  bool requestPaused() const;
  void resumeRequest();
  bool requestBodyPending() const;  // a body is still being read
  bool requestInProgress() const;   // a request has begun and not all of it was read
  void cancelHeaderTimer();
  // A complete answer of the proxy's own (errors, blocks, admin, tool results): a JSON body with
  // `extra` fields; `close`: the connection ends after it (HTTP/1).
  void writeLocalResponse(uint16_t status, std::string_view body, const Headers& extra,
                          bool close);
  void sendErrorAndClose(uint16_t status, std::string_view code, std::string_view message);
  void sendBlocked(const Verdict& v);
  void cutResponse(const Verdict& v);
  void startReadingDownstream();  // start() and startOnStream() alike
  void armHeaderTimer(uint32_t ms);
  void updateBodyTimer();  // limits.body_timeout_ms: (re)armed while a request body is read
  void setSendTimeout(bool on);  // limits.send_timeout_ms on the client's socket (plain or TLS)
  void flushDownstream();
  void setDownstreamReading(bool on);
  void finishExchange();
  void closeSession();
  bool downstreamBackedUp() const;
  void writeDownstreamBody(Buffer& chunk);

  // Exchange setup.
  void beginExchange(RequestHead& head);
  void startExchange(RequestHead& head, AbsoluteUrl url);
  void prepareExchange();
  void beginConnect(RequestHead& head);
  void forwardRequestBody(Buffer& chunk);
  void requestBodyDone();
  void releaseHeldRequest(Buffer& body, bool whole_body);

  // Upstream side (forward_upstream.cc).
  void acquireUpstream();
  void onUpstreamConnected(Result<UniqueFd> fd);
  void attachUpstream(std::unique_ptr<PooledConnection> conn, bool reused);
  void attachH2Stream(std::unique_ptr<H2Stream> stream, bool reused);
  void startUpstreamLeg(bool reused);
  void sendUpstreamHead();
  void writeUpstreamBody(Buffer& chunk);
  void writeUpstreamEnd();
  // upstream.request_timeout_ms bounds the origin's silence only: armed once the request is all
  // written, the origin's final head arrived, or the origin is not taking the body (the client
  // is then paused, and body_timeout_ms with it); off while the client is still uploading.
  void updateUpstreamTimeout();
  void parseUpstream();
  void parseUpstreamCorked();  // parseUpstream()'s body, run with a TLS downstream corked
  void afterUpstreamParse();
  void upstreamFailed(const Error& error);
  void writeResponseHeadDownstream(ResponseHead& head);
  void noteResponseStarted(const ResponseHead& head);  // status, SSE: the head went out
  void releaseUpstream(bool reusable);
  bool upstreamBackedUp() const;

  // CONNECT (forward_connect.cc).
  void onTunnelUpstream(Result<UniqueFd> fd);
  void runPeek(bool no_more_data);
  bool applyConnectVerdict(const Verdict& v);
  void startTunnel(UniqueFd upstream, bool established_sent);
  // HTTP/2 clients: the connection is handed to an H2Downstream (h2_downstream.h).
  // True when the downstream bytes must not be parsed now: handed over, or still undecided.
  bool takeHttp2();
  void handOverToHttp2();
  // Sidecar listener (forward_sidecar.cc).
  void beginSidecarExchange(RequestHead& head);
  bool sidecarAuthorized(const RequestHead& head) const;
  void beginAdminRequest(RequestHead& head);
  void submitAdminRequest();
  void onAdminResponse(AdminResponse response);
  void collectToolRequest(const char* data, size_t len);
  void finishToolRequest();
  void runToolFilters(Buffer& envelope);
  void collectToolResponse(Buffer& chunk);
  void writeToolResult();
  std::string toolReplyFields() const;  // "session_id":..,"call_id":.. for the replies
  void sendToolError(uint16_t status, std::string_view code, std::string_view message);
  void recordSidecarCall();
  // Interception (forward_intercept.cc).
  void startInterception(bool established_sent);
  bool interceptedTarget(RequestHead& head, AbsoluteUrl& url);
  Result<BufferEventPtr> wrapUpstreamTls(BufferEventPtr socket_bev);
  std::string interceptPoolKey() const;

  Worker& worker_;
  std::shared_ptr<const Snapshot> snapshot_;  // the one this connection started with
  // This connection's listener, as the snapshot configures it (its tools, MCP servers and
  // routes follow reloads); the bound configuration when the snapshot no longer names it.
  const ListenerConfig* listener_;
  ConnectionInfo conn_;
  UniqueFd fd_;
  BufferEventPtr down_;  // declared after fd_: destroyed first
  // The client's HTTP/1 requests, parsed; made on first use: the session of an HTTP/2 stream
  // takes its request parsed by the codec and never needs one (a thousand streams in flight
  // held half a megabyte of unused parsers).
  Http1Parser& parser();
  bool parsingMessage() const { return parser_ != nullptr && parser_->messageInProgress(); }
  std::unique_ptr<Http1Parser> parser_;
  EventPtr header_timer_;
  EventPtr body_timer_;  // made the first time a request body does not arrive in one read
  bool body_timer_armed_ = false;
  bool send_timeout_set_ = false;
  // The next request head's deadline (header_timeout_ms) is running: set at the start and at
  // the first byte after an idle keep-alive wait, cleared when a head arrives. Bytes that start
  // no message (empty lines) must not restart it.
  bool head_deadline_armed_ = true;
  std::unique_ptr<Exchange> ex_;
  std::unique_ptr<ConnectAttempt> tunnel_connect_;
  Authority connect_target_;
  std::unique_ptr<Tunnel> tunnel_;
  std::unique_ptr<ConnectionFilterChain> conn_filters_;  // CONNECT only; null: no filters
  UniqueFd tunnel_upstream_;  // connected, waiting for the peek's verdict (200 already sent)
  size_t peek_max_bytes_ = 0;
  uint32_t peek_timeout_ms_ = 0;
  bool peeking_ = false;          // reading the ClientHello for the connection filters
  bool connect_decided_ = false;  // the filters decided before the 200
  bool connect_bypass_ = false;   // a filter said Bypass (a tunnel even for an inspected host)
  // Intercepted CONNECT: the client's TLS is terminated here and its requests are exchanges.
  bool intercepting_ = false;
  std::string intercept_name_;  // the host the client believes it talks to (SNI, else CONNECT)
  // Sidecar: an admin API request read from this connection, answered on the main thread.
  std::unique_ptr<AdminRequest> admin_request_;
  bool admin_in_flight_ = false;
  // Shared with the callbacks posted back from the main thread (and an HTTP/2 stream's bridge):
  // false once this session is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool on_stream_ = false;        // an HTTP/2 stream's exchange (no down_, no parser input)
  StreamPort* port_ = nullptr;    // on_stream_: where the answer goes; null once either ended
  // on_stream_: the request as the stream delivers it (the parser's role for a socket).
  struct StreamRequest {
    Buffer body;             // bytes that arrived while the exchange paused the request
    bool ended = false;      // the stream's request is whole (the end may not be delivered yet)
    bool paused = false;     // the exchange returned Pause: nothing more until resumeRequest()
    bool complete = false;   // onMessageComplete was delivered
    bool stopped = false;    // the head was refused: the rest is dropped
  };
  StreamRequest stream_in_;
  bool protocol_checked_ = false; // sidecar: h2c prior knowledge ruled in or out
  std::string protocol_;          // reported protocol when not the HTTP/1 version ("HTTP/2")
  Buffer scratch_;  // body bytes in transit (one evbuffer per session, not one per chunk)
  bool waiting_for_head_ = true;  // between exchanges: the header timer is running
  bool close_after_response_ = false;
  bool draining_ = false;
  bool closed_ = false;
  bool in_parse_ = false;  // inside parseDownstream (guards re-entry)
  bool downstream_reading_ = false;  // EV_READ enabled on down_
  bool in_upstream_parse_ = false;  // inside the response parser: the exchange must not go yet
};

}  // namespace aiw
