#include "listeners/h2_bridge.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http/http2_session.h"

namespace aiw {

Result<void> moveFrames(Http2Session& codec, bufferevent* conn, size_t high_water,
                        bool& in_codec) {
  const size_t queued = evbuffer_get_length(bufferevent_get_output(conn));
  if (queued >= high_water) return {};
  Buffer frames;
  in_codec = true;
  Result<void> r = codec.drainOutput(frames, high_water - queued);
  in_codec = false;
  if (!frames.empty()) bufferevent_write_buffer(conn, frames.raw());
  return r;
}

LoopEndFlush::LoopEndFlush(event_base* base, Fn fn, void* owner)
    : ev_(event_new(base, -1, 0, &LoopEndFlush::onEvent, this)), fn_(fn), owner_(owner) {}

void LoopEndFlush::request() {
  if (pending_) return;
  if (!ev_) {  // no event (out of memory): flush at once, as before there was batching
    fn_(owner_);
    return;
  }
  pending_ = true;
  event_active(ev_.get(), EV_TIMEOUT, 1);
}

void LoopEndFlush::onEvent(int, short, void* arg) noexcept {
  auto* self = static_cast<LoopEndFlush*>(arg);
  self->pending_ = false;
  self->fn_(self->owner_);
}

}  // namespace aiw
