#include "http/http1_feed.h"

#include <event2/buffer.h>

namespace aiw {

Result<void> feedFromBuffer(Http1Parser& parser, evbuffer* input) {
  bool first = true;
  while ((first || evbuffer_get_length(input) > 0) &&
         parser.state() == Http1ParserState::Ready) {
    first = false;
    evbuffer_iovec vec{nullptr, 0};
    if (evbuffer_get_length(input) > 0 && evbuffer_peek(input, -1, nullptr, &vec, 1) < 1) break;
    auto r = parser.feed(static_cast<const char*>(vec.iov_base), vec.iov_len);
    if (!r.ok()) return r.error();
    evbuffer_drain(input, r.value());
    if (r.value() < vec.iov_len) break;  // paused, stopped or closed
  }
  return {};
}

}  // namespace aiw
