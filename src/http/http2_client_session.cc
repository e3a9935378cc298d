#include "http/http2_client_session.h"

#include <nghttp2/nghttp2.h>

#include <charconv>
#include <string>
#include <utility>

namespace aiw {

Result<std::unique_ptr<Http2ClientSession>> Http2ClientSession::create(
    Http2ClientHandler& handler, const Http2Options& options) {
  std::unique_ptr<Http2ClientSession> s(new Http2ClientSession(handler, options));
  auto ok = s->init();
  if (!ok) return ok.error();
  return s;
}

Result<int32_t> Http2ClientSession::submitRequest(std::string_view method, std::string_view scheme,
                                                  std::string_view authority, std::string_view path,
                                                  const Headers& headers, bool end_stream) {
  if (availableStreams() == 0) {
    return makeError("no_stream_capacity", "the HTTP/2 connection has no stream available");
  }
  Headers pseudo;
  pseudo.fields().reserve(4);
  pseudo.add(":method", std::string(method));
  bool connect = method == "CONNECT";
  if (!connect) pseudo.add(":scheme", std::string(scheme));
  if (!authority.empty()) pseudo.add(":authority", std::string(authority));
  if (!connect) pseudo.add(":path", std::string(path));
  return submitHeaders(HeadersKind::Request, 0, pseudo, headers, end_stream);
}

uint32_t Http2ClientSession::peerMaxConcurrentStreams() const {
  if (session() == nullptr) return 0;
  return nghttp2_session_get_remote_settings(session(), NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

size_t Http2ClientSession::availableStreams() const {
  nghttp2_session* s = session();
  if (s == nullptr || nghttp2_session_check_request_allowed(s) == 0) return 0;
  if (nghttp2_session_get_next_stream_id(s) > 0x7fffffffu) return 0;
  size_t limit = peerMaxConcurrentStreams();
  return limit > streamCount() ? limit - streamCount() : 0;
}

Http2Stream* Http2ClientSession::beginHeaderBlock(int32_t stream_id, int category) {
  (void)category;
  return findStream(stream_id);  // only streams we opened (push is disabled)
}

void Http2ClientSession::headerBlockDone(Http2Stream& s, int category, bool end_stream) {
  (void)category;
  const std::string* status_text = s.pseudo.find(":status");
  Headers fields = std::move(s.fields);
  s.fields.clear();
  if (status_text == nullptr) {
    s.pseudo.clear();
    // nghttp2 only lets a block without :status through as trailers after the final response.
    if (s.final_response) client_handler_.onResponseTrailers(s.id, fields);
    return;
  }
  unsigned status = 0;
  auto [end, ec] =
      std::from_chars(status_text->data(), status_text->data() + status_text->size(), status);
  s.pseudo.clear();
  if (ec != std::errc() || status < 100 || status > 599) {
    (void)resetStream(s.id, kH2ProtocolError);
    return;
  }
  if (status >= 200) {
    s.final_response = true;
    s.pseudo = Headers();  // freed: only trailers can follow, and they carry none
  }
  client_handler_.onResponseHeaders(s.id, static_cast<uint16_t>(status), fields,
                                    status >= 200 && end_stream);
}

void Http2ClientSession::headerBlockRejected(Http2Stream& s, int category) {
  (void)category;
  // An upstream response over our caps is dropped; the handler learns it from onStreamClosed's
  // error code (and answers its own client 502).
  (void)resetStream(s.id, kH2EnhanceYourCalm);
}

void Http2ClientSession::bodyData(Http2Stream& s, std::string_view data, bool end_stream) {
  client_handler_.onResponseData(s.id, data, end_stream);
}

}  // namespace aiw
