#include "core/headers.h"

#include <algorithm>

namespace aiw {

namespace {
char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
}  // namespace

bool sameBytesIgnoreCase(std::string_view a, std::string_view b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

void Headers::set(std::string_view name, std::string value) {
  auto it = std::find_if(fields_.begin(), fields_.end(),
                         [&](const HeaderField& f) { return equalsIgnoreCase(f.name, name); });
  if (it == fields_.end()) {
    fields_.push_back({std::string(name), std::move(value)});
    return;
  }
  it->value = std::move(value);
  ++it;
  fields_.erase(std::remove_if(it, fields_.end(),
                               [&](const HeaderField& f) { return equalsIgnoreCase(f.name, name); }),
                fields_.end());
}

size_t Headers::remove(std::string_view name) {
  auto before = fields_.size();
  fields_.erase(std::remove_if(fields_.begin(), fields_.end(),
                               [&](const HeaderField& f) { return equalsIgnoreCase(f.name, name); }),
                fields_.end());
  return before - fields_.size();
}

const std::string* Headers::find(std::string_view name) const {
  for (const auto& f : fields_) {
    if (equalsIgnoreCase(f.name, name)) return &f.value;
  }
  return nullptr;
}

size_t Headers::count(std::string_view name) const {
  return static_cast<size_t>(std::count_if(
      fields_.begin(), fields_.end(), [&](const HeaderField& f) { return equalsIgnoreCase(f.name, name); }));
}

}  // namespace aiw
