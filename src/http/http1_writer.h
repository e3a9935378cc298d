// HTTP/1.1 serialization into Buffers: request and response heads, chunked body framing, and
// complete JSON responses (the proxy's own answers: errors, blocks, admin routes).
//
// The writer owns the framing fields. Content-Length and Transfer-Encoding fields in the given
// Headers are never copied; the writer emits exactly the one `framing` calls for. So a forwarded
// message can never carry two conflicting lengths, whatever filters did to its headers.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/buffer.h"
#include "core/headers.h"
#include "core/result.h"
#include "http/message_head.h"

namespace aiw {

// The standard reason phrase ("Not Found"), or "" for a status without one in the table.
std::string_view reasonPhrase(uint16_t status);

// Appends "METHOD target HTTP/1.1\r\n", the fields of `headers` except Content-Length and
// Transfer-Encoding, the framing field, and "\r\n". Framing: ContentLength writes
// "Content-Length: <content_length>", Chunked writes "Transfer-Encoding: chunked" (then send the
// body with appendChunk / appendLastChunk), None and UntilClose write none.
// Fails (code "invalid_head", nothing written) when the method is not a token, the target has a
// byte outside visible ASCII, or a field name / value is invalid (a CR or LF there would split
// the message).
Result<void> writeRequestHead(Buffer& out, std::string_view method, std::string_view target,
                              const Headers& headers, BodyFraming framing,
                              uint64_t content_length = 0);
// The same with the head's method, target, headers, framing and content_length (always sent as
// HTTP/1.1: a proxy speaks its own version).
Result<void> writeRequestHead(Buffer& out, const RequestHead& head);
// What writeRequestHead checks before writing (code "invalid_head"), for a head that goes on in
// another form (HTTP/2) but must meet the same rules.
Result<void> checkRequestHead(std::string_view method, std::string_view target,
                              const Headers& headers);
// Its first half: the method is a token, the target visible ASCII.
Result<void> checkRequestLine(std::string_view method, std::string_view target);

// Appends "HTTP/1.1 <status> <reason>\r\n", the fields (framing as for requests) and "\r\n". An
// empty `reason` takes reasonPhrase(status). Fails (code "invalid_head", nothing written) on a
// status outside 100..599, a reason with control characters, or an invalid field.
// For a response to HEAD or a 304, pass the framing the response announced (Content-Length is
// written) and send no body. 1xx and 204 responses never get a framing field, whatever `framing`
// says. UntilClose writes no framing field: add "Connection: close" and close.
Result<void> writeResponseHead(Buffer& out, uint16_t status, std::string_view reason,
                               const Headers& headers, BodyFraming framing,
                               uint64_t content_length = 0);
Result<void> writeResponseHead(Buffer& out, const ResponseHead& head);

// Appends one chunk: "<size in hex>\r\n", the bytes of `data` (moved, not copied: `data` ends
// empty), "\r\n". Nothing for empty data (an empty chunk would end the body).
void appendChunk(Buffer& out, Buffer& data);
void appendChunk(Buffer& out, std::string_view data);
// Appends the last chunk and the end of the body: "0\r\n\r\n", or "0\r\n" + trailer fields +
// "\r\n" (invalid fields and Content-Length / Transfer-Encoding / Host are left out).
void appendLastChunk(Buffer& out);
void appendLastChunk(Buffer& out, const Headers& trailers);

// Appends a complete response: status line with reasonPhrase(status), the valid fields of
// `extra_headers` (Content-Length, Transfer-Encoding and Connection in it are ignored),
// "Content-Type: application/json" unless extra_headers has a Content-Type,
// "Content-Length: <body size>", "Connection: close" when `close_connection`, then the body.
// Never fails: invalid extra fields are left out; a status outside 100..599 is sent as 500.
void writeJsonResponse(Buffer& out, uint16_t status, std::string_view json_body,
                       const Headers& extra_headers = Headers(), bool close_connection = false);

}  // namespace aiw
