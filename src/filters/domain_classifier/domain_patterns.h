// Domain patterns (SPEC.md §5): how Proxy Patterns, `ai_domains` and `chatty_domains` name hosts,
// and a matcher built once per snapshot and queried once per connection.
//
// Three kinds of pattern, compared case-insensitively, one trailing dot ignored on both sides:
//   Exact     `api.openai.com`                   that name only.
//   Wildcard  `bedrock-runtime.*.amazonaws.com`  each `*` is exactly one whole label, so the host
//                                                 has as many labels as the pattern.
//   Suffix    `.openai.com`                      `openai.com` itself and every name below it.
// An exact pattern may also be an IPv4 literal (`10.0.0.7`), for CONNECTs to an address with no
// SNI. Anything else is refused with a message naming the problem: empty labels, characters
// other than letters, digits, `-` and `_`, a label starting or ending with `-`, `*` inside a label
// (`a*b`), `*` in a suffix pattern (`.*.example.com`), a pattern made only of `*` labels, a
// numeric last label, labels over 63 or names over 253 characters.
//
// Specificity, when several patterns match one host (DomainPattern::moreSpecific):
//   1. the pattern naming more labels of the host literally wins (`*` names none; a suffix
//      pattern names all of its labels), so `.secure.corp.example.com` (4) beats
//      `*.corp.example.com` (3) for `secure.corp.example.com`;
//   2. on a tie, exact beats wildcard beats suffix (`openai.com` beats `.openai.com` for
//      `openai.com`; `bedrock-runtime.*.amazonaws.com` beats `.us-east-1.amazonaws.com`);
//   3. between two wildcard patterns still tied, the one whose first literal-vs-`*` difference,
//      reading from the right (the top-level domain), is a literal wins: `*.b.example.com`
//      beats `a.*.example.com` for `a.b.example.com`, as DNS delegates from the right.
// Two different patterns never tie past rule 3 when they match the same host: the most
// specific match is always unique (the same pattern added twice is the caller's to resolve).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"

namespace aiw {

// Longest host name handled, without its trailing dot (RFC 1035 §2.3.4).
inline constexpr size_t kMaxHostNameLength = 253;

// A host name as matching sees it: lower-cased, one trailing dot removed, split into labels.
// Lives on the stack: building one allocates nothing. A name that is not a DNS name (empty
// labels, characters other than letters, digits, '-' and '_', too long) is !valid() and
// matches no pattern.
class HostLabels {
 public:
  explicit HostLabels(std::string_view host);

  bool valid() const { return valid_; }
  // The normalized name (empty when !valid()).
  std::string_view name() const { return {buf_, len_}; }
  size_t size() const { return count_; }
  // Label i, counted from the left (0 is the leftmost).
  std::string_view label(size_t i) const;
  // Labels i..size()-1 joined by dots; "" when i == size().
  std::string_view suffixFrom(size_t i) const;

 private:
  char buf_[kMaxHostNameLength];
  uint8_t len_ = 0;
  uint8_t count_ = 0;
  bool valid_ = false;
  uint8_t starts_[(kMaxHostNameLength + 1) / 2 + 1];  // offset of each label in buf_
};

// Whether `host` is an IPv4 or IPv6 literal (IPv6 with or without brackets).
bool isIpLiteral(std::string_view host);

// Whether two host names are the same name: ASCII case-insensitive, one trailing dot ignored.
bool sameHostName(std::string_view a, std::string_view b);

class DomainPattern {
 public:
  enum class Kind : uint8_t { Suffix, Wildcard, Exact };  // ascending specificity on a tie

  // Validates and normalizes `text`; Error{"pattern", why} (no file or line: callers locate it).
  static Result<DomainPattern> parse(std::string_view text);

  Kind kind() const { return kind_; }
  // Normalized spelling: lower-case, no trailing dot, suffix patterns keep their leading dot.
  // Two patterns are the same pattern exactly when their text() is equal.
  const std::string& text() const { return text_; }
  size_t labelCount() const { return labels_.size(); }
  // Labels the pattern names literally (all but the `*` ones).
  size_t literalCount() const { return literals_; }
  // Label i from the left, without the suffix dot; "*" for a wildcard label.
  const std::string& label(size_t i) const { return labels_[i]; }

  bool matches(std::string_view host) const { return matches(HostLabels(host)); }
  bool matches(const HostLabels& host) const;

  // Whether `a` is more specific than `b` (rules in the file comment). Meaningful for two
  // patterns that match the same host; false when they are the same pattern.
  static bool moreSpecific(const DomainPattern& a, const DomainPattern& b);

 private:
  DomainPattern() = default;

  Kind kind_ = Kind::Exact;
  std::string text_;
  std::vector<std::string> labels_;
  size_t literals_ = 0;
};

// A set of patterns, each with a caller's value, answering "which pattern matches this host
// most specifically". Built once (add), then only read: match() is const, allocation-free and
// safe from any number of threads. Cost per match: one hash lookup per label of the host (plus
// one), and a label comparison per wildcard pattern of the right length sharing the host's tail.
class DomainMatcher {
 public:
  struct Match {
    uint32_t value;
    const DomainPattern* pattern;  // owned by the matcher; stable across later add()s
  };

  // Adds `pattern` with `value`. If the same pattern is already in the set, nothing changes and
  // the value stored with it is returned, for the caller to decide about the conflict.
  std::optional<uint32_t> add(DomainPattern pattern, uint32_t value);
  // Replaces the value of a pattern already added (the one add() reported).
  void setValue(const DomainPattern& pattern, uint32_t value);

  std::optional<Match> match(std::string_view host) const { return match(HostLabels(host)); }
  std::optional<Match> match(const HostLabels& host) const;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    DomainPattern pattern;
    uint32_t value;
  };
  // Everything keyed by one label sequence ("openai.com"): the exact pattern of that name, the
  // suffix pattern of that domain, and the wildcard patterns whose labels right of their last
  // `*` are that sequence (key "" for patterns ending in `*`).
  struct Node {
    static constexpr uint32_t kNone = UINT32_MAX;
    uint32_t exact = kNone;  // index into entries_
    uint32_t suffix = kNone;
    std::vector<uint32_t> wildcards;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  static std::string keyOf(const DomainPattern& pattern);
  // Index of `pattern` in entries_, or Node::kNone.
  uint32_t find(const DomainPattern& pattern) const;

  std::deque<Entry> entries_;  // a deque: Match::pattern pointers survive later add()s
  std::unordered_map<std::string, Node, Hash, std::equal_to<>> nodes_;
};

}  // namespace aiw
