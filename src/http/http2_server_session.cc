#include "http/http2_server_session.h"

#include <nghttp2/nghttp2.h>

#include <string>
#include <utility>

namespace aiw {

namespace {

Headers statusPseudo(uint16_t status) {
  Headers pseudo;
  pseudo.fields().reserve(1);
  pseudo.add(":status", std::to_string(status));
  return pseudo;
}

}  // namespace

Result<std::unique_ptr<Http2ServerSession>> Http2ServerSession::create(
    Http2ServerHandler& handler, const Http2Options& options) {
  std::unique_ptr<Http2ServerSession> s(new Http2ServerSession(handler, options));
  auto ok = s->init();
  if (!ok) return ok.error();
  return s;
}

Result<void> Http2ServerSession::submitResponse(int32_t stream_id, uint16_t status,
                                                const Headers& headers, bool end_stream) {
  if (status < 200 || status > 599) return makeError("invalid_status", "final status not 2xx-5xx");
  auto r =
      submitHeaders(HeadersKind::Response, stream_id, statusPseudo(status), headers, end_stream);
  if (!r) return r.error();
  return {};
}

Result<void> Http2ServerSession::submitInformational(int32_t stream_id, uint16_t status,
                                                     const Headers& headers) {
  // 101 has no meaning in HTTP/2 (RFC 9113 §8.6).
  if (status < 100 || status > 199 || status == 101) {
    return makeError("invalid_status", "informational status must be 1xx other than 101");
  }
  auto r =
      submitHeaders(HeadersKind::Informational, stream_id, statusPseudo(status), headers, false);
  if (!r) return r.error();
  return {};
}

Http2Stream* Http2ServerSession::beginHeaderBlock(int32_t stream_id, int category) {
  if (category == NGHTTP2_HCAT_REQUEST) return &addStream(stream_id);
  return findStream(stream_id);  // trailers of a known request
}

void Http2ServerSession::headerBlockDone(Http2Stream& s, int category, bool end_stream) {
  if (category == NGHTTP2_HCAT_REQUEST) {
    Http2RequestHead head;
    for (auto& f : s.pseudo.fields()) {
      if (f.name == ":method")
        head.method = std::move(f.value);
      else if (f.name == ":scheme")
        head.scheme = std::move(f.value);
      else if (f.name == ":authority")
        head.authority = std::move(f.value);
      else if (f.name == ":path")
        head.path = std::move(f.value);
      else if (f.name == ":protocol")
        head.protocol = std::move(f.value);
    }
    head.headers = std::move(s.fields);
    s.pseudo = Headers();  // freed: the stream lives on, its request's pseudo-headers are used
    s.fields.clear();
    s.announced = true;
    server_handler_.onRequestHeaders(s.id, head, end_stream);
    return;
  }
  if (!s.announced) return;
  Headers trailers = std::move(s.fields);
  s.fields.clear();
  server_handler_.onRequestTrailers(s.id, trailers);
}

void Http2ServerSession::headerBlockRejected(Http2Stream& s, int category) {
  if (category == NGHTTP2_HCAT_REQUEST && !s.announced) {
    // RFC 9113 §10.5.1: 431 tells the client why; nghttp2 resets the rest of the request. It is
    // a refusal all the same, so it counts like a reset (RST_STREAM frames count when sent).
    if (chargeOwnReset()) (void)submitResponse(s.id, 431, Headers{}, true);
    return;
  }
  (void)resetStream(s.id, kH2EnhanceYourCalm);
}

void Http2ServerSession::bodyData(Http2Stream& s, std::string_view data, bool end_stream) {
  server_handler_.onRequestData(s.id, data, end_stream);
}

void Http2ServerSession::peerReset(Http2Stream& s, uint32_t error_code) {
  server_handler_.onStreamReset(s.id, error_code);
}

}  // namespace aiw
