// Http2Session: the transport-independent core of the HTTP/2 codec (nghttp2), shared by the
// server side (Http2ServerSession, downstream) and the client side (Http2ClientSession,
// upstream). It never touches a socket: the owner feeds received bytes with receive() and moves
// the bytes to send with drainOutput(), so the same session runs over TLS or a plain socket.
//
// What lives here: the nghttp2 session and its options, per-stream state, the outbound body
// queues read by nghttp2's data provider, flow control returned only on consumed(), and the
// hardening that does not depend on the role: header field count and header list size caps,
// CONTINUATION flood cut-off, a budget for RST_STREAM frames received (rapid reset) and one for
// the resets this side sends, bounds on frames that do no work (empty DATA, PRIORITY,
// WINDOW_UPDATE), GOAWAY on abuse.
//
// Threading: one session belongs to one worker thread; nothing here locks.
// Re-entrancy: handler callbacks run inside receive() and drainOutput(). They may call the
// submit*/reset/consumed/goaway methods of the same session, but must not call receive() or
// drainOutput() (those return Error "misuse") and must not destroy the session.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/buffer.h"
#include "core/headers.h"
#include "core/result.h"

struct nghttp2_session;

namespace aiw {

// HTTP/2 error codes (RFC 9113 §7) the callers use by name.
enum Http2ErrorCode : uint32_t {
  kH2NoError = 0x0,
  kH2ProtocolError = 0x1,
  kH2InternalError = 0x2,
  kH2FlowControlError = 0x3,
  kH2StreamClosed = 0x5,
  kH2RefusedStream = 0x7,
  kH2Cancel = 0x8,
  kH2EnhanceYourCalm = 0xb,
};

struct Http2Options {
  // SETTINGS_MAX_CONCURRENT_STREAMS this side advertises (streams the peer may open).
  uint32_t max_concurrent_streams = 100;
  // SETTINGS_INITIAL_WINDOW_SIZE: how many body bytes of one stream the peer may send before
  // the application consumed() them. Bounds the per-stream inbound buffering.
  uint32_t stream_window = 65535;
  // The connection-level receive window: bounds the inbound bytes buffered over all streams.
  uint32_t connection_window = 1u << 20;
  // Header list size cap (RFC 9113 §6.5.2: name + value + 32 per field), advertised as
  // SETTINGS_MAX_HEADER_LIST_SIZE and enforced per header block here (nghttp2 does not). It is
  // what refuses an HPACK bomb: a few bytes on the wire that index one big table entry again
  // and again still count in full.
  uint32_t max_header_list_bytes = 64 * 1024;
  // Fields (pseudo-headers included) in one header block.
  uint32_t max_header_fields = 200;
  // CONTINUATION frames after one HEADERS frame; past it the connection ends (GOAWAY).
  uint32_t max_continuations = 8;
  // RST_STREAM frames received from the peer: a token bucket (burst, refilled per second).
  // Empty: GOAWAY(ENHANCE_YOUR_CALM) — the rapid-reset attack (CVE-2023-44487).
  uint32_t peer_reset_burst = 250;
  uint32_t peer_reset_per_second = 50;
  // Streams this side refuses or resets (RST_STREAM sent, 431 answers to oversized header
  // blocks): a peer that makes us reset stream after stream is abusive too.
  uint32_t own_reset_burst = 250;
  uint32_t own_reset_per_second = 50;
  // nghttp2's own bounds on queued SETTINGS/PING ACKs (flood) and SETTINGS entries per frame.
  size_t max_outbound_ack = 1000;
  size_t max_settings = 32;
  // Frames that cost work and move nothing, which nghttp2 accepts without limit (CVE-2019-9518,
  // CVE-2019-9513 class; the bounds Envoy keeps by default). Past any of them: GOAWAY
  // (ENHANCE_YOUR_CALM).
  // Zero-length DATA frames without END_STREAM in a row (a DATA frame with payload or a HEADERS
  // frame starts the count again).
  uint32_t max_empty_data_frames = 100;
  // PRIORITY frames: at most this many per stream the peer opened (plus one stream's worth).
  uint32_t max_priority_per_stream = 100;
  // WINDOW_UPDATE frames: at most window_update_allowance plus this many per DATA frame this
  // side sent (a peer only needs to reopen a window that our DATA used).
  uint32_t max_window_updates_per_data = 10;
  uint32_t window_update_allowance = 100;
  // Also set nghttp2's built-in rapid-reset and CONTINUATION limits (same numbers) when this
  // nghttp2 has them. The checks of this file run either way; tests turn this off to exercise
  // them alone.
  bool use_library_limits = true;
};

// Which of nghttp2's optional hardening knobs this build found (CMake detects the symbols: the
// distribution backports them without changing the version number).
struct Http2LibraryLimits {
  bool stream_reset_rate_limit = false;
  bool max_continuations = false;
};
Http2LibraryLimits http2LibraryLimits();

// Events common to both roles. Each runs inside receive() or drainOutput().
class Http2SessionHandler {
 public:
  virtual ~Http2SessionHandler() = default;
  // The last event of a stream the handler knows (request headers delivered on the server; any
  // stream submitted on the client). error_code is kH2NoError after a clean end, else the code
  // of the RST_STREAM (sent or received) or GOAWAY that ended it (kH2RefusedStream: the peer
  // never processed it, a retry is safe). The stream id is invalid afterwards.
  virtual void onStreamClosed(int32_t stream_id, uint32_t error_code) {
    (void)stream_id;
    (void)error_code;
  }
  // The peer sent GOAWAY: no new streams; streams above last_stream_id are closed with
  // kH2RefusedStream right after this.
  virtual void onGoaway(uint32_t error_code, int32_t last_stream_id) {
    (void)error_code;
    (void)last_stream_id;
  }
  // Body bytes of this stream left the outbound queue for the wire; `queued` bytes remain. For
  // back-pressure: resume reading the other side once queued is low again.
  virtual void onDataSent(int32_t stream_id, size_t queued) {
    (void)stream_id;
    (void)queued;
  }
};

struct Nghttp2SessionDeleter {
  void operator()(nghttp2_session* s) const noexcept;
};
using Nghttp2SessionPtr = std::unique_ptr<nghttp2_session, Nghttp2SessionDeleter>;

// Per-stream state. Owned by the session's map; erased when nghttp2 closes the stream.
struct Http2Stream {
  int32_t id = 0;
  // The header block being received (pseudo-headers apart, names lower-case as HTTP/2 has them).
  Headers pseudo;
  Headers fields;
  size_t block_fields = 0;
  size_t block_bytes = 0;
  bool block_rejected = false;  // over a cap: the rest of the block is ignored
  bool announced = false;       // the handler knows this stream (gets onStreamClosed)
  bool final_response = false;  // client: a non-1xx :status arrived (a later block is trailers)
  uint64_t unconsumed = 0;      // body bytes delivered, not yet consumed()
  uint64_t received = 0;        // body bytes delivered in all
  // Outbound body: queued bytes, read by nghttp2's data provider as the send window allows.
  Buffer out;
  bool has_provider = false;  // headers were submitted without END_STREAM
  bool out_end = false;       // no more body will be queued (trailers may still follow)
  bool deferred = false;      // the provider said DEFERRED: resume on new data
  bool trailers_pending = false;
  Headers out_trailers;
};

struct Http2SessionAccess;  // the nghttp2 callbacks (http2_session_callbacks.cc)

class Http2Session {
 public:
  virtual ~Http2Session();
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  // Feeds bytes received from the peer; all of them are consumed or an error is returned.
  // After an error (code "h2_protocol": the peer broke HTTP/2; "h2_abuse": a flood or budget
  // was exceeded) a GOAWAY is queued when possible: drainOutput() once more, then close.
  Result<void> receive(std::string_view bytes);
  // Appends the frames ready to send to `out`, stopping once about `max` bytes were appended
  // (a frame is never split, so up to one frame more). Error only on an nghttp2 failure.
  Result<void> drainOutput(Buffer& out, size_t max = SIZE_MAX);
  // nghttp2 has frames to send (call drainOutput), or wants more input.
  bool wantsWrite() const;
  bool wantsRead() const;
  // Nothing more will be read or written (after GOAWAY both ways, or termination): close.
  bool finished() const { return !wantsRead() && !wantsWrite(); }

  // Queues body bytes for a stream whose headers were sent without end_stream. With
  // end_stream the body (and the stream, unless trailers follow) ends once they are sent.
  // Errors: "no_stream" (unknown or closed), "stream_ended" (already ended).
  Result<void> submitData(int32_t stream_id, std::string_view bytes, bool end_stream);
  Result<void> submitData(int32_t stream_id, Buffer& bytes, bool end_stream);  // moves bytes
  // Ends the stream with a trailer section, after the queued body. Same errors.
  Result<void> submitTrailers(int32_t stream_id, const Headers& trailers);
  // Sends RST_STREAM (cancels the stream both ways). Counts against own_reset budget.
  Result<void> resetStream(int32_t stream_id, uint32_t error_code = kH2Cancel);
  // The application has forwarded (or dropped) n body bytes of this stream delivered earlier:
  // only now is the peer allowed to send that many more (WINDOW_UPDATE). Unknown streams are
  // fine (no-op); see Http2Stream::unconsumed.
  void consumed(int32_t stream_id, size_t n);
  // GOAWAY with the last stream this side processed: streams up to it finish, no new ones.
  Result<void> goaway(uint32_t error_code = kH2NoError, std::string_view reason = {});
  // GOAWAY and close as soon as it is sent (abuse, shutdown without grace).
  void terminate(uint32_t error_code);

  // Outbound body bytes queued and not yet handed to nghttp2, for one stream / all streams.
  size_t outboundQueued(int32_t stream_id) const;
  size_t outboundQueuedTotal() const { return outbound_total_; }
  // Inbound body bytes delivered and not yet consumed(), for one stream (0 if unknown).
  uint64_t unconsumed(int32_t stream_id) const;
  // Streams this session currently tracks (open, or reserved before headers went out).
  size_t streamCount() const { return streams_.size(); }
  bool hasStream(int32_t stream_id) const { return streams_.count(stream_id) != 0; }
  // The reason the session ended itself (empty when it did not): "rapid_reset",
  // "reset_budget", "continuation_flood", "empty_frames", "priority_flood",
  // "window_update_flood", "flood" (nghttp2's ACK queue bound), a stream id going backwards
  // ("HEADERS on stream N, not above ..."), or nghttp2's error text.
  const std::string& abuseReason() const { return abuse_reason_; }

 protected:
  enum class Role : uint8_t { Server, Client };
  Http2Session(Role role, Http2SessionHandler& handler, const Http2Options& options);
  // Creates the nghttp2 session and queues our SETTINGS. Called by the subclass constructors;
  // on failure the session is unusable and every call returns an error.
  Result<void> init();

  // Role hooks, all inside receive(). `category` is nghttp2's nghttp2_headers_category.
  // A header block begins: return the stream to collect into (created if needed), or nullptr to
  // ignore the block.
  virtual Http2Stream* beginHeaderBlock(int32_t stream_id, int category) = 0;
  // A whole block arrived (not rejected). end_stream: the peer ends its side with it.
  virtual void headerBlockDone(Http2Stream& s, int category, bool end_stream) = 0;
  // A block went over a cap; its fields were dropped. The role answers (431 or RST_STREAM).
  virtual void headerBlockRejected(Http2Stream& s, int category) = 0;
  // Body bytes (end_stream false) or the end of the body (empty data, end_stream true).
  virtual void bodyData(Http2Stream& s, std::string_view data, bool end_stream) = 0;
  // The peer reset the stream (RST_STREAM received); onStreamClosed follows.
  virtual void peerReset(Http2Stream& s, uint32_t error_code) {
    (void)s;
    (void)error_code;
  }

  Http2Stream* findStream(int32_t stream_id);
  const Http2Stream* findStream(int32_t stream_id) const;
  Http2Stream& addStream(int32_t stream_id);
  enum class HeadersKind : uint8_t {
    Request,        // client: opens a new stream (stream_id ignored), returns its id
    Response,       // server: the final response head on an existing stream
    Informational,  // server: a 1xx head; the final response follows
  };
  // Submits a header block. `pseudo` goes first on the wire, as HTTP/2 requires; `fields` are
  // lower-cased and connection-specific ones dropped. Without end_stream the stream gets a data
  // provider reading its outbound queue (submitData / submitTrailers). Error "invalid_field" on
  // a name or value that is not valid HTTP (a CR/LF would split an HTTP/1 message later).
  Result<int32_t> submitHeaders(HeadersKind kind, int32_t stream_id, const Headers& pseudo,
                                const Headers& fields, bool end_stream);
  // The own-reset budget: false (and the session terminated) when a refusal is over budget.
  bool chargeOwnReset();

  nghttp2_session* session() const { return session_.get(); }
  const Http2Options& options() const { return options_; }
  Http2SessionHandler& handler_;

 private:
  friend struct Http2SessionAccess;

  // A token bucket for the reset budgets.
  struct Budget {
    double tokens = 0;
    double burst = 0;
    double per_second = 0;
    std::chrono::steady_clock::time_point last{};
    bool take();
  };

  void streamClosed(int32_t stream_id, uint32_t error_code);
  Http2Stream* blockStream(int32_t stream_id) {
    if (block_stream_ != nullptr && block_stream_->id == stream_id) return block_stream_;
    return findStream(stream_id);
  }
  void flagAbuse(std::string reason);
  // Server: a HEADERS frame on a client stream id at or below the highest one already used
  // (RFC 9113 §5.1.1), that opens no stream: nghttp2 ignores those silently (it cannot tell them
  // from trailers crossing a reset), so the session tells them apart. True: a protocol error,
  // flagged (receive() then terminates the session with PROTOCOL_ERROR).
  bool staleStreamHeaders(int32_t stream_id);
  void flagProtocolError(std::string reason);

  Role role_;
  Http2Options options_;
  Nghttp2SessionPtr session_;
  std::unordered_map<int32_t, std::unique_ptr<Http2Stream>> streams_;
  // The stream whose header block is being received (null: none, or the block is ignored). A
  // block's HEADERS and CONTINUATION frames come with nothing in between (RFC 9113 §6.10), so
  // its fields, one callback each, find their stream here instead of in the map.
  Http2Stream* block_stream_ = nullptr;
  size_t outbound_total_ = 0;
  Budget peer_resets_;
  Budget own_resets_;
  // CONTINUATION frames seen since the last HEADERS frame (the library may lack its own limit).
  uint32_t continuations_ = 0;
  // For the empty-frame, PRIORITY and WINDOW_UPDATE bounds (see Http2Options).
  uint32_t empty_data_frames_ = 0;
  uint64_t headers_received_ = 0;
  uint64_t priority_received_ = 0;
  uint64_t window_updates_received_ = 0;
  uint64_t data_frames_sent_ = 0;
  // Set inside a callback when the peer is abusive: the callback fails, receive() stops at once
  // and terminates the session with ENHANCE_YOUR_CALM.
  bool abusive_ = false;
  bool protocol_error_ = false;  // as abusive_, for a violation: GOAWAY PROTOCOL_ERROR
  std::string abuse_reason_;
  // Server: the highest client stream id a HEADERS frame used, and the last ids of streams this
  // side reset (a client may still send trailers on them before it sees the RST_STREAM: those
  // must be ignored, RFC 9113 §5.1). Bounded: a ring of kResetIdsKept, made at the first reset.
  int32_t highest_peer_stream_ = 0;
  static constexpr size_t kResetIdsKept = 256;
  std::vector<int32_t> reset_ids_;
  size_t reset_ids_next_ = 0;
  bool goaway_sent_ = false;  // nghttp2 then ignores new streams itself (and any trailers)
  bool in_call_ = false;  // inside receive()/drainOutput(): guards re-entry
};

}  // namespace aiw
