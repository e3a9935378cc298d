// applyTextEdits: redactions splice only the string tokens they touch, so everything else
// reaches the upstream byte for byte.
#include <algorithm>
#include <span>
#include <utility>

#include "ai/request_facts.h"
#include "core/log.h"

namespace aiw::ai {

namespace {

bool isUtf8Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// A range that cuts a UTF-8 sequence would leave half a character in the body: widen it to
// whole characters.
void widenToCharacters(std::string_view text, size_t& begin, size_t& end) {
  while (begin > 0 && begin < text.size() && isUtf8Continuation(text[begin])) --begin;
  while (end < text.size() && isUtf8Continuation(text[end])) ++end;
}

// One string token of the body and its new JSON form.
struct TokenRewrite {
  size_t raw_begin = 0;
  size_t raw_end = 0;
  std::string token;
};

// The decoded text of a field with its edits applied (edits sorted by begin). Overlapping
// edits collapse into their union, which takes the first edit's replacement.
std::string editedText(std::string_view text, std::span<const TextEdit> edits) {
  std::string out;
  out.reserve(text.size() + 64);
  size_t cursor = 0;
  size_t i = 0;
  while (i < edits.size()) {
    const TextEdit& first = edits[i];
    size_t end = first.end;
    for (++i; i < edits.size() && edits[i].begin < end; ++i) end = std::max(end, edits[i].end);
    out.append(text.substr(cursor, first.begin - cursor));
    out += first.replacement;
    cursor = end;
  }
  out.append(text.substr(cursor));
  return out;
}

}  // namespace

Result<std::string> applyTextEdits(std::string_view body, const RequestFacts& facts,
                                   std::vector<TextEdit> edits) {
  for (TextEdit& edit : edits) {
    if (edit.field_index >= facts.texts.size()) {
      return makeError("bad_edit", "edit of text " + std::to_string(edit.field_index) +
                                       " but only " + std::to_string(facts.texts.size()) +
                                       " texts");
    }
    const TextField& field = facts.texts[edit.field_index];
    if (edit.begin > edit.end || edit.end > field.text.size()) {
      return makeError("bad_edit", "edit range outside the text of " + field.field);
    }
    if (field.raw_begin + 2 > field.raw_end || field.raw_end > body.size() ||
        body[field.raw_begin] != '"' || body[field.raw_end - 1] != '"') {
      return makeError("bad_edit", field.field + " does not locate a string in this body");
    }
    widenToCharacters(field.text, edit.begin, edit.end);
  }
  std::stable_sort(edits.begin(), edits.end(), [](const TextEdit& a, const TextEdit& b) {
    return a.field_index != b.field_index ? a.field_index < b.field_index : a.begin < b.begin;
  });

  std::vector<TokenRewrite> rewrites;
  for (size_t i = 0; i < edits.size();) {
    size_t group_end = i;
    while (group_end < edits.size() && edits[group_end].field_index == edits[i].field_index) {
      ++group_end;
    }
    const TextField& field = facts.texts[edits[i].field_index];
    TokenRewrite& rewrite = rewrites.emplace_back();
    rewrite.raw_begin = field.raw_begin;
    rewrite.raw_end = field.raw_end;
    rewrite.token = "\"";
    appendJsonEscaped(rewrite.token,
                      editedText(field.text, std::span(edits).subspan(i, group_end - i)));
    rewrite.token += '"';
    i = group_end;
  }
  std::sort(rewrites.begin(), rewrites.end(),
            [](const TokenRewrite& a, const TokenRewrite& b) { return a.raw_begin < b.raw_begin; });

  std::string out;
  out.reserve(body.size() + 64 * rewrites.size());
  size_t cursor = 0;
  for (const TokenRewrite& rewrite : rewrites) {
    if (rewrite.raw_begin < cursor) return makeError("bad_edit", "two texts share body bytes");
    out.append(body.substr(cursor, rewrite.raw_begin - cursor));
    out += rewrite.token;
    cursor = rewrite.raw_end;
  }
  out.append(body.substr(cursor));
  return out;
}

}  // namespace aiw::ai
