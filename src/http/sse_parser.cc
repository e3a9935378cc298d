#include "http/sse_parser.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace aiw {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// `limit` when `c` is absent: callers take the nearer of the next CR and the next LF.
const char* findOr(const char* begin, const char* limit, char c) {
  const void* p = std::memchr(begin, c, static_cast<size_t>(limit - begin));
  return p != nullptr ? static_cast<const char*>(p) : limit;
}

// WHATWG: "If the field value consists of only ASCII digits". An empty value is not a number
// (browsers ignore it too); a value beyond uint32_t is ignored rather than clamped, as Chromium
// does, since no meaningful reconnection delay is that large.
std::optional<uint32_t> parseRetry(std::string_view v) {
  if (v.empty()) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
    if (n > UINT32_MAX) return std::nullopt;
  }
  return static_cast<uint32_t>(n);
}

}  // namespace

SseParser::SseParser(EventFn on_event, CommentFn on_comment, size_t max_event_bytes)
    : on_event_(std::move(on_event)),
      on_comment_(std::move(on_comment)),
      max_event_bytes_(max_event_bytes) {
  // The event type buffer starts empty (meaning "message"); dispatch() fills in the default, so
  // that an `event:` with an empty value also falls back to it.
  pending_.type.clear();
}

Result<void> SseParser::feed(std::string_view bytes) {
  if (error_) return *error_;
  const char* cur = bytes.data();
  const char* const end = cur + bytes.size();

  // The BOM may itself arrive split: buffer its prefix in line_. Those bytes are never CR or LF,
  // so when they turn out not to be a BOM they simply stay as the start of the first line.
  if (!bom_checked_) {
    while (cur < end && line_.size() < kBom.size() && *cur == kBom[line_.size()]) {
      line_.push_back(*cur++);
    }
    if (line_.size() == kBom.size()) {
      line_.clear();
      bom_checked_ = true;
    } else if (cur < end) {
      bom_checked_ = true;  // a byte differed from the BOM
    } else {
      return {};  // still a BOM prefix: wait for more
    }
  }

  if (after_cr_ && cur < end) {
    if (*cur == '\n') ++cur;  // the LF of a CRLF split between two feeds
    after_cr_ = false;
  }

  // The next CR and LF are found with memchr (vectorised) and cached until passed, so a buffer
  // of many short lines, or a CR-only stream, is still scanned in linear time.
  if (cur == end) return {};
  const char* next_lf = findOr(cur, end, '\n');
  const char* next_cr = findOr(cur, end, '\r');
  while (true) {
    const char* eol = std::min(next_lf, next_cr);
    if (eol == end) {
      if (line_.size() + static_cast<size_t>(end - cur) > max_event_bytes_) {
        fail("line");
        return *error_;
      }
      line_.append(cur, end);
      break;
    }
    if (!consumeLine(cur, eol)) return *error_;
    cur = eol + 1;
    if (*eol == '\r') {
      if (cur == end) {
        after_cr_ = true;
      } else if (*cur == '\n') {
        ++cur;
      }
    }
    if (cur == end) break;
    if (next_lf < cur) next_lf = findOr(cur, end, '\n');
    if (next_cr < cur) next_cr = findOr(cur, end, '\r');
  }
  return {};
}

bool SseParser::consumeLine(const char* begin, const char* end) {
  size_t len = static_cast<size_t>(end - begin);
  if (line_.size() + len > max_event_bytes_) return fail("line");
  if (line_.empty()) return processLine(std::string_view(begin, len));  // no copy: the usual case
  line_.append(begin, len);
  bool ok = processLine(line_);
  line_.clear();
  return ok;
}

bool SseParser::processLine(std::string_view line) {
  if (line.empty()) {
    dispatch();
    return true;
  }
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (colon == 0) {
    if (on_comment_) on_comment_(value);
    return true;
  }

  if (field == "data") {
    size_t grow = value.size() + (has_data_ ? 1 : 0);
    if (pendingBytes() + grow > max_event_bytes_) return fail("event");
    if (has_data_) pending_.data.push_back('\n');
    pending_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    if (pendingBytes() - pending_.type.size() + value.size() > max_event_bytes_) {
      return fail("event");
    }
    pending_.type.assign(value);
  } else if (field == "id") {
    if (value.find('\0') != std::string_view::npos) return true;  // WHATWG: ignore the field
    if (pendingBytes() - pending_.id.size() + value.size() > max_event_bytes_) {
      return fail("event");
    }
    pending_.id.assign(value);
    pending_.has_id = true;
  } else if (field == "retry") {
    if (auto ms = parseRetry(value)) pending_.retry = ms;
  }
  // Any other field name is ignored, as the spec says.
  return true;
}

void SseParser::dispatch() {
  if (has_data_) {
    // An empty type buffer means the default; "message" fits the small-string buffer, so this
    // does not allocate per event.
    if (pending_.type.empty()) pending_.type = "message";
    ++events_;
    if (on_event_) on_event_(pending_);
  }
  // Both dispatched and data-less blocks reset the buffers; the last event ID persists. clear()
  // keeps the capacity, so a stream of small events reuses one data buffer.
  pending_.data.clear();
  pending_.type.clear();
  pending_.has_id = false;
  pending_.retry.reset();
  has_data_ = false;
}

bool SseParser::fail(const char* what) {
  error_ = makeError("sse_too_large", std::string("SSE ") + what + " larger than " +
                                          std::to_string(max_event_bytes_) + " bytes");
  return false;
}

bool SseParser::finish() {
  if (error_) return true;  // bytes were lost: the stream was not parsed to its end
  bool incomplete = has_data_ || !pending_.type.empty() || pending_.has_id ||
                    pending_.retry.has_value() || !line_.empty();
  // WHATWG: at the end of the stream, pending data is discarded. The last event ID persists.
  line_.clear();
  pending_.data.clear();
  pending_.type.clear();
  pending_.has_id = false;
  pending_.retry.reset();
  has_data_ = false;
  after_cr_ = false;
  return incomplete;
}

}  // namespace aiw
