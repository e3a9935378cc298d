#include "http/http1_writer.h"

#include <event2/buffer.h>

#include <cstring>

#include "http/message_utils.h"

namespace aiw {

namespace {

bool isFramingField(std::string_view name) {
  return equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "transfer-encoding");
}

bool isVisibleAscii(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  return true;
}

// Decimal digits of n into buf (at least 20 bytes); returns the length.
size_t formatDecimal(uint64_t n, char* buf) {
  char tmp[20];
  size_t len = 0;
  do {
    tmp[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  for (size_t i = 0; i < len; ++i) buf[i] = tmp[len - 1 - i];
  return len;
}

size_t formatHex(uint64_t n, char* buf) {
  static constexpr char kHex[] = "0123456789abcdef";
  char tmp[16];
  size_t len = 0;
  do {
    tmp[len++] = kHex[n & 0xf];
    n >>= 4;
  } while (n != 0);
  for (size_t i = 0; i < len; ++i) buf[i] = tmp[len - 1 - i];
  return len;
}

// Serializes a head in two passes over the same pieces: one to size it, one to copy it into
// space reserved once in the evbuffer, so a head costs one reservation and no temporary string.
class HeadSerializer {
 public:
  explicit HeadSerializer(Buffer& out) : out_(out) {}

  void piece(std::string_view s) {
    if (dst_ != nullptr) std::memcpy(dst_ + pos_, s.data(), s.size());
    pos_ += s.size();
  }
  void field(std::string_view name, std::string_view value) {
    piece(name);
    piece(": ");
    piece(value);
    piece("\r\n");
  }

  // Switches from sizing to writing; false if the buffer cannot grow (out of memory).
  bool startWriting() {
    size_ = pos_;
    pos_ = 0;
    if (evbuffer_reserve_space(out_.raw(), static_cast<ev_ssize_t>(size_), vec_, 1) != 1 ||
        vec_[0].iov_len < size_) {
      return false;
    }
    dst_ = static_cast<char*>(vec_[0].iov_base);
    return true;
  }
  void commit() {
    vec_[0].iov_len = size_;
    evbuffer_commit_space(out_.raw(), vec_, 1);
  }

 private:
  Buffer& out_;
  char* dst_ = nullptr;
  size_t pos_ = 0;
  size_t size_ = 0;
  evbuffer_iovec vec_[1];
};

Result<void> checkFields(const Headers& headers) {
  for (const auto& f : headers.fields()) {
    if (isFramingField(f.name)) continue;
    if (!isValidFieldName(f.name)) return makeError("invalid_head", "invalid header field name");
    if (!isValidFieldValue(f.value)) {
      return makeError("invalid_head", "invalid value in header field " + f.name);
    }
  }
  return {};
}

// Writes start line (given as pieces), fields and framing. `emit` is called twice.
template <typename StartLine>
void writeHead(Buffer& out, StartLine&& start_line, const Headers& headers, BodyFraming framing,
               uint64_t content_length) {
  char num[24];
  size_t num_len = formatDecimal(content_length, num);
  auto emit = [&](HeadSerializer& s) {
    start_line(s);
    for (const auto& f : headers.fields()) {
      if (!isFramingField(f.name)) s.field(f.name, f.value);
    }
    if (framing == BodyFraming::ContentLength) {
      s.field("Content-Length", std::string_view(num, num_len));
    } else if (framing == BodyFraming::Chunked) {
      s.field("Transfer-Encoding", "chunked");
    }
    s.piece("\r\n");
  };
  HeadSerializer s(out);
  emit(s);
  if (!s.startWriting()) return;
  emit(s);
  s.commit();
}

}  // namespace

std::string_view reasonPhrase(uint16_t status) {
  // clang-format off
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
  // clang-format on
}

Result<void> checkRequestLine(std::string_view method, std::string_view target) {
  if (!isValidFieldName(method)) return makeError("invalid_head", "invalid request method");
  if (!isVisibleAscii(target)) return makeError("invalid_head", "invalid request-target");
  return {};
}

Result<void> checkRequestHead(std::string_view method, std::string_view target,
                              const Headers& headers) {
  if (auto line = checkRequestLine(method, target); !line.ok()) return line;
  return checkFields(headers);
}

Result<void> writeRequestHead(Buffer& out, std::string_view method, std::string_view target,
                              const Headers& headers, BodyFraming framing,
                              uint64_t content_length) {
  auto ok = checkRequestHead(method, target, headers);
  if (!ok) return ok;
  writeHead(
      out,
      [&](HeadSerializer& s) {
        s.piece(method);
        s.piece(" ");
        s.piece(target);
        s.piece(" HTTP/1.1\r\n");
      },
      headers, framing, content_length);
  return {};
}

Result<void> writeRequestHead(Buffer& out, const RequestHead& head) {
  return writeRequestHead(out, head.method, head.target, head.headers, head.framing,
                          head.content_length);
}

Result<void> writeResponseHead(Buffer& out, uint16_t status, std::string_view reason,
                               const Headers& headers, BodyFraming framing,
                               uint64_t content_length) {
  if (status < 100 || status > 599) return makeError("invalid_head", "invalid status code");
  if (reason.empty()) reason = reasonPhrase(status);
  if (!isValidFieldValue(reason)) return makeError("invalid_head", "invalid reason phrase");
  auto ok = checkFields(headers);
  if (!ok) return ok;
  // RFC 9110 §8.6 / §6.4.1: no Content-Length or Transfer-Encoding in 1xx and 204 responses.
  if (status < 200 || status == 204) framing = BodyFraming::None;
  char code[3] = {static_cast<char>('0' + status / 100), static_cast<char>('0' + status / 10 % 10),
                  static_cast<char>('0' + status % 10)};
  writeHead(
      out,
      [&](HeadSerializer& s) {
        s.piece("HTTP/1.1 ");
        s.piece(std::string_view(code, 3));
        s.piece(" ");
        s.piece(reason);
        s.piece("\r\n");
      },
      headers, framing, content_length);
  return {};
}

Result<void> writeResponseHead(Buffer& out, const ResponseHead& head) {
  return writeResponseHead(out, head.status, head.reason, head.headers, head.framing,
                           head.content_length);
}

void appendChunk(Buffer& out, Buffer& data) {
  size_t n = data.size();
  if (n == 0) return;
  char line[20];
  size_t len = formatHex(n, line);
  line[len++] = '\r';
  line[len++] = '\n';
  out.append(line, len);
  out.moveFrom(data);
  out.append("\r\n", 2);
}

void appendChunk(Buffer& out, std::string_view data) {
  if (data.empty()) return;
  char line[20];
  size_t len = formatHex(data.size(), line);
  line[len++] = '\r';
  line[len++] = '\n';
  out.append(line, len);
  out.append(data);
  out.append("\r\n", 2);
}

void appendLastChunk(Buffer& out) { out.append("0\r\n\r\n", 5); }

void appendLastChunk(Buffer& out, const Headers& trailers) {
  out.append("0\r\n", 3);
  for (const auto& f : trailers.fields()) {
    if (isFramingField(f.name) || equalsIgnoreCase(f.name, "host")) continue;
    if (!isValidFieldName(f.name) || !isValidFieldValue(f.value)) continue;
    out.append(f.name);
    out.append(": ", 2);
    out.append(f.value);
    out.append("\r\n", 2);
  }
  out.append("\r\n", 2);
}

void writeJsonResponse(Buffer& out, uint16_t status, std::string_view json_body,
                       const Headers& extra_headers, bool close_connection) {
  if (status < 100 || status > 599) status = 500;
  bool has_content_type = false;
  for (const auto& f : extra_headers.fields()) {
    if (equalsIgnoreCase(f.name, "content-type") && isValidFieldValue(f.value)) {
      has_content_type = true;
    }
  }
  char code[3] = {static_cast<char>('0' + status / 100), static_cast<char>('0' + status / 10 % 10),
                  static_cast<char>('0' + status % 10)};
  char num[24];
  size_t num_len = formatDecimal(json_body.size(), num);
  auto emit = [&](HeadSerializer& s) {
    s.piece("HTTP/1.1 ");
    s.piece(std::string_view(code, 3));
    s.piece(" ");
    s.piece(reasonPhrase(status));
    s.piece("\r\n");
    for (const auto& f : extra_headers.fields()) {
      if (isFramingField(f.name) || equalsIgnoreCase(f.name, "connection")) continue;
      if (!isValidFieldName(f.name) || !isValidFieldValue(f.value)) continue;
      s.field(f.name, f.value);
    }
    if (!has_content_type) s.field("Content-Type", "application/json");
    s.field("Content-Length", std::string_view(num, num_len));
    if (close_connection) s.field("Connection", "close");
    s.piece("\r\n");
  };
  HeadSerializer s(out);
  emit(s);
  if (!s.startWriting()) return;
  emit(s);
  s.commit();
  out.append(json_body);
}

}  // namespace aiw
