// StreamPort: what an exchange of a ForwardSession answers on when its request came on an HTTP/2
// stream (h2_downstream.cc) rather than on a client socket. The request arrives already parsed
// (ForwardSession::startOnStream and the stream* calls); the answer leaves through this port as
// a head, body bytes and an end, which the connection's codec turns into HEADERS and DATA frames.
// No HTTP/1.1 text is written or parsed on the way: framing is the codec's business.
//
// The port belongs to the HTTP/2 connection. An exchange holds it until either side ends: the
// exchange says so with exchangeEnded(), the connection (a reset or closed stream) with
// ForwardSession::abortStream(), after which the exchange never touches the port again.
#pragma once

#include <cstddef>

#include "core/buffer.h"
#include "core/headers.h"
#include "http/message_head.h"

namespace aiw {

class StreamPort {
 public:
  virtual ~StreamPort() = default;

  // A 1xx head (100 Continue, 103 Early Hints); the final head follows.
  virtual void answerInformational(const ResponseHead& head) = 0;
  // The final head. `no_body`: nothing follows (HEAD, 204, 304, framing None): the stream ends
  // with it. ContentLength framing passes the length on. The head's fields may be moved out.
  virtual void answerHead(ResponseHead& head, bool no_body) = 0;
  // Body bytes, moved out of `bytes`.
  virtual void answerBody(Buffer& bytes) = 0;
  // The end of the answer, with trailers when given (nothing after an answerHead(no_body)).
  virtual void answerEnd(const Headers* trailers) = 0;
  // The client has not taken enough of this stream's answer yet: stop reading the origin until
  // ForwardSession::onStreamDrained().
  virtual bool answerBackedUp() const = 0;
  // The exchange took `n` request body bytes (forwarded, held by a filter, or dropped): they
  // stop counting against the client's flow-control window.
  virtual void requestTaken(size_t n) = 0;
  // The exchange is over (its answer whole, or cut: then the stream is reset).
  virtual void exchangeEnded() = 0;
};

}  // namespace aiw
