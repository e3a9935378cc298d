// RequestHead / ResponseHead: what an HTTP/1 codec knows about a message once its head is parsed,
// including how its body is delimited. Filled by Http1Parser, written by the http1 writer.
#pragma once

#include <cstdint>
#include <string>

#include "core/headers.h"

namespace aiw {

// How a message body is delimited on the wire.
enum class BodyFraming : uint8_t {
  None,           // no body at all: a request without Content-Length / Transfer-Encoding, a
                  // 1xx/204/304 response, a response to HEAD (HeadAction::SkipBody)
  ContentLength,  // exactly `content_length` bytes (which may be 0)
  Chunked,        // Transfer-Encoding: chunked
  UntilClose,     // responses only: no length given, the body ends when the upstream closes
};

struct RequestHead {
  std::string method;  // as received (methods are case-sensitive tokens)
  // As received: origin-form ("/p?q"), absolute-form ("http://h/p"), authority-form (CONNECT
  // "h:443") or asterisk-form ("*"). Only visible ASCII, never a fragment.
  std::string target;
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  // In received order, names as received; values without leading/trailing whitespace.
  Headers headers;
  // The client may send another request on this connection after this one: HTTP/1.1 unless
  // "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
  bool keep_alive = true;
  // CONNECT, or "Upgrade" together with "Connection: upgrade": after this request the bytes on
  // the connection may belong to another protocol (the parser stops, see Http1Parser).
  bool upgrade = false;
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;  // meaningful when framing == ContentLength
  // Bytes of the head on the wire: request line, header lines, the empty line (and any empty
  // lines before the request line).
  size_t head_bytes = 0;

  bool isConnect() const { return method == "CONNECT"; }
  bool hasBody() const {
    return framing == BodyFraming::Chunked ||
           (framing == BodyFraming::ContentLength && content_length > 0);
  }
};

struct ResponseHead {
  uint16_t status = 0;  // 100..599
  std::string reason;   // may be empty
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  Headers headers;
  // The upstream connection can carry another request after this response: the same rule as for
  // requests, and never when the body runs until close. (After HeadAction::SkipBody the parser
  // updates it: a HEAD response without a length does not end the connection.)
  bool keep_alive = true;
  // 101 Switching Protocols: the bytes after this head belong to another protocol.
  bool upgrade = false;
  // For 1xx/204/304 always None (those never have a body, whatever the fields say). For a
  // response to HEAD it stays what the response announces (so the proxy can pass the same
  // Content-Length on); the callback's HeadAction::SkipBody makes the parser read no body.
  BodyFraming framing = BodyFraming::None;
  uint64_t content_length = 0;  // meaningful when framing == ContentLength
  size_t head_bytes = 0;

  bool isInformational() const { return status >= 100 && status < 200; }
};

}  // namespace aiw
