// Http2ServerSession: the downstream side of the HTTP/2 codec. Clients open streams (requests);
// the proxy answers on them. Used for ALPN "h2" on intercepted TLS and for h2c with prior
// knowledge on the sidecar listener: the session expects the client connection preface first.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/headers.h"
#include "core/result.h"
#include "http/http2_session.h"

namespace aiw {

// A request as HTTP/2 carries it: the pseudo-headers apart, regular fields in `headers` with
// lower-case names, in received order, cookie crumbs as separate fields (see http2_translate.h
// to turn it into an HTTP/1 head). nghttp2 has already checked RFC 9113 §8: required
// pseudo-headers present and single, no connection-specific field, no upper-case name, te only
// "trailers", content-length matching the DATA received.
struct Http2RequestHead {
  std::string method;
  std::string scheme;     // empty for CONNECT
  std::string authority;  // may be empty (then a Host field may name the target)
  std::string path;       // empty for CONNECT
  std::string protocol;   // :protocol of an extended CONNECT (RFC 8441), normally empty
  Headers headers;
};

// The server's events; each runs inside receive() or drainOutput() of the session (see
// http2_session.h for what a callback may do).
class Http2ServerHandler : public Http2SessionHandler {
 public:
  // A request head arrived on a new stream. end_stream: the request has no body (no
  // onRequestData follows). `head` may be moved from.
  virtual void onRequestHeaders(int32_t stream_id, Http2RequestHead& head, bool end_stream) = 0;
  // Request body bytes (end_stream false; never empty), then once the end of the body (empty
  // data, end_stream true) unless trailers end it. `data` is valid during the call only. Call
  // consumed(stream_id, n) once the bytes were forwarded: until then they count against the
  // client's send window, which is what slows a client down when the upstream reads slowly.
  virtual void onRequestData(int32_t stream_id, std::string_view data, bool end_stream) = 0;
  // The request ended with a trailer section (the end of the body; no onRequestData(end)).
  virtual void onRequestTrailers(int32_t stream_id, Headers& trailers) {
    (void)stream_id;
    (void)trailers;
  }
  // The client reset the stream (it cancelled): cancel the upstream request now.
  // onStreamClosed follows.
  virtual void onStreamReset(int32_t stream_id, uint32_t error_code) {
    (void)stream_id;
    (void)error_code;
  }
};

class Http2ServerSession : public Http2Session {
 public:
  // `handler` must outlive the session. The server SETTINGS are queued: drainOutput() soon.
  static Result<std::unique_ptr<Http2ServerSession>> create(Http2ServerHandler& handler,
                                                            const Http2Options& options = {});

  // The final response head. Without end_stream the body follows with submitData() and ends
  // with submitData(..., true) or submitTrailers(). Errors: "no_stream" (closed or unknown;
  // e.g. the client reset it meanwhile), "invalid_field", "h2_submit".
  Result<void> submitResponse(int32_t stream_id, uint16_t status, const Headers& headers,
                              bool end_stream);
  // A 1xx head (100 Continue, 103 Early Hints) before the final response.
  Result<void> submitInformational(int32_t stream_id, uint16_t status, const Headers& headers);

 private:
  Http2ServerSession(Http2ServerHandler& handler, const Http2Options& options)
      : Http2Session(Role::Server, handler, options), server_handler_(handler) {}

  Http2Stream* beginHeaderBlock(int32_t stream_id, int category) override;
  void headerBlockDone(Http2Stream& s, int category, bool end_stream) override;
  void headerBlockRejected(Http2Stream& s, int category) override;
  void bodyData(Http2Stream& s, std::string_view data, bool end_stream) override;
  void peerReset(Http2Stream& s, uint32_t error_code) override;

  Http2ServerHandler& server_handler_;
};

}  // namespace aiw
