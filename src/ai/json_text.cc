#include "ai/json_text.h"

#include <rapidjson/error/en.h>
#include <string.h>  // memrchr (GNU)

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

Error badJsonError(std::string_view what, rapidjson::ParseErrorCode code, size_t offset) {
  std::string message(what);
  message += " is not valid JSON at offset ";
  message += std::to_string(offset);
  message += ": ";
  message += rapidjson::GetParseError_En(code);
  return makeError("bad_json", std::move(message));
}

}  // namespace aiw::ai
