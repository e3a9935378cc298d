// The nghttp2 side of Http2Session: the C callbacks (noexcept trampolines into
// Http2SessionAccess), the data provider, session creation and header block submission.
#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <string>
#include <vector>

#include "http/http2_session.h"  // first of ours: this file implements part of it
#include "http/message_utils.h"

namespace aiw {

namespace {

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Fields that HTTP/2 forbids (RFC 9113 §8.2.2). The translation layer removes them first; the
// codec drops them again so that a filter's mistake cannot make the peer reject the stream.
bool isConnectionSpecific(std::string_view lower_name, std::string_view value) {
  if (lower_name == "te") return !equalsIgnoreCase(value, "trailers");
  return lower_name == "connection" || lower_name == "keep-alive" ||
         lower_name == "proxy-connection" || lower_name == "transfer-encoding" ||
         lower_name == "upgrade";
}

// Short secrets must not enter the peer's HPACK table, where a compression oracle could
// recover them (RFC 7541 §7.1.3).
bool isSensitive(std::string_view lower_name, std::string_view value) {
  return lower_name == "authorization" || lower_name == "proxy-authorization" ||
         (lower_name == "cookie" && value.size() < 20);
}

// nghttp2_nv entries point into `names` and the Headers: both must outlive the submit call
// (nghttp2 copies them). Returns false on a field that could split the message downstream.
bool buildNv(const Headers* pseudo, const Headers& fields, std::vector<std::string>& names,
             std::vector<nghttp2_nv>& nv, bool skip_invalid) {
  names.clear();
  names.reserve(fields.size());  // never reallocated below: nv points into its strings
  nv.clear();
  nv.reserve((pseudo ? pseudo->size() : 0) + fields.size());
  auto push = [&](const std::string& name, const std::string& value, uint8_t flags) {
    nv.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                            reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())),
                            name.size(), value.size(), flags});
  };
  if (pseudo) {
    for (const auto& f : pseudo->fields()) push(f.name, f.value, NGHTTP2_NV_FLAG_NONE);
  }
  for (const auto& f : fields.fields()) {
    // Names are usually lower-case already (HTTP/2 fields, or made so by the translation):
    // only the others are copied.
    const std::string* name = &f.name;
    if (std::any_of(f.name.begin(), f.name.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      std::string lower(f.name.size(), '\0');
      std::transform(f.name.begin(), f.name.end(), lower.begin(), lowerAscii);
      names.push_back(std::move(lower));
      name = &names.back();
    }
    if (!isValidFieldName(*name) || !isValidFieldValue(f.value)) {
      if (skip_invalid) continue;
      return false;
    }
    if (isConnectionSpecific(*name, f.value)) continue;
    push(*name, f.value,
         isSensitive(*name, f.value) ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE);
  }
  return true;
}

}  // namespace

// The nghttp2 callbacks' way into the session's private state.
struct Http2SessionAccess {
  static Http2Session& self(void* user_data) { return *static_cast<Http2Session*>(user_data); }

  static int beginFrame(Http2Session& s, const nghttp2_frame_hd& hd) {
    const Http2Options& o = s.options_;
    switch (hd.type) {
      case NGHTTP2_HEADERS:
        s.continuations_ = 0;
        s.empty_data_frames_ = 0;
        ++s.headers_received_;
        // RFC 9113 §5.1.1: a stream id going backwards is a connection error.
        if (s.staleStreamHeaders(hd.stream_id)) return NGHTTP2_ERR_CALLBACK_FAILURE;
        return 0;
      case NGHTTP2_CONTINUATION:
        if (++s.continuations_ > o.max_continuations) return abuse(s, "continuation_flood");
        return 0;
      case NGHTTP2_DATA:
        // nghttp2 takes any number of empty DATA frames; each moves nothing (CVE-2019-9518).
        if (hd.length > 0 || (hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
          s.empty_data_frames_ = 0;
        } else if (++s.empty_data_frames_ > o.max_empty_data_frames) {
          return abuse(s, "empty_frames");
        }
        return 0;
      case NGHTTP2_PRIORITY:
        // Advisory only (RFC 9113 §5.3.2 deprecates the scheme), and free to send by the
        // thousand: a bound per stream opened, as Envoy keeps.
        if (++s.priority_received_ >
            uint64_t{o.max_priority_per_stream} * (1 + s.headers_received_)) {
          return abuse(s, "priority_flood");
        }
        return 0;
      case NGHTTP2_WINDOW_UPDATE:
        // A window only needs reopening after our DATA used it; increments of 1 by the
        // thousand are work without end (an overflow past 2^31-1 nghttp2 refuses itself).
        if (++s.window_updates_received_ >
            o.window_update_allowance +
                uint64_t{o.max_window_updates_per_data} * s.data_frames_sent_) {
          return abuse(s, "window_update_flood");
        }
        return 0;
      default:
        return 0;
    }
  }

  static int abuse(Http2Session& s, const char* reason) {
    s.flagAbuse(reason);
    return NGHTTP2_ERR_CALLBACK_FAILURE;  // stop reading this input at once
  }

  static int beginHeaders(Http2Session& s, const nghttp2_frame& frame) {
    if (frame.hd.type != NGHTTP2_HEADERS) return 0;
    Http2Stream* st = s.beginHeaderBlock(frame.hd.stream_id, frame.headers.cat);
    s.block_stream_ = st;
    if (st != nullptr) {
      // Four pseudo-headers at most in a request, one in a response; the fields of an API
      // call or its answer are usually fewer than eight: not the general reserve of 16 (every
      // stream in flight holds its lists).
      if (st->pseudo.fields().capacity() == 0) st->pseudo.fields().reserve(4);
      if (st->fields.fields().capacity() == 0) st->fields.fields().reserve(8);
      st->pseudo.clear();
      st->fields.clear();
      st->block_fields = 0;
      st->block_bytes = 0;
      st->block_rejected = false;
    }
    return 0;
  }

  static int header(Http2Session& s, const nghttp2_frame& frame, std::string_view name,
                    std::string_view value) {
    if (frame.hd.type != NGHTTP2_HEADERS) return 0;
    Http2Stream* st = s.blockStream(frame.hd.stream_id);
    if (st == nullptr || st->block_rejected) return 0;
    // Counted before anything is stored: the cap bounds memory, not just what is delivered.
    st->block_fields += 1;
    st->block_bytes += name.size() + value.size() + 32;
    if (st->block_fields > s.options_.max_header_fields ||
        st->block_bytes > s.options_.max_header_list_bytes) {
      st->block_rejected = true;
      st->pseudo.clear();
      st->fields.clear();
      return 0;
    }
    if (!name.empty() && name.front() == ':') {
      st->pseudo.add(std::string(name), std::string(value));
    } else {
      st->fields.add(std::string(name), std::string(value));
    }
    return 0;
  }

  static int frameRecv(Http2Session& s, const nghttp2_frame& frame) {
    switch (frame.hd.type) {
      case NGHTTP2_HEADERS: {
        Http2Stream* st = s.blockStream(frame.hd.stream_id);
        s.block_stream_ = nullptr;  // the block is complete
        if (st == nullptr) return 0;
        if (st->block_rejected) {
          s.headerBlockRejected(*st, frame.headers.cat);
        } else {
          s.headerBlockDone(*st, frame.headers.cat,
                            (frame.hd.flags & NGHTTP2_FLAG_END_STREAM) != 0);
        }
        return 0;
      }
      case NGHTTP2_DATA: {
        if ((frame.hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
        Http2Stream* st = s.findStream(frame.hd.stream_id);
        if (st != nullptr && st->announced) s.bodyData(*st, {}, true);
        return 0;
      }
      case NGHTTP2_RST_STREAM: {
        if (!s.peer_resets_.take()) {
          s.flagAbuse("rapid_reset");
          return NGHTTP2_ERR_CALLBACK_FAILURE;  // stop reading this input at once
        }
        Http2Stream* st = s.findStream(frame.hd.stream_id);
        if (st != nullptr && st->announced) s.peerReset(*st, frame.rst_stream.error_code);
        return 0;
      }
      case NGHTTP2_GOAWAY:
        s.handler_.onGoaway(frame.goaway.error_code, frame.goaway.last_stream_id);
        return 0;
      default:
        return 0;
    }
  }

  static int dataChunk(Http2Session& s, int32_t stream_id, std::string_view data) {
    Http2Stream* st = s.findStream(stream_id);
    if (st == nullptr || !st->announced) {
      // Nobody will forward these bytes: give the window back now or the connection stalls.
      nghttp2_session_consume(s.session(), stream_id, data.size());
      return 0;
    }
    st->unconsumed += data.size();
    st->received += data.size();
    s.bodyData(*st, data, false);
    return 0;
  }

  static int streamClose(Http2Session& s, int32_t stream_id, uint32_t error_code) {
    s.streamClosed(stream_id, error_code);
    return 0;
  }

  static int frameSend(Http2Session& s, const nghttp2_frame& frame) {
    // nghttp2's own resets (malformed streams) count as well as the application's; NO_ERROR
    // resets only end a stream whose response is complete.
    if (frame.hd.type == NGHTTP2_RST_STREAM && frame.rst_stream.error_code != NGHTTP2_NO_ERROR) {
      s.chargeOwnReset();
    }
    if (frame.hd.type == NGHTTP2_DATA) ++s.data_frames_sent_;  // the peer's WINDOW_UPDATE budget
    if (frame.hd.type == NGHTTP2_GOAWAY) s.goaway_sent_ = true;
    if (frame.hd.type == NGHTTP2_RST_STREAM && s.role_ == Http2Session::Role::Server) {
      // The client may still send trailers on it, not having seen the reset yet.
      if (s.reset_ids_.size() < Http2Session::kResetIdsKept) {
        s.reset_ids_.push_back(frame.hd.stream_id);
      } else {
        s.reset_ids_[s.reset_ids_next_] = frame.hd.stream_id;
        s.reset_ids_next_ = (s.reset_ids_next_ + 1) % Http2Session::kResetIdsKept;
      }
    }
    return 0;
  }

  static ssize_t readData(Http2Session& s, nghttp2_session* session, int32_t stream_id,
                          uint8_t* buf, size_t length, uint32_t* data_flags) {
    Http2Stream* st = s.findStream(stream_id);
    if (st == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
    size_t n = std::min(length, st->out.size());
    if (n > 0) {
      if (evbuffer_remove(st->out.raw(), buf, n) != static_cast<int>(n)) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      }
      s.outbound_total_ -= n;
    }
    if (st->out.empty() && st->out_end) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      if (st->trailers_pending) {
        st->trailers_pending = false;
        std::vector<std::string> names;
        std::vector<nghttp2_nv> nv;
        buildNv(nullptr, st->out_trailers, names, nv, /*skip_invalid=*/true);
        if (nghttp2_submit_trailer(session, stream_id, nv.data(), nv.size()) == 0) {
          *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
      }
    } else if (n == 0) {
      st->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    if (n > 0) s.handler_.onDataSent(stream_id, st->out.size());
    return static_cast<ssize_t>(n);
  }
};

namespace {

int onBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user_data) noexcept {
  return Http2SessionAccess::beginFrame(Http2SessionAccess::self(user_data), *hd);
}

int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) noexcept {
  return Http2SessionAccess::beginHeaders(Http2SessionAccess::self(user_data), *frame);
}

int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
             const uint8_t* value, size_t valuelen, uint8_t, void* user_data) noexcept {
  return Http2SessionAccess::header(
      Http2SessionAccess::self(user_data), *frame,
      std::string_view(reinterpret_cast<const char*>(name), namelen),
      std::string_view(reinterpret_cast<const char*>(value), valuelen));
}

int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) noexcept {
  return Http2SessionAccess::frameRecv(Http2SessionAccess::self(user_data), *frame);
}

int onDataChunkRecv(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                    void* user_data) noexcept {
  return Http2SessionAccess::dataChunk(Http2SessionAccess::self(user_data), stream_id,
                                       std::string_view(reinterpret_cast<const char*>(data), len));
}

int onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                  void* user_data) noexcept {
  return Http2SessionAccess::streamClose(Http2SessionAccess::self(user_data), stream_id,
                                         error_code);
}

int onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user_data) noexcept {
  return Http2SessionAccess::frameSend(Http2SessionAccess::self(user_data), *frame);
}

ssize_t onReadData(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                   uint32_t* data_flags, nghttp2_data_source*, void* user_data) noexcept {
  return Http2SessionAccess::readData(Http2SessionAccess::self(user_data), session, stream_id, buf,
                                      length, data_flags);
}

struct CallbacksDeleter {
  void operator()(nghttp2_session_callbacks* c) const noexcept { nghttp2_session_callbacks_del(c); }
};
struct OptionDeleter {
  void operator()(nghttp2_option* o) const noexcept { nghttp2_option_del(o); }
};

}  // namespace
Result<void> Http2Session::init() {
  nghttp2_session_callbacks* raw_cbs = nullptr;
  if (nghttp2_session_callbacks_new(&raw_cbs) != 0)
    return makeError("h2_internal", "out of memory");
  std::unique_ptr<nghttp2_session_callbacks, CallbacksDeleter> cbs(raw_cbs);
  nghttp2_session_callbacks_set_on_begin_frame_callback(raw_cbs, onBeginFrame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(raw_cbs, onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(raw_cbs, onHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(raw_cbs, onFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(raw_cbs, onDataChunkRecv);
  nghttp2_session_callbacks_set_on_stream_close_callback(raw_cbs, onStreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(raw_cbs, onFrameSend);

  nghttp2_option* raw_opt = nullptr;
  if (nghttp2_option_new(&raw_opt) != 0) return makeError("h2_internal", "out of memory");
  std::unique_ptr<nghttp2_option, OptionDeleter> opt(raw_opt);
  // Window updates only for bytes the application really forwarded (consumed()): this is what
  // turns a slow reader on one side into a slow sender on the other.
  nghttp2_option_set_no_auto_window_update(raw_opt, 1);
  nghttp2_option_set_max_outbound_ack(raw_opt, options_.max_outbound_ack);
  nghttp2_option_set_max_settings(raw_opt, options_.max_settings);
  if (role_ == Role::Client) {
    // Until the server's SETTINGS arrive, assume its limit is ours rather than unlimited.
    nghttp2_option_set_peer_max_concurrent_streams(raw_opt, options_.max_concurrent_streams);
  }
  if (options_.use_library_limits) {
#ifdef AIW_NGHTTP2_HAS_STREAM_RESET_RATE_LIMIT
    // A backstop only: our own budget (peer_resets_, refilled continuously) must run out
    // first and end the connection with ENHANCE_YOUR_CALM. nghttp2's bucket refills in whole
    // seconds and, when empty, queues a GOAWAY INTERNAL_ERROR of its own; with equal limits the
    // two could run out in either order on a slow run (seen under AddressSanitizer).
    nghttp2_option_set_stream_reset_rate_limit(raw_opt, 2ull * options_.peer_reset_burst,
                                               2ull * options_.peer_reset_per_second);
#endif
#ifdef AIW_NGHTTP2_HAS_MAX_CONTINUATIONS
    nghttp2_option_set_max_continuations(raw_opt, options_.max_continuations);
#endif
  }

  nghttp2_session* raw = nullptr;
  int rv = role_ == Role::Server ? nghttp2_session_server_new2(&raw, raw_cbs, this, raw_opt)
                                 : nghttp2_session_client_new2(&raw, raw_cbs, this, raw_opt);
  if (rv != 0) return makeError("h2_internal", nghttp2_strerror(rv));
  session_.reset(raw);

  std::vector<nghttp2_settings_entry> settings = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options_.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, options_.max_header_list_bytes},
  };
  if (role_ == Role::Client) settings.push_back({NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
  rv = nghttp2_submit_settings(raw, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  if (rv != 0) return makeError("h2_internal", nghttp2_strerror(rv));
  if (options_.connection_window > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE) {
    rv = nghttp2_session_set_local_window_size(raw, NGHTTP2_FLAG_NONE, 0,
                                               static_cast<int32_t>(options_.connection_window));
    if (rv != 0) return makeError("h2_internal", nghttp2_strerror(rv));
  }
  return {};
}

Result<int32_t> Http2Session::submitHeaders(HeadersKind kind, int32_t stream_id,
                                            const Headers& pseudo, const Headers& fields,
                                            bool end_stream) {
  if (!session_) return makeError("h2_internal", "HTTP/2 session not initialised");
  // Reused from submit to submit on this thread: nghttp2 copies what they point to during the
  // call, and nothing in between submits again.
  static thread_local std::vector<std::string> names;
  static thread_local std::vector<nghttp2_nv> nv;
  if (!buildNv(&pseudo, fields, names, nv, /*skip_invalid=*/false)) {
    return makeError("invalid_field", "a header field name or value is not valid HTTP");
  }
  nghttp2_data_provider provider{};
  provider.read_callback = onReadData;
  nghttp2_data_provider* prd = end_stream ? nullptr : &provider;
  int32_t rv = 0;
  switch (kind) {
    case HeadersKind::Request:
      rv = nghttp2_submit_request(session_.get(), nullptr, nv.data(), nv.size(), prd, nullptr);
      if (rv < 0) return makeError("h2_submit", nghttp2_strerror(rv));
      stream_id = rv;
      addStream(stream_id).announced = true;
      break;
    case HeadersKind::Response:
      if (findStream(stream_id) == nullptr) return makeError("no_stream", "unknown stream");
      rv = nghttp2_submit_response(session_.get(), stream_id, nv.data(), nv.size(), prd);
      break;
    case HeadersKind::Informational:
      if (findStream(stream_id) == nullptr) return makeError("no_stream", "unknown stream");
      rv = nghttp2_submit_headers(session_.get(), NGHTTP2_FLAG_NONE, stream_id, nullptr, nv.data(),
                                  nv.size(), nullptr);
      if (rv < 0) return makeError("h2_submit", nghttp2_strerror(rv));
      return stream_id;
  }
  if (rv < 0) return makeError("h2_submit", nghttp2_strerror(rv));
  Http2Stream& st = addStream(stream_id);
  st.has_provider = !end_stream;
  st.out_end = end_stream;
  return stream_id;
}

}  // namespace aiw
