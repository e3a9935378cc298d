// Http1Parser: an incremental, strict HTTP/1.0 / 1.1 parser over llhttp, for requests (the
// downstream side) and responses (the upstream side).
//
// Bytes go in with feed(); events come out through Http1ParserCallbacks as they are recognised:
// the head once it is complete and has passed every check, body bytes as they arrive (pointers
// into the fed data, never buffered), message completion. feed() returns how many bytes it
// consumed; bytes it did not consume (after a pause, a CONNECT or upgrade, or a message that
// closes the connection) stay with the caller.
//
// Strictness (request smuggling, RFC 9112) beyond llhttp 8.1's own checks: bare CR, bare LF and
// obs-fold anywhere in a head, chunk line or trailer section; Content-Length together with
// Transfer-Encoding; more than one Content-Length (even equal) or a list; Transfer-Encoding other
// than a single final "chunked"; Transfer-Encoding in HTTP/1.0; HTTP versions other than 1.0 and
// 1.1 (and HTTP/0.9); missing (HTTP/1.1) or duplicate Host; invalid field names and values; a
// request-target with controls, spaces, non-ASCII or a fragment; CONNECT with a body;
// Content-Length / Transfer-Encoding in trailers; a head larger than max_header_bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/headers.h"
#include "core/result.h"
#include "http/http1_framing.h"  // the error codes kHttp1*
#include "http/message_head.h"

namespace aiw {

struct Http1ParserImpl;

// What the parser does after the head callback.
enum class HeadAction : uint8_t {
  Continue,  // parse the body as the head declares it
  // Responses only: read no body, the message ends with its head. For a response to HEAD (the
  // parser cannot know the request method). 1xx/204/304 responses need no SkipBody: they never
  // have a body. Request parsers treat it as Continue (a request's body is always read).
  SkipBody,
  // Stop after the head: feed() returns the head's end as consumed and the parser enters
  // Stopped; no onMessageComplete is delivered. For a request that will not be parsed further
  // (e.g. refused), or a 101 / 2xx-to-CONNECT response whose bytes are another protocol.
  Stop,
};

// What the parser does after a body chunk or a message completion.
enum class FlowAction : uint8_t {
  Continue,
  // Stop consuming right after this event: feed() returns the bytes consumed so far and the
  // parser is Paused until resume(). Use it for back-pressure (after onBody) or to hold a
  // pipelined request until the current exchange is done (after onMessageComplete).
  Pause,
};

// Events of one parser. They run inside feed() / finish(); they must not call feed(), finish(),
// resume() or reset() on the same parser, nor destroy it (feed() and finish() called from a
// callback return Error "misuse" and change nothing).
class Http1ParserCallbacks {
 public:
  virtual ~Http1ParserCallbacks() = default;
  // Request parsers: once per request, when its head is complete and valid. The head may be
  // modified or moved from; it stays owned by the parser until the next message begins.
  virtual HeadAction onRequestHead(RequestHead& head) {
    (void)head;
    return HeadAction::Continue;
  }
  // Response parsers: once per response, 1xx responses included (each is a message of its own,
  // followed by the final response).
  virtual HeadAction onResponseHead(ResponseHead& head) {
    (void)head;
    return HeadAction::Continue;
  }
  // Body bytes as they arrive (content only: no chunk framing). `data` points into the buffer
  // given to feed() and is valid only during the call. Never called with len == 0.
  virtual FlowAction onBody(const char* data, size_t len) {
    (void)data;
    (void)len;
    return FlowAction::Continue;
  }
  // The message is complete. `trailers` holds the trailer section of a chunked message (usually
  // empty); it may be moved from. For a message that ends the connection (keep_alive false),
  // the parser enters Closed after this, whatever is returned.
  virtual FlowAction onMessageComplete(Headers& trailers) {
    (void)trailers;
    return FlowAction::Continue;
  }
};

enum class Http1ParserState : uint8_t {
  Ready,   // feed() parses: between messages or inside one
  Paused,  // a callback returned FlowAction::Pause; resume() continues
  // Parsing ended after a head: CONNECT, an upgrade request (after its message completes), a
  // 101 response, or HeadAction::Stop. The remaining bytes are not HTTP/1 to this parser.
  // resume() goes on parsing HTTP/1 (e.g. when the upgrade was refused).
  Stopped,
  // The last message ends the connection (keep_alive false): no further bytes are parsed.
  Closed,
  Failed,  // feed() or finish() returned an error; error() holds it. reset() to reuse.
};

class Http1Parser {
 public:
  enum class Type : uint8_t { Request, Response };

  static constexpr size_t kDefaultMaxHeaderBytes = 65536;

  // `callbacks` must outlive the parser. `max_header_bytes` bounds each head (request/status
  // line + header lines + the empty line) and each trailer section; larger is 431 (requests).
  Http1Parser(Type type, Http1ParserCallbacks& callbacks,
              size_t max_header_bytes = kDefaultMaxHeaderBytes);
  ~Http1Parser();
  Http1Parser(const Http1Parser&) = delete;
  Http1Parser& operator=(const Http1Parser&) = delete;

  // Parses as much of data[0, len) as it can and returns how many bytes it consumed. Less than
  // len when a callback paused, the parser stopped (CONNECT, upgrade, HeadAction::Stop), or a
  // message ended the connection; the rest stays with the caller. Returns 0 without parsing when
  // the state is not Ready. An error puts the parser in Failed: the connection must be closed
  // after answering errorStatus() (requests; responses: 502 to the client).
  // After resume(), call feed() even when no new bytes are buffered (feed(nullptr, 0) is fine):
  // an event may be due without more input, e.g. onMessageComplete after a pause in onBody on
  // the last body bytes.
  Result<size_t> feed(const char* data, size_t len);
  Result<size_t> feed(std::string_view bytes) { return feed(bytes.data(), bytes.size()); }

  // The peer closed its side (EOF) after every received byte was fed. Completes a response
  // whose body runs until close (onMessageComplete, then Closed). Fine between messages and when
  // Stopped or Closed. Inside a head or an unfinished body: error "incomplete_message".
  Result<void> finish();

  // Leaves Paused or Stopped: the next feed() continues where parsing stopped (for Stopped:
  // continues as HTTP/1, e.g. with the body after HeadAction::Stop or the next request after a
  // refused upgrade). Follow it with feed() of the bytes left over, even if there are none (see
  // feed()). Never runs callbacks itself. No effect in other states.
  void resume();

  // Forgets everything (message, error, pause) and waits for a new message. Type, callbacks and
  // limit are kept. For reusing a parser, e.g. on a pooled upstream connection after an error.
  void reset();

  Type type() const;
  Http1ParserState state() const;
  // True from the first byte of a request/status line until the message completes.
  bool messageInProgress() const;
  // True between the head callback and message completion (the body is being parsed).
  bool inBody() const;
  // Body bytes delivered so far for the current (or last) message.
  uint64_t bodyBytes() const;

  // The head of the current (or last) message, valid until the next message begins.
  RequestHead& requestHead();
  ResponseHead& responseHead();

  // After an error: the HTTP status to answer and the Error, whose code is one of
  //   kHttp1Malformed "malformed" (400), kHttp1HeaderTooLarge "header_too_large" (431),
  //   kHttp1UnsupportedCoding "unsupported_transfer_encoding" (501),
  //   kHttp1UnsupportedVersion "unsupported_version" (505),
  //   kHttp1Incomplete "incomplete_message" (400; from finish()).
  // Response parsers use the same codes with status 502 (what the proxy answers its client).
  // The message names the problem, e.g. "bad HTTP/1 request: more than one Host field".
  uint16_t errorStatus() const;
  const Error& error() const;

 private:
  std::unique_ptr<Http1ParserImpl> impl_;
};

}  // namespace aiw
