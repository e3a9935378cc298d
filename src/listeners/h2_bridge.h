// What both HTTP/2 connection objects share (h2_downstream.h: client streams to exchanges;
// h2_upstream.h: exchanges to origin streams): a codec's frames moved to its connection within a
// bound, and one flush per loop pass.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/buffer.h"
#include "core/c_handles.h"
#include "core/headers.h"
#include "core/result.h"
#include "http/message_head.h"

struct bufferevent;
struct event_base;

namespace aiw {

class Http2Session;

// Appends the codec's frames to `conn`'s output while it holds less than `high_water`.
// `in_codec` is set around the codec call (its callbacks must not flush again).
Result<void> moveFrames(Http2Session& codec, bufferevent* conn, size_t high_water, bool& in_codec);

// A connection's flush, run once at the end of the current loop pass however often it was
// requested during it. One batch of input touches many streams (100 HEADERS in one read, 100
// exchanges answering in one pass); flushing after each would cost a write (and a TLS record)
// per stream, where one write carries them all. The event is queued behind the callbacks
// already due in this pass, so the flush sees everything they produced.
class LoopEndFlush {
 public:
  using Fn = void (*)(void* owner);
  LoopEndFlush(event_base* base, Fn fn, void* owner);
  void request();
  bool pending() const { return pending_; }

 private:
  static void onEvent(int, short, void* arg) noexcept;
  EventPtr ev_;
  Fn fn_;
  void* owner_;
  bool pending_ = false;
};

}  // namespace aiw
