// Feeding an Http1Parser from a libevent input buffer: every event loop that reads HTTP/1 (the
// forward listener, its upstream side, the admin server) does exactly this.
#pragma once

#include "core/result.h"
#include "http/http1_parser.h"

struct evbuffer;

namespace aiw {

// Feeds the bytes of `input` to `parser` while it is Ready, draining what it consumed; bytes it
// did not take (after a pause, a stop, a closing message) stay in `input`. The first feed may be
// empty: after resume(), that delivers an event the parser held when it paused (the completion
// right after the last body byte). Returns the parser's error, if any.
Result<void> feedFromBuffer(Http1Parser& parser, evbuffer* input);

}  // namespace aiw
