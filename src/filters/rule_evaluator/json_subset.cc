#include "filters/rule_evaluator/json_subset.h"

#include <algorithm>
#include <cstring>

namespace aiw {
namespace {

bool numbersEqual(const rapidjson::Value& a, const rapidjson::Value& b) {
  // Two integers compare exactly: going through double would call 2^53 and 2^53 + 1 equal.
  if (!a.IsDouble() && !b.IsDouble()) {
    if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
    if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
    return false;  // one negative, the other above INT64_MAX
  }
  return a.GetDouble() == b.GetDouble();
}

bool stringsEqual(const rapidjson::Value& a, const rapidjson::Value& b) {
  return a.GetStringLength() == b.GetStringLength() &&
         std::memcmp(a.GetString(), b.GetString(), a.GetStringLength()) == 0;
}

bool objectsEqual(const rapidjson::Value& a, const rapidjson::Value& b) {
  if (a.MemberCount() != b.MemberCount()) return false;
  if (!jsonContains(a, b)) return false;
  // Equal counts and a ⊆ b already imply b ⊆ a unless one side repeats a key; checking the
  // names of b keeps {"x":1,"x":1} from equalling {"x":1,"y":2}.
  for (auto it = b.MemberBegin(); it != b.MemberEnd(); ++it) {
    if (a.FindMember(it->name) == a.MemberEnd()) return false;
  }
  return true;
}

bool arraysEqual(const rapidjson::Value& a, const rapidjson::Value& b) {
  if (a.Size() != b.Size()) return false;
  for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
    if (!jsonEqual(a[i], b[i])) return false;
  }
  return true;
}

}  // namespace

bool jsonEqual(const rapidjson::Value& a, const rapidjson::Value& b) {
  if (a.IsNumber() && b.IsNumber()) return numbersEqual(a, b);
  if (a.IsBool() && b.IsBool()) return a.GetBool() == b.GetBool();
  if (a.GetType() != b.GetType()) return false;
  switch (a.GetType()) {
    case rapidjson::kNullType:
      return true;
    case rapidjson::kStringType:
      return stringsEqual(a, b);
    case rapidjson::kObjectType:
      return objectsEqual(a, b);
    case rapidjson::kArrayType:
      return arraysEqual(a, b);
    default:
      return false;  // numbers and booleans were handled above
  }
}

bool jsonContains(const rapidjson::Value& pattern, const rapidjson::Value& subject) {
  if (!pattern.IsObject() || !subject.IsObject()) return false;
  for (auto it = pattern.MemberBegin(); it != pattern.MemberEnd(); ++it) {
    auto found = subject.FindMember(it->name);
    if (found == subject.MemberEnd() || !jsonEqual(it->value, found->value)) return false;
  }
  return true;
}

size_t jsonDepth(const rapidjson::Value& v, size_t limit) {
  if (limit == 0) return v.IsObject() || v.IsArray() ? 1 : 0;
  size_t deepest = 0;
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      deepest = std::max(deepest, jsonDepth(it->value, limit - 1));
    }
    return deepest + 1;
  }
  if (v.IsArray()) {
    for (const auto& item : v.GetArray()) deepest = std::max(deepest, jsonDepth(item, limit - 1));
    return deepest + 1;
  }
  return 0;
}

}  // namespace aiw
