#include "upstream/write_now.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <cerrno>

namespace aiw {

void flushNow(bufferevent* bev) {
  evbuffer* out = bufferevent_get_output(bev);
  if (evbuffer_get_length(out) == 0) return;
  if (bufferevent_get_enabled(bev) & EV_WRITE) return;
  if (bufferevent_pair_get_partner(bev) != nullptr) {
    // One end of a pair (an HTTP/2 stream's exchange): enabling EV_WRITE hands the bytes to the
    // other end as far as its read watermark allows, so a slow HTTP/2 reader keeps them here
    // (and the exchange's own back-pressure stops reading the origin). No flush: that would
    // move them all past the watermark.
    bufferevent_enable(bev, EV_WRITE);
    return;
  }
  if (bufferevent_get_underlying(bev) != nullptr) {
    // A filtering bufferevent (TLS): its bytes must go through the filter, never to the fd.
    // The TLS layer itself writes straight to the socket; the flush makes it encrypt now.
    bufferevent_enable(bev, EV_WRITE);
    bufferevent_flush(bev, EV_WRITE, BEV_NORMAL);
    return;
  }
  // A bufferevent keeps the front of its output frozen except inside its own write callback;
  // the same unfreeze/freeze bracket lets this write drain it.
  evbuffer_unfreeze(out, 1);
  int n = evbuffer_write(out, bufferevent_getfd(bev));
  evbuffer_freeze(out, 1);
  const bool hard_error = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  if (hard_error || evbuffer_get_length(out) > 0) bufferevent_enable(bev, EV_WRITE);
}

void stopWritingIfDrained(bufferevent* bev) {
  // Only socket bufferevents: on a TLS one, EV_WRITE off would strand plaintext queued later,
  // and keeping it on costs nothing (its filter writes to the socket directly).
  if (bufferevent_get_underlying(bev) != nullptr) return;
  if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) bufferevent_disable(bev, EV_WRITE);
}

void readInLargeChunks(bufferevent* bev) { bufferevent_set_max_single_read(bev, 64 * 1024); }

}  // namespace aiw
