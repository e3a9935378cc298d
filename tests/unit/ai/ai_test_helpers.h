// Checks shared by the ai tests: bodies must stay JSON, and every TextField must locate the
// exact string token it was decoded from.
#pragma once

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "ai/request_facts.h"

namespace aiw::ai::testing {

inline bool isValidJson(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  return !doc.HasParseError();
}

// The decoded value of a JSON string token, or a marker when it is not one.
inline std::string decodeToken(std::string_view token) {
  rapidjson::Document doc;
  doc.Parse(token.data(), token.size());
  if (doc.HasParseError() || !doc.IsString())
    return "<not a JSON string: " + std::string(token) + ">";
  return std::string(doc.GetString(), doc.GetStringLength());
}

inline void checkOffsetsRoundTrip(std::string_view body, const RequestFacts& facts) {
  for (const TextField& text : facts.texts) {
    INFO("field " << text.field);
    REQUIRE(text.raw_begin < text.raw_end);
    REQUIRE(text.raw_end <= body.size());
    CHECK(decodeToken(body.substr(text.raw_begin, text.raw_end - text.raw_begin)) == text.text);
  }
}

inline const TextField* findText(const RequestFacts& facts, std::string_view field) {
  for (const TextField& text : facts.texts) {
    if (text.field == field) return &text;
  }
  return nullptr;
}

inline std::string textOf(const RequestFacts& facts, std::string_view field) {
  const TextField* text = findText(facts, field);
  return text == nullptr ? "<no field " + std::string(field) + ">" : text->text;
}

}  // namespace aiw::ai::testing
