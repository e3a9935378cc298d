// Http2ClientSession: the upstream side of the HTTP/2 codec. The proxy opens one stream per
// request on a pooled, multiplexed connection (ALPN "h2"), within the server's
// SETTINGS_MAX_CONCURRENT_STREAMS. The client connection preface and SETTINGS are queued at
// creation: drainOutput() before anything else.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/headers.h"
#include "core/result.h"
#include "http/http2_session.h"

namespace aiw {

// The client's events; each runs inside receive() or drainOutput() (see http2_session.h).
class Http2ClientHandler : public Http2SessionHandler {
 public:
  // A response head: 1xx informational ones (end_stream false; the final one follows), then the
  // final one. end_stream: no body follows. `headers` (lower-case names) may be moved from.
  virtual void onResponseHeaders(int32_t stream_id, uint16_t status, Headers& headers,
                                 bool end_stream) = 0;
  // Response body bytes, then the end (empty, end_stream true) unless trailers end it. Call
  // consumed() once forwarded downstream: a slow client so slows the upstream.
  virtual void onResponseData(int32_t stream_id, std::string_view data, bool end_stream) = 0;
  // The response ended with a trailer section.
  virtual void onResponseTrailers(int32_t stream_id, Headers& trailers) {
    (void)stream_id;
    (void)trailers;
  }
};

class Http2ClientSession : public Http2Session {
 public:
  // `handler` must outlive the session.
  static Result<std::unique_ptr<Http2ClientSession>> create(Http2ClientHandler& handler,
                                                            const Http2Options& options = {});

  // Opens a stream. `headers` are the regular fields (any case; connection-specific ones are
  // dropped; use http2_translate.h to build them from an HTTP/1 head). CONNECT sends only
  // :method and :authority. Without end_stream the body follows with submitData() /
  // submitTrailers(). Errors: "no_stream_capacity" (availableStreams() is 0: wait for a stream
  // to close or use another connection), "invalid_field", "h2_submit".
  Result<int32_t> submitRequest(std::string_view method, std::string_view scheme,
                                std::string_view authority, std::string_view path,
                                const Headers& headers, bool end_stream);

  // How many more streams may be opened now: the server's MAX_CONCURRENT_STREAMS (assumed
  // to be options.max_concurrent_streams until its SETTINGS arrive) minus the open ones; 0
  // after a GOAWAY (either way) or when stream ids are exhausted.
  size_t availableStreams() const;
  bool canOpenStream() const { return availableStreams() > 0; }
  // The server's current SETTINGS_MAX_CONCURRENT_STREAMS.
  uint32_t peerMaxConcurrentStreams() const;

 private:
  Http2ClientSession(Http2ClientHandler& handler, const Http2Options& options)
      : Http2Session(Role::Client, handler, options), client_handler_(handler) {}

  Http2Stream* beginHeaderBlock(int32_t stream_id, int category) override;
  void headerBlockDone(Http2Stream& s, int category, bool end_stream) override;
  void headerBlockRejected(Http2Stream& s, int category) override;
  void bodyData(Http2Stream& s, std::string_view data, bool end_stream) override;

  Http2ClientHandler& client_handler_;
};

}  // namespace aiw
