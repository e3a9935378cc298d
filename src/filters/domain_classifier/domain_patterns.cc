#include "filters/domain_classifier/domain_patterns.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace aiw {
namespace {

constexpr size_t kMaxLabelLength = 63;

bool isLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view withoutTrailingDot(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// A character as an error message shows it: itself when printable, else its code.
std::string showChar(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u > 0x20 && u < 0x7f) return quote(std::string_view(&c, 1));
  static const char* kHex = "0123456789abcdef";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 0xf];
}

Error patternError(std::string_view text, std::string_view why) {
  return makeError("pattern", "domain pattern " + quote(text) + ": " + std::string(why));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// HostLabels

HostLabels::HostLabels(std::string_view host) {
  host = withoutTrailingDot(host);
  if (host.empty() || host.size() > kMaxHostNameLength) return;
  size_t count = 1;
  size_t label_start = 0;
  starts_[0] = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    char c = lower(host[i]);
    if (c == '.') {
      if (i == label_start || i - label_start > kMaxLabelLength) return;
      label_start = i + 1;
      starts_[count++] = static_cast<uint8_t>(label_start);
    } else if (!isLabelChar(c)) {
      return;
    }
    buf_[i] = c;
  }
  if (label_start == host.size() || host.size() - label_start > kMaxLabelLength) return;
  len_ = static_cast<uint8_t>(host.size());
  count_ = static_cast<uint8_t>(count);
  valid_ = true;
}

std::string_view HostLabels::label(size_t i) const {
  size_t end = i + 1 < count_ ? starts_[i + 1] - 1u : len_;
  return {buf_ + starts_[i], end - starts_[i]};
}

std::string_view HostLabels::suffixFrom(size_t i) const {
  if (i >= count_) return {};
  return {buf_ + starts_[i], static_cast<size_t>(len_ - starts_[i])};
}

bool isIpLiteral(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  char buf[64];
  if (host.empty() || host.size() >= sizeof(buf)) return false;
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';
  unsigned char addr[16];
  bool v6 = host.find(':') != std::string_view::npos;
  return inet_pton(v6 ? AF_INET6 : AF_INET, buf, addr) == 1;
}

bool sameHostName(std::string_view a, std::string_view b) {
  a = withoutTrailingDot(a);
  b = withoutTrailingDot(b);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// DomainPattern

Result<DomainPattern> DomainPattern::parse(std::string_view text) {
  if (text.empty()) return makeError("pattern", "empty domain pattern");
  std::string_view t = withoutTrailingDot(text);
  bool suffix = !t.empty() && t.front() == '.';
  if (suffix) t.remove_prefix(1);
  if (t.empty()) return patternError(text, "names no domain");
  if (t.size() > kMaxHostNameLength) {
    return patternError(text, "longer than " + std::to_string(kMaxHostNameLength) + " characters");
  }

  DomainPattern p;
  size_t wildcards = 0;
  bool numeric_only = true;  // every label digits or '*': looks like an IP address
  for (size_t start = 0; start <= t.size();) {
    size_t dot = t.find('.', start);
    std::string_view raw = t.substr(start, dot == std::string_view::npos ? dot : dot - start);
    start = dot == std::string_view::npos ? t.size() + 1 : dot + 1;
    if (raw.empty()) return patternError(text, "empty label (two dots in a row, or a leading dot)");
    if (raw.size() > kMaxLabelLength) {
      return patternError(text, "label " + quote(raw) + " is longer than 63 characters");
    }
    if (raw.find('*') != std::string_view::npos) {
      if (raw != "*") {
        return patternError(text, "'*' must be a whole label (as in '*.example.com'), not " +
                                      ("part of " + quote(raw)));
      }
      if (suffix) {
        return patternError(text,
                            "a pattern with a leading '.' (a domain and all its "
                            "subdomains) cannot contain '*'");
      }
      ++wildcards;
      p.labels_.emplace_back("*");
      continue;
    }
    std::string label;
    label.reserve(raw.size());
    for (char c : raw) {
      char l = lower(c);
      if (!isLabelChar(l)) {
        return patternError(
            text, "invalid character " + showChar(c) + " (letters, digits, '-', '_' and '*' only)");
      }
      label += l;
    }
    if (label.front() == '-' || label.back() == '-') {
      return patternError(text, "label " + quote(raw) + " starts or ends with '-'");
    }
    numeric_only = numeric_only && allDigits(label);
    p.labels_.push_back(std::move(label));
  }

  p.literals_ = p.labels_.size() - wildcards;
  p.kind_ = suffix ? Kind::Suffix : wildcards > 0 ? Kind::Wildcard : Kind::Exact;
  if (p.literals_ == 0) {
    return patternError(text,
                        "names no domain, only '*' labels (use the classifier's "
                        "'default' for hosts no pattern names)");
  }
  if (numeric_only) {
    if (p.kind_ != Kind::Exact || !isIpLiteral(t)) {
      return patternError(text,
                          "looks like an IP address: addresses can only be written whole, "
                          "as an exact IPv4 address");
    }
  } else if (allDigits(p.labels_.back())) {
    return patternError(text, "the last label is numeric, which no domain's is");
  }
  for (const auto& label : p.labels_) {
    if (!p.text_.empty() || suffix) p.text_ += '.';
    p.text_ += label;
  }
  return p;
}

bool DomainPattern::matches(const HostLabels& host) const {
  if (!host.valid()) return false;
  switch (kind_) {
    case Kind::Exact:
      return host.name() == text_;
    case Kind::Suffix:
      return host.size() >= labels_.size() &&
             host.suffixFrom(host.size() - labels_.size()) == std::string_view(text_).substr(1);
    case Kind::Wildcard:
      if (host.size() != labels_.size()) return false;
      for (size_t i = 0; i < labels_.size(); ++i) {
        if (labels_[i] != "*" && labels_[i] != host.label(i)) return false;
      }
      return true;
  }
  return false;
}

bool DomainPattern::moreSpecific(const DomainPattern& a, const DomainPattern& b) {
  if (a.literals_ != b.literals_) return a.literals_ > b.literals_;
  if (a.kind_ != b.kind_) return a.kind_ > b.kind_;
  if (a.kind_ != Kind::Wildcard) return false;
  size_t na = a.labels_.size();
  size_t nb = b.labels_.size();
  for (size_t i = 1; i <= std::min(na, nb); ++i) {
    bool a_wild = a.labels_[na - i] == "*";
    bool b_wild = b.labels_[nb - i] == "*";
    if (a_wild != b_wild) return b_wild;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// DomainMatcher

std::string DomainMatcher::keyOf(const DomainPattern& pattern) {
  switch (pattern.kind()) {
    case DomainPattern::Kind::Exact:
      return pattern.text();
    case DomainPattern::Kind::Suffix:
      return pattern.text().substr(1);
    case DomainPattern::Kind::Wildcard:
      break;
  }
  size_t last_wild = 0;
  for (size_t i = 0; i < pattern.labelCount(); ++i) {
    if (pattern.label(i) == "*") last_wild = i;
  }
  std::string key;
  for (size_t i = last_wild + 1; i < pattern.labelCount(); ++i) {
    if (!key.empty()) key += '.';
    key += pattern.label(i);
  }
  return key;
}

uint32_t DomainMatcher::find(const DomainPattern& pattern) const {
  auto it = nodes_.find(keyOf(pattern));
  if (it == nodes_.end()) return Node::kNone;
  const Node& node = it->second;
  switch (pattern.kind()) {
    case DomainPattern::Kind::Exact:
      return node.exact;
    case DomainPattern::Kind::Suffix:
      return node.suffix;
    case DomainPattern::Kind::Wildcard:
      for (uint32_t i : node.wildcards) {
        if (entries_[i].pattern.text() == pattern.text()) return i;
      }
      return Node::kNone;
  }
  return Node::kNone;
}

std::optional<uint32_t> DomainMatcher::add(DomainPattern pattern, uint32_t value) {
  if (uint32_t existing = find(pattern); existing != Node::kNone) return entries_[existing].value;
  auto index = static_cast<uint32_t>(entries_.size());
  Node& node = nodes_[keyOf(pattern)];
  switch (pattern.kind()) {
    case DomainPattern::Kind::Exact:
      node.exact = index;
      break;
    case DomainPattern::Kind::Suffix:
      node.suffix = index;
      break;
    case DomainPattern::Kind::Wildcard:
      node.wildcards.push_back(index);
      break;
  }
  entries_.push_back(Entry{std::move(pattern), value});
  return std::nullopt;
}

void DomainMatcher::setValue(const DomainPattern& pattern, uint32_t value) {
  if (uint32_t existing = find(pattern); existing != Node::kNone) entries_[existing].value = value;
}

std::optional<DomainMatcher::Match> DomainMatcher::match(const HostLabels& host) const {
  if (!host.valid() || entries_.empty()) return std::nullopt;
  const Entry* best = nullptr;
  auto consider = [&best](const Entry& e) {
    if (best == nullptr || DomainPattern::moreSpecific(e.pattern, best->pattern)) best = &e;
  };
  const size_t n = host.size();
  // Every key a pattern matching `host` can sit under is a tail of it: the whole name (exact,
  // suffix apex, wildcards), each shorter tail (suffix, wildcards), and "" (wildcards ending
  // in '*').
  for (size_t i = 0; i <= n; ++i) {
    auto it = nodes_.find(host.suffixFrom(i));
    if (it == nodes_.end()) continue;
    const Node& node = it->second;
    if (i == 0 && node.exact != Node::kNone) {
      // An exact pattern names every label of the host: nothing can be more specific.
      const Entry& e = entries_[node.exact];
      return Match{e.value, &e.pattern};
    }
    if (node.suffix != Node::kNone) consider(entries_[node.suffix]);
    for (uint32_t w : node.wildcards) {
      const Entry& e = entries_[w];
      if (e.pattern.labelCount() == n && e.pattern.matches(host)) consider(e);
    }
  }
  if (best == nullptr) return std::nullopt;
  return Match{best->value, &best->pattern};
}

}  // namespace aiw
