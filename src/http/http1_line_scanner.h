// Http1LineScanner: the line discipline of HTTP/1 framing bytes, checked where llhttp 8.1 is
// lenient. llhttp accepts a bare LF after the request/status line and as the empty line that
// ends a head or trailer section, folds obs-fold continuation lines into the value, and — after
// a chunk extension — takes any byte following a CR as its LF. This scanner closes those gaps:
// every CR is followed by LF, every LF is preceded by CR, no line after the start line begins with
// whitespace, and the request line has single spaces.
//
// It sees every byte that is not body content (heads, chunk lines, trailer sections), in order,
// across reads; body content is skipped with beforeBody(). Its cost is bounded by the framing,
// not by the body.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aiw {

class Http1LineScanner {
 public:
  enum class Section : uint8_t { Head, Body, Trailers };

  // `request`: the start line is a request line (single spaces enforced). `max_line`: longest
  // chunk line accepted in the body section (heads are bounded by the parser).
  Http1LineScanner(bool request, size_t max_line) : request_(request), max_line_(max_line) {}

  // Scans [b, e), which belongs to `section`. Returns nullptr, or a message naming the first
  // problem (a static string).
  const char* scan(const char* b, const char* e, Section section);
  // Body content follows the bytes scanned so far. Returns a message when a CR there is left
  // without its LF (the content would have been taken as the LF), else nullptr.
  const char* beforeBody();
  // A new message starts: forget the line state.
  void reset();

 private:
  const bool request_;
  const size_t max_line_;
  bool prev_cr_ = false;
  bool at_line_start_ = false;
  bool line_has_content_ = false;
  bool start_line_done_ = false;
  bool prev_space_ = false;
  size_t line_len_ = 0;
};

}  // namespace aiw
