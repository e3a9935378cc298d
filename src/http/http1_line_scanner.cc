#include "http/http1_line_scanner.h"

#include <cstring>

namespace aiw {

const char* Http1LineScanner::scan(const char* b, const char* e, Section section) {
  for (const char* p = b; p < e; ++p) {
    // Fast path through the middle of a line (most bytes): jump to the next CR with memchr, then
    // make sure no LF hides before it. Only line starts and the request line need the
    // byte-by-byte rules below.
    if (!prev_cr_ && !at_line_start_ && (start_line_done_ || !request_)) {
      const char* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(e - p)));
      const char* stop = cr != nullptr ? cr : e;
      // A bare LF ends the run: the bytes before it count toward the line first, as they do one
      // byte at a time, so the verdict does not depend on how the input was split into reads.
      const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(stop - p)));
      if (lf != nullptr) {
        if (line_len_ + static_cast<size_t>(lf - p) > max_line_ && section == Section::Body) {
          return "chunk line too long";
        }
        return "LF without CR";
      }
      size_t run = static_cast<size_t>(stop - p);
      if (run > 0) {
        line_has_content_ = true;
        line_len_ += run;
        if (line_len_ > max_line_ && section == Section::Body) return "chunk line too long";
      }
      p = stop;
      if (p == e) break;
    }
    char c = *p;
    if (prev_cr_) {
      if (c != '\n') return "CR not followed by LF";
      prev_cr_ = false;
      at_line_start_ = true;
      if (line_has_content_) start_line_done_ = true;  // empty lines before it do not count
      line_has_content_ = false;
      line_len_ = 0;
      continue;
    }
    if (c == '\r') {
      prev_cr_ = true;
      continue;
    }
    if (c == '\n') return "LF without CR";
    if (at_line_start_ && start_line_done_ && section != Section::Body && (c == ' ' || c == '\t')) {
      return "obsolete line folding (obs-fold)";
    }
    at_line_start_ = false;
    line_has_content_ = true;
    if (!start_line_done_ && request_) {
      if (c == ' ' && prev_space_) return "more than one space in the request line";
      prev_space_ = c == ' ';
    }
    if (++line_len_ > max_line_ && section == Section::Body) return "chunk line too long";
  }
  return nullptr;
}

const char* Http1LineScanner::beforeBody() {
  if (prev_cr_) return "CR not followed by LF";
  at_line_start_ = false;
  line_len_ = 0;
  return nullptr;
}

void Http1LineScanner::reset() {
  prev_cr_ = false;
  at_line_start_ = false;
  line_has_content_ = false;
  start_line_done_ = false;
  prev_space_ = false;
  line_len_ = 0;
}

}  // namespace aiw
