// Headers: an ordered list of HTTP fields, codec-neutral (HTTP/1 and HTTP/2 both map onto it).
// Order and duplicates are kept as received; lookups ignore ASCII case as RFC 9110 requires.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aiw {

// The bytes of two strings of the same size, ASCII case ignored.
bool sameBytesIgnoreCase(std::string_view a, std::string_view b);
// Inline for the size check: a lookup compares the name against every field, and most differ in
// length (a call per field was 3 % of an HTTP/2 request's instructions).
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sameBytesIgnoreCase(a, b);
}

struct HeaderField {
  std::string name;
  std::string value;
};

class Headers {
 public:
  // Most messages carry a handful of fields: lists reserve this many at once (the HTTP/1 parser
  // too), one allocation instead of one per doubling.
  static constexpr size_t kTypicalFields = 16;

  void add(std::string name, std::string value) {
    if (fields_.capacity() == 0) fields_.reserve(kTypicalFields);
    fields_.push_back({std::move(name), std::move(value)});
  }
  // Replaces every field of this name with one field (appended when absent).
  void set(std::string_view name, std::string value);
  // Removes every field of this name; returns how many were removed.
  size_t remove(std::string_view name);
  // First value of this name, or nullptr.
  const std::string* find(std::string_view name) const;
  bool has(std::string_view name) const { return find(name) != nullptr; }
  size_t count(std::string_view name) const;

  const std::vector<HeaderField>& fields() const { return fields_; }
  std::vector<HeaderField>& fields() { return fields_; }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  void clear() { fields_.clear(); }

 private:
  std::vector<HeaderField> fields_;
};

}  // namespace aiw
