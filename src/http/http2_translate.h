// HTTP/1.1 <-> HTTP/2 message head translation (RFC 9113 §8.2 / §8.3), for a proxy whose two
// sides speak different versions. Pure functions over codec-neutral types: RequestHead /
// ResponseHead (http1 codec) and Http2RequestHead / status + Headers (http2 codec).
//
// To HTTP/2: names lower-cased; Connection, every field it names, Keep-Alive, Proxy-Connection,
// Transfer-Encoding and Upgrade removed; TE kept only as "te: trailers"; Host becomes
// :authority (RFC 9113 §8.3.1: no Host that could differ from it).
// To HTTP/1: :authority becomes Host; cookie crumbs joined with "; " (RFC 9113 §8.2.3); the body
// framing decided from content-length, else chunked when a body follows.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/headers.h"
#include "core/result.h"
#include "http/http2_server_session.h"
#include "http/message_head.h"

namespace aiw {

// The fields of an HTTP/1 message, made fit for HTTP/2 (the rules above, Host included: it is
// removed; read it first). Also for trailers.
Headers h2FieldsFromH1(const Headers& h1);
Headers h2FieldsFromH1(Headers&& h1);  // moves the fields out of h1

// An HTTP/1 request head as an HTTP/2 request. `scheme` is the one the upstream connection
// uses ("https" for intercepted TLS). origin-form takes :authority from Host; absolute-form
// from the URL (scheme too); CONNECT's authority-form becomes :authority alone; "*" stays the
// :path of OPTIONS. Error "bad_request" when there is no authority at all for a request that
// needs one, or the target is not a form HTTP/1 allows.
Result<Http2RequestHead> h2RequestFromH1(const RequestHead& h1, std::string_view scheme);

// An HTTP/2 request as an HTTP/1.1 head (origin-form target, or the authority for CONNECT).
// `body_follows`: the HEADERS frame did not end the stream. Host = :authority (replacing any
// Host field), else the Host field, else Error "bad_request". Framing: Content-Length when
// given (Error "bad_request" if it is not one decimal number), else Chunked when a body follows
// (te: trailers then travels with "Connection: te"), else None.
Result<RequestHead> h1RequestFromH2(const Http2RequestHead& h2, bool body_follows);
Result<RequestHead> h1RequestFromH2(Http2RequestHead&& h2, bool body_follows);  // moves from h2

// An HTTP/1 response head as HTTP/2: the status and the fields made fit (reason phrase lost;
// Content-Length kept for ContentLength framing, nghttp2 checks it against the DATA).
Headers h2ResponseFieldsFromH1(const ResponseHead& h1);
Headers h2ResponseFieldsFromH1(ResponseHead&& h1);  // moves the fields out of h1

// An HTTP/2 response head as an HTTP/1.1 head. `body_follows`: the HEADERS frame did not end
// the stream; `request_was_head`: the request was HEAD (no body ever, the length is passed on).
// Framing: None for 1xx/204/304; Content-Length when given (Error "bad_response" if
// malformed); ContentLength 0 when no body follows; else Chunked.
Result<ResponseHead> h1ResponseFromH2(uint16_t status, const Headers& h2, bool body_follows,
                                      bool request_was_head = false);
Result<ResponseHead> h1ResponseFromH2(uint16_t status, Headers&& h2, bool body_follows,
                                      bool request_was_head = false);  // moves from h2

// Joins every cookie field into one "a=1; b=2" field where the first one was (HTTP/2 sends
// crumbs; an HTTP/1 origin expects one Cookie line). Returns how many fields were merged away.
size_t joinCookieCrumbs(Headers& headers);

}  // namespace aiw
