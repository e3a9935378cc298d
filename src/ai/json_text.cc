#include "ai/json_text.h"

#include <rapidjson/error/en.h>
#include <string.h>  // memrchr (GNU)

#include <cstring>

namespace aiw::ai {

size_t stringTokenBegin(std::string_view body, size_t token_end) {
  if (token_end < 2 || token_end > body.size()) return 0;
  // Skip the closing quote; inside the token every '"' is preceded by an odd run of
  // backslashes, and the opening quote by none (it follows ':', ',', '[' or whitespace).
  // memrchr jumps over long texts without quotes in a few vector steps.
  size_t limit = token_end - 1;
  while (limit > 0) {
    const void* found = memrchr(body.data(), '"', limit);
    if (found == nullptr) break;
    const size_t quote = static_cast<size_t>(static_cast<const char*>(found) - body.data());
    size_t slashes = 0;
    while (slashes < quote && body[quote - 1 - slashes] == '\\') ++slashes;
    if (slashes % 2 == 0) return quote;
    limit = quote;
  }
  return 0;
}

size_t stringTokenEnd(std::string_view body, size_t content_begin, size_t decoded_size) {
  size_t from = content_begin + decoded_size;
  while (from < body.size()) {
    const void* found = memchr(body.data() + from, '"', body.size() - from);
    if (found == nullptr) break;
    const size_t quote = static_cast<size_t>(static_cast<const char*>(found) - body.data());
    size_t slashes = 0;
    while (quote - slashes > content_begin && body[quote - 1 - slashes] == '\\') ++slashes;
    if (slashes % 2 == 0) return quote + 1;
    from = quote + 1;
  }
  return body.size();  // unreachable for a token RapidJSON accepted
}

InsituCopy::InsituCopy(std::string_view body) {
  // Room for the terminating NUL, rounded up to a 16-byte block, plus one block: an aligned
  // 16-byte load touching the terminator (wherever the allocation starts) stays inside.
  const size_t size = ((body.size() + 1 + 15) & ~size_t{15}) + 16;
  data_.reset(new char[size]);
  if (!body.empty()) std::memcpy(data_.get(), body.data(), body.size());
  std::memset(data_.get() + body.size(), 0, size - body.size());
}

Error badJsonError(std::string_view what, rapidjson::ParseErrorCode code, size_t offset) {
  std::string message(what);
  message += " is not valid JSON at offset ";
  message += std::to_string(offset);
  message += ": ";
  message += rapidjson::GetParseError_En(code);
  return makeError("bad_json", std::move(message));
}

}  // namespace aiw::ai
