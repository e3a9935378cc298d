// Http2Session: the public half (I/O, outbound queues, flow control, budgets); the nghttp2
// callbacks and session creation are in http2_session_callbacks.cc.
#include "http/http2_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <string>

namespace aiw {

Http2LibraryLimits http2LibraryLimits() {
  Http2LibraryLimits l;
#ifdef AIW_NGHTTP2_HAS_STREAM_RESET_RATE_LIMIT
  l.stream_reset_rate_limit = true;
#endif
#ifdef AIW_NGHTTP2_HAS_MAX_CONTINUATIONS
  l.max_continuations = true;
#endif
  return l;
}

void Nghttp2SessionDeleter::operator()(nghttp2_session* s) const noexcept {
  nghttp2_session_del(s);
}

bool Http2Session::Budget::take() {
  auto now = std::chrono::steady_clock::now();
  std::chrono::duration<double> elapsed = now - last;
  last = now;
  tokens = std::min(burst, tokens + elapsed.count() * per_second);
  if (tokens < 1.0) return false;
  tokens -= 1.0;
  return true;
}

Http2Session::Http2Session(Role role, Http2SessionHandler& handler, const Http2Options& options)
    : handler_(handler), role_(role), options_(options) {
  auto now = std::chrono::steady_clock::now();
  peer_resets_ = Budget{static_cast<double>(options_.peer_reset_burst),
                        static_cast<double>(options_.peer_reset_burst),
                        static_cast<double>(options_.peer_reset_per_second), now};
  own_resets_ = Budget{static_cast<double>(options_.own_reset_burst),
                       static_cast<double>(options_.own_reset_burst),
                       static_cast<double>(options_.own_reset_per_second), now};
}

Http2Session::~Http2Session() = default;

Result<void> Http2Session::receive(std::string_view bytes) {
  if (!session_) return makeError("h2_internal", "HTTP/2 session not initialised");
  if (in_call_) return makeError("misuse", "receive() called from a session callback");
  in_call_ = true;
  ssize_t rv = nghttp2_session_mem_recv(
      session_.get(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  in_call_ = false;
  if (rv >= 0) return {};
#ifdef AIW_NGHTTP2_HAS_MAX_CONTINUATIONS
  if (rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) flagAbuse("continuation_flood");
#endif
  if (rv == NGHTTP2_ERR_FLOODED) flagAbuse("flood");
  if (protocol_error_) return makeError("h2_protocol", "HTTP/2 protocol error: " + abuse_reason_);
  if (abusive_) return makeError("h2_abuse", "HTTP/2 peer misbehaved: " + abuse_reason_);
  // Bad preface or a state nghttp2 cannot go on from: tell the peer why, then close.
  abuse_reason_ = nghttp2_strerror(static_cast<int>(rv));
  nghttp2_session_terminate_session(session_.get(), NGHTTP2_PROTOCOL_ERROR);
  return makeError("h2_protocol", "HTTP/2 protocol error: " + abuse_reason_);
}

Result<void> Http2Session::drainOutput(Buffer& out, size_t max) {
  if (!session_) return makeError("h2_internal", "HTTP/2 session not initialised");
  if (in_call_) return makeError("misuse", "drainOutput() called from a session callback");
  in_call_ = true;
  size_t appended = 0;
  while (appended < max) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
    if (n < 0) {
      in_call_ = false;
      return makeError("h2_internal", nghttp2_strerror(static_cast<int>(n)));
    }
    if (n == 0) break;
    out.append(data, static_cast<size_t>(n));
    appended += static_cast<size_t>(n);
  }
  in_call_ = false;
  return {};
}

bool Http2Session::wantsWrite() const {
  return session_ && nghttp2_session_want_write(session_.get()) != 0;
}

bool Http2Session::wantsRead() const {
  return session_ && nghttp2_session_want_read(session_.get()) != 0;
}

Http2Stream* Http2Session::findStream(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

const Http2Stream* Http2Session::findStream(int32_t stream_id) const {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

Http2Stream& Http2Session::addStream(int32_t stream_id) {
  auto& slot = streams_[stream_id];
  if (!slot) {
    slot = std::make_unique<Http2Stream>();
    slot->id = stream_id;
  }
  return *slot;
}

Result<void> Http2Session::submitData(int32_t stream_id, std::string_view bytes, bool end_stream) {
  Buffer b;
  b.append(bytes);
  return submitData(stream_id, b, end_stream);
}

Result<void> Http2Session::submitData(int32_t stream_id, Buffer& bytes, bool end_stream) {
  Http2Stream* st = findStream(stream_id);
  if (st == nullptr) return makeError("no_stream", "unknown or closed HTTP/2 stream");
  if (!st->has_provider || st->out_end) {
    return makeError("stream_ended", "the stream's outbound side has ended");
  }
  outbound_total_ += bytes.size();
  st->out.moveFrom(bytes);
  st->out_end = end_stream;
  if (st->deferred && (!st->out.empty() || st->out_end)) {
    st->deferred = false;
    nghttp2_session_resume_data(session_.get(), stream_id);
  }
  return {};
}

Result<void> Http2Session::submitTrailers(int32_t stream_id, const Headers& trailers) {
  Http2Stream* st = findStream(stream_id);
  if (st == nullptr) return makeError("no_stream", "unknown or closed HTTP/2 stream");
  if (!st->has_provider || st->out_end) {
    return makeError("stream_ended", "the stream's outbound side has ended");
  }
  st->out_trailers = trailers;
  st->trailers_pending = true;
  st->out_end = true;
  if (st->deferred) {
    st->deferred = false;
    nghttp2_session_resume_data(session_.get(), stream_id);
  }
  return {};
}

Result<void> Http2Session::resetStream(int32_t stream_id, uint32_t error_code) {
  if (!session_) return makeError("h2_internal", "HTTP/2 session not initialised");
  Http2Stream* st = findStream(stream_id);
  if (st == nullptr) return makeError("no_stream", "unknown or closed HTTP/2 stream");
  // The queued body will never be sent: free it now rather than at close.
  outbound_total_ -= st->out.size();
  st->out.clear();
  int rv = nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream_id, error_code);
  if (rv != 0) return makeError("h2_submit", nghttp2_strerror(rv));
  return {};
}

void Http2Session::consumed(int32_t stream_id, size_t n) {
  Http2Stream* st = findStream(stream_id);
  if (st == nullptr || !session_ || n == 0) return;
  n = static_cast<size_t>(std::min<uint64_t>(n, st->unconsumed));
  st->unconsumed -= n;
  nghttp2_session_consume(session_.get(), stream_id, n);
}

Result<void> Http2Session::goaway(uint32_t error_code, std::string_view reason) {
  if (!session_) return makeError("h2_internal", "HTTP/2 session not initialised");
  int rv = nghttp2_submit_goaway(
      session_.get(), NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_.get()),
      error_code, reinterpret_cast<const uint8_t*>(reason.data()), reason.size());
  if (rv != 0) return makeError("h2_submit", nghttp2_strerror(rv));
  return {};
}

void Http2Session::terminate(uint32_t error_code) {
  if (session_) nghttp2_session_terminate_session(session_.get(), error_code);
}

size_t Http2Session::outboundQueued(int32_t stream_id) const {
  const Http2Stream* st = findStream(stream_id);
  return st == nullptr ? 0 : st->out.size();
}

uint64_t Http2Session::unconsumed(int32_t stream_id) const {
  const Http2Stream* st = findStream(stream_id);
  return st == nullptr ? 0 : st->unconsumed;
}

bool Http2Session::chargeOwnReset() {
  if (own_resets_.take()) return true;
  flagAbuse("reset_budget");
  return false;
}

void Http2Session::flagAbuse(std::string reason) {
  if (abusive_) return;
  abusive_ = true;
  abuse_reason_ = std::move(reason);
  // Queued now, sent by the next drainOutput(); nghttp2 then reads nothing more.
  if (session_) nghttp2_session_terminate_session(session_.get(), NGHTTP2_ENHANCE_YOUR_CALM);
}

void Http2Session::flagProtocolError(std::string reason) {
  if (abusive_ || protocol_error_) return;
  protocol_error_ = true;
  abuse_reason_ = std::move(reason);
  if (session_) nghttp2_session_terminate_session(session_.get(), NGHTTP2_PROTOCOL_ERROR);
}

bool Http2Session::staleStreamHeaders(int32_t stream_id) {
  if (role_ != Role::Server || stream_id <= 0 || (stream_id & 1) == 0) return false;  // nghttp2's
  if (stream_id > highest_peer_stream_) {
    highest_peer_stream_ = stream_id;
    return false;
  }
  // nghttp2 decides for a stream it still knows: trailers on an open stream; a stream whose
  // client side ended (GOAWAY STREAM_CLOSED, RFC 9113 §5.1); one it reset with the client side
  // open (ignored: trailers in flight). The closed streams it keeps are bounded, so the streams
  // this side reset are remembered here too. After our GOAWAY it ignores new streams itself.
  if (goaway_sent_) return false;
  if (nghttp2_stream* st = nghttp2_session_find_stream(session_.get(), stream_id)) {
    if (nghttp2_stream_get_state(st) != NGHTTP2_STREAM_STATE_IDLE) return false;
  }
  if (std::find(reset_ids_.begin(), reset_ids_.end(), stream_id) != reset_ids_.end()) {
    return false;
  }
  flagProtocolError("HEADERS on stream " + std::to_string(stream_id) + ", not above stream " +
                    std::to_string(highest_peer_stream_) + " already used");
  return true;
}

void Http2Session::streamClosed(int32_t stream_id, uint32_t error_code) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  std::unique_ptr<Http2Stream> st = std::move(it->second);
  streams_.erase(it);
  if (block_stream_ == st.get()) block_stream_ = nullptr;
  outbound_total_ -= st->out.size();
  // Bytes the application still holds would never be consumed() once the stream is gone; the
  // connection window must not shrink for good because of them.
  if (st->unconsumed > 0) {
    nghttp2_session_consume_connection(session_.get(), static_cast<size_t>(st->unconsumed));
  }
  if (st->announced) handler_.onStreamClosed(stream_id, error_code);
}

}  // namespace aiw
