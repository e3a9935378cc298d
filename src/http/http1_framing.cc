#include "http/http1_framing.h"

#include <string>

#include "http/message_utils.h"

namespace aiw {

namespace {

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Content-Length = 1*DIGIT; 18 digits keep it far inside 64 bits.
bool parseContentLength(std::string_view v, uint64_t& out) {
  if (v.empty() || v.size() > 18) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  out = n;
  return true;
}

Error malformed(const char* what) { return makeError(std::string(kHttp1Malformed), what); }

}  // namespace

Result<DeclaredFraming> declaredFraming(const Headers& headers, uint8_t version_major,
                                        uint8_t version_minor) {
  DeclaredFraming out;
  size_t cl_count = 0;
  const std::string* cl = nullptr;
  size_t te_count = 0;
  for (const auto& f : headers.fields()) {
    if (equalsIgnoreCase(f.name, "content-length")) {
      ++cl_count;
      cl = &f.value;
    } else if (equalsIgnoreCase(f.name, "transfer-encoding")) {
      ++te_count;
    }
  }
  if (cl_count > 1) return malformed("more than one Content-Length field");
  if (cl_count == 1 && te_count > 0) return malformed("both Content-Length and Transfer-Encoding");
  if (cl_count == 1) {
    if (!parseContentLength(*cl, out.length)) return malformed("invalid Content-Length");
    out.has_length = true;
    return out;
  }
  if (te_count == 0) return out;
  if (version_major == 1 && version_minor == 0) {
    return malformed("Transfer-Encoding in an HTTP/1.0 message");
  }
  // The codings of every Transfer-Encoding line, in order. Only a single "chunked" is
  // implemented: RFC 9112 §6.3 makes "chunked not last" a 400, §6.1 makes a coding the server
  // does not implement a 501.
  size_t codings = 0;
  size_t chunked_count = 0;
  bool empty_element = false;
  bool last_is_chunked = false;
  for (const auto& f : headers.fields()) {
    if (!equalsIgnoreCase(f.name, "transfer-encoding")) continue;
    std::string_view v = f.value;
    size_t pos = 0;
    while (pos <= v.size()) {
      size_t comma = v.find(',', pos);
      if (comma == std::string_view::npos) comma = v.size();
      std::string_view e = trimOws(v.substr(pos, comma - pos));
      if (e.empty()) {
        empty_element = true;
      } else {
        ++codings;
        last_is_chunked = equalsIgnoreCase(e, "chunked");
        if (last_is_chunked) ++chunked_count;
      }
      pos = comma + 1;
    }
  }
  if (empty_element) return malformed("empty Transfer-Encoding element");
  if (!last_is_chunked) return malformed("Transfer-Encoding does not end with chunked");
  if (chunked_count > 1) return malformed("chunked applied more than once");
  if (codings > 1) {
    return makeError(std::string(kHttp1UnsupportedCoding),
                     "Transfer-Encoding other than chunked is not supported");
  }
  out.chunked = true;
  return out;
}

bool wantsKeepAlive(const Headers& headers, uint8_t version_major, uint8_t version_minor) {
  bool close = false;
  bool keep_alive = false;
  for (const auto& f : headers.fields()) {
    if (!equalsIgnoreCase(f.name, "connection")) continue;
    forEachListElement(f.value, [&](std::string_view e) {
      if (equalsIgnoreCase(e, "close")) close = true;
      if (equalsIgnoreCase(e, "keep-alive")) keep_alive = true;
    });
  }
  if (close) return false;
  if (version_major == 1 && version_minor >= 1) return true;
  return keep_alive;
}

}  // namespace aiw
