// What both HTTP/2 bridges share (h2_downstream.h: client streams to exchanges; h2_upstream.h:
// exchanges to origin streams): an HTTP/2 body carried as an HTTP/1.1 body over a bufferevent
// pair, and a codec's frames moved to its connection within a bound.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/buffer.h"
#include "core/headers.h"
#include "core/result.h"
#include "http/message_head.h"

struct bufferevent;

namespace aiw {

class Http2Session;

// Appends `data` as HTTP/1.1 body bytes of `framing` (a chunk when chunked), then, with `end`,
// the end of a chunked body (with `trailers` when given).
void appendH1Body(Buffer& out, BodyFraming framing, std::string_view data, bool end,
                  const Headers* trailers = nullptr);

// Of the `pending` body bytes written to our end of a pair, those the other end has taken
// since: what the codec may consume() now (pending is updated).
size_t takenFromPair(bufferevent* our_end, size_t& pending);

// Appends the codec's frames to `conn`'s output while it holds less than `high_water`.
// `in_codec` is set around the codec call (its callbacks must not flush again).
Result<void> moveFrames(Http2Session& codec, bufferevent* conn, size_t high_water, bool& in_codec);

}  // namespace aiw
