// How an HTTP/1 message says its body is delimited and whether its connection goes on (RFC 9112
// §6, §9.3), with the strict rules against request smuggling. Used by Http1Parser once a head is
// complete; independent of llhttp.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/headers.h"
#include "core/result.h"

namespace aiw {

// Error codes of the HTTP/1 codec (Error::code), stable for callers to branch on.
inline constexpr std::string_view kHttp1Malformed = "malformed";                              // 400
inline constexpr std::string_view kHttp1HeaderTooLarge = "header_too_large";                  // 431
inline constexpr std::string_view kHttp1UnsupportedCoding = "unsupported_transfer_encoding";  // 501
inline constexpr std::string_view kHttp1UnsupportedVersion = "unsupported_version";           // 505
inline constexpr std::string_view kHttp1Incomplete = "incomplete_message";                    // 400

struct DeclaredFraming {
  bool chunked = false;     // Transfer-Encoding: chunked
  bool has_length = false;  // Content-Length: length
  uint64_t length = 0;
};

// The framing the fields declare. Refused (code kHttp1Malformed unless said otherwise): more
// than one Content-Length field (even equal), a Content-Length that is not 1*DIGIT (lists, signs,
// more than 18 digits), Content-Length together with Transfer-Encoding, Transfer-Encoding in an
// HTTP/1.0 message, an empty Transfer-Encoding element, codings that do not end with "chunked" or
// apply it twice; other codings before a final "chunked" are kHttp1UnsupportedCoding (501).
Result<DeclaredFraming> declaredFraming(const Headers& headers, uint8_t version_major,
                                        uint8_t version_minor);

// HTTP/1.1: true unless Connection lists "close"; HTTP/1.0: only when Connection lists
// "keep-alive" and not "close". (Framing that runs until close is the caller's to add.)
bool wantsKeepAlive(const Headers& headers, uint8_t version_major, uint8_t version_minor);

}  // namespace aiw
