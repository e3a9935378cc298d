#include "filters/pattern_matcher/regex_shape.h"

#include <algorithm>
#include <cctype>

namespace aiw::regex_shape {
namespace {

bool isFlagChar(char c) {
  return c == 'i' || c == 'm' || c == 's' || c == 'x' || c == 'U' || c == '-';
}

// The length of a leading "(?flags)" group (0 when there is none).
size_t leadingFlagGroup(std::string_view re) {
  if (re.size() < 4 || re[0] != '(' || re[1] != '?') return 0;
  size_t i = 2;
  while (i < re.size() && isFlagChar(re[i])) ++i;
  return (i > 2 && i < re.size() && re[i] == ')') ? i + 1 : 0;
}

// Skips a bracketed class starting at re[i] == '['; returns the index after its ']' or npos.
size_t skipClass(std::string_view re, size_t i) {
  ++i;
  if (i < re.size() && re[i] == '^') ++i;
  if (i < re.size() && re[i] == ']') ++i;  // a leading ']' is a member
  while (i < re.size()) {
    char c = re[i];
    if (c == '\\') {
      i += 2;
    } else if (c == '[' && i + 1 < re.size() && re[i + 1] == ':') {
      size_t end = re.find(":]", i + 2);
      if (end == std::string_view::npos) return std::string_view::npos;
      i = end + 2;
    } else if (c == ']') {
      return i + 1;
    } else {
      ++i;
    }
  }
  return std::string_view::npos;
}

bool isLower(unsigned c) { return c >= 'a' && c <= 'z'; }
bool isAlpha(unsigned c) { return isLower(c) || (c >= 'A' && c <= 'Z'); }

// What a construct tells about its matches.
struct Shape {
  size_t literal = 0;     // longest run of literal bytes every match contains
  size_t digits = 0;      // how many ASCII digits every match contains
  bool lower = false;     // a match may start with a lowercase ASCII letter
  bool nullable = false;  // it may match nothing (then what follows decides the first byte)
};

// A recursive-descent reading of the PCRE subset Hyperscan takes. `bad_` is set by anything not
// modelled (\Q, back-references, lookarounds, (?x) spacing); the answer is then the safe one.
class ShapeScan {
 public:
  ShapeScan(std::string_view re, bool caseless) : re_(re), caseless_(caseless) {}

  Shape run() {
    Shape s = alternation();
    if (bad_ || i_ != re_.size()) return Shape{0, 0, true, false};
    return s;
  }

 private:
  enum class Kind { Literal, Group, Other };
  struct Atom {
    Kind kind = Kind::Other;
    Shape shape;  // for a group: its inside; else literal stays 0 and digits is 0 or 1
  };

  // Alternatives: only what all require is required; any may come first.
  Shape alternation() {
    Shape all = sequence();
    while (!bad_ && i_ < re_.size() && re_[i_] == '|') {
      ++i_;
      Shape next = sequence();
      all.literal = std::min(all.literal, next.literal);
      all.digits = std::min(all.digits, next.digits);
      all.lower = all.lower || next.lower;
      all.nullable = all.nullable || next.nullable;
    }
    return all;
  }

  // A concatenation: the longest run of required literals (or the best inside a required group;
  // anything but a plain literal ends a run), and its first byte from its leading atoms.
  Shape sequence() {
    Shape seq;
    seq.nullable = true;
    size_t runlen = 0;
    while (!bad_ && i_ < re_.size() && re_[i_] != '|' && re_[i_] != ')') {
      Atom a = atom();
      if (bad_) return seq;
      size_t min_repeat = 1;
      bool quantified = quantifier(min_repeat);
      if (seq.nullable) seq.lower = seq.lower || a.shape.lower;
      seq.nullable = seq.nullable && (a.shape.nullable || min_repeat == 0);
      seq.digits += a.shape.digits * min_repeat;
      if (a.kind == Kind::Literal && min_repeat > 0) {
        seq.literal = std::max(seq.literal, ++runlen);
        if (quantified) runlen = 0;  // "ab+c": "ab" is contiguous, then any number of b
      } else {
        if (a.kind == Kind::Group && min_repeat > 0) {
          seq.literal = std::max(seq.literal, a.shape.literal);
        }
        runlen = 0;
      }
    }
    return seq;
  }

  Atom literal(unsigned c) {
    Atom a;
    a.kind = Kind::Literal;
    a.shape.lower = isLower(c) || (caseless_ && isAlpha(c));
    a.shape.digits = (c >= '0' && c <= '9') ? 1 : 0;
    return a;
  }
  Atom digit() {
    Atom a;
    a.shape.digits = 1;
    return a;
  }
  Atom other(bool lower, bool zero_width = false) {
    Atom a;
    a.shape.lower = lower;
    a.shape.nullable = zero_width;
    return a;
  }

  Atom atom() {
    char c = re_[i_];
    if (c == '(') return group();
    if (c == '[') return bracket();
    if (c == '\\') return escape();
    ++i_;
    if (c == '.') return other(true);
    if (c == '^' || c == '$') return other(false, true);
    if (c == '*' || c == '+' || c == '?') bad_ = true;  // nothing to repeat
    return literal(static_cast<unsigned char>(c));      // '{' not starting a repeat is literal
  }

  // A bracketed class: whether it may match a lowercase letter (a negated one: assume so).
  Atom bracket() {
    size_t end = skipClass(re_, i_);
    if (end == std::string_view::npos) {
      bad_ = true;
      return other(true);
    }
    std::string_view body = re_.substr(i_ + 1, end - i_ - 2);
    i_ = end;
    if (!body.empty() && body[0] == '^') return other(true);
    bool lower = false;
    bool only_digits = !body.empty();
    for (size_t k = 0; k < body.size(); ++k) {
      unsigned lo = static_cast<unsigned char>(body[k]);
      if (body[k] == '[') return other(true);  // a POSIX class
      if (body[k] == '\\' && k + 1 < body.size()) {
        char e = body[++k];
        if (e == 'd') continue;
        only_digits = false;
        if (e == 's' || e == 'h' || e == 'v' || e == 'n' || e == 'r' || e == 't') continue;
        if (std::isalpha(static_cast<unsigned char>(e))) return other(true);  // \w, \x.., ...
        lo = static_cast<unsigned char>(e);
      }
      unsigned hi = lo;
      if (k + 2 < body.size() && body[k + 1] == '-' && body[k + 2] != '\\') {
        hi = static_cast<unsigned char>(body[k + 2]);
        k += 2;
      }
      bool overlaps_lower = lo <= 'z' && hi >= 'a';
      bool overlaps_upper = lo <= 'Z' && hi >= 'A';
      lower = lower || overlaps_lower || (caseless_ && overlaps_upper);
      only_digits = only_digits && lo >= '0' && hi <= '9';
    }
    if (only_digits) return digit();
    return other(lower);
  }

  Atom escape() {
    if (i_ + 1 >= re_.size()) {
      bad_ = true;
      return other(true);
    }
    char e = re_[i_ + 1];
    i_ += 2;
    switch (e) {
      case 'd':
        return digit();
      case 's':
      case 'h':
      case 'v':
      case 'R':
        return other(false);
      case 'D':
      case 'w':
      case 'W':
      case 'S':
      case 'H':
      case 'V':
      case 'N':
      case 'C':
      case 'X':
        return other(true);
      case 'b':
      case 'B':
      case 'A':
      case 'z':
      case 'Z':
      case 'G':  // assertions
        return other(false, true);
      case 'p':
      case 'P':
        if (i_ < re_.size() && re_[i_] == '{') {
          size_t end = re_.find('}', i_);
          if (end == std::string_view::npos) bad_ = true;
          i_ = end + 1;
        } else {
          ++i_;
        }
        return other(true);
      case 'x': {
        unsigned value = 0;
        if (i_ < re_.size() && re_[i_] == '{') {
          size_t end = re_.find('}', i_);
          if (end == std::string_view::npos) bad_ = true;
          i_ = end + 1;
          return literal('a');  // not worth decoding: assume a letter
        }
        for (int k = 0;
             k < 2 && i_ < re_.size() && std::isxdigit(static_cast<unsigned char>(re_[i_]));
             ++k, ++i_) {
          unsigned char h = static_cast<unsigned char>(std::tolower(re_[i_]));
          value = value * 16 + (std::isdigit(h) ? h - '0' : h - 'a' + 10u);
        }
        return literal(value);
      }
      case 'c':
        ++i_;
        return literal(0);
      case 'Q':
      case 'E':
      case 'k':
      case 'g':
      case 'K':
        bad_ = true;
        return other(true);
      default:
        if (e >= '1' && e <= '9') {  // a back-reference (Hyperscan refuses them anyway)
          bad_ = true;
          return other(true);
        }
        while (e >= '0' && e <= '7' && i_ < re_.size() && re_[i_] >= '0' && re_[i_] <= '7') ++i_;
        if (e == 'n' || e == 'r' || e == 't' || e == 'f' || e == 'e' || e == 'a' || e == '0') {
          return literal(0);
        }
        return literal(static_cast<unsigned char>(e));  // \., \-, \| and the like
    }
  }

  Atom group() {
    ++i_;  // '('
    const bool outer_caseless = caseless_;
    if (i_ < re_.size() && re_[i_] == '?') {
      ++i_;
      if (i_ >= re_.size()) {
        bad_ = true;
        return other(true);
      }
      char c = re_[i_];
      if (c == '#') {  // a comment
        size_t end = re_.find(')', i_);
        if (end == std::string_view::npos) bad_ = true;
        i_ = end + 1;
        return other(false, true);
      }
      if (c == ':') {
        ++i_;
      } else if (c == 'P' ||
                 (c == '<' && i_ + 1 < re_.size() && re_[i_ + 1] != '=' && re_[i_ + 1] != '!')) {
        size_t end = re_.find('>', i_);
        if (end == std::string_view::npos) bad_ = true;
        i_ = end + 1;
      } else if (isFlagChar(c)) {
        size_t j = i_;
        while (j < re_.size() && isFlagChar(re_[j])) ++j;
        std::string_view flags = re_.substr(i_, j - i_);
        if (flags.find('x') != std::string_view::npos || j >= re_.size() ||
            (re_[j] != ')' && re_[j] != ':')) {
          bad_ = true;
          return other(true);
        }
        // Case-insensitivity switched on anywhere is assumed from there on (never narrower).
        if (flags.substr(0, flags.find('-')).find('i') != std::string_view::npos) {
          caseless_ = true;
        }
        i_ = j + 1;
        if (re_[j] == ')') return other(false, true);  // flags for the rest: zero-width
      } else {                                         // lookarounds, atomic groups, conditionals
        bad_ = true;
        return other(true);
      }
    }
    Atom a;
    a.kind = Kind::Group;
    a.shape = alternation();
    caseless_ = caseless_ || outer_caseless;
    if (bad_ || i_ >= re_.size() || re_[i_] != ')') {
      bad_ = true;
      return other(true);
    }
    ++i_;
    return a;
  }

  // Reads a quantifier after an atom, if any; `min` is its lower bound. True when there was one.
  bool quantifier(size_t& min) {
    if (i_ >= re_.size()) return false;
    char c = re_[i_];
    bool found = false;
    if (c == '*' || c == '?') {
      min = 0;
      ++i_;
      found = true;
    } else if (c == '+') {
      min = 1;
      ++i_;
      found = true;
    } else if (c == '{') {
      size_t j = i_ + 1, n = 0;
      bool digits = false;
      while (j < re_.size() && std::isdigit(static_cast<unsigned char>(re_[j]))) {
        n = std::min<size_t>(n * 10 + static_cast<size_t>(re_[j] - '0'), 100000);
        ++j;
        digits = true;
      }
      if (j < re_.size() && re_[j] == ',') {
        ++j;
        while (j < re_.size() && std::isdigit(static_cast<unsigned char>(re_[j]))) ++j;
      }
      if (digits && j < re_.size() && re_[j] == '}') {
        min = n;
        i_ = j + 1;
        found = true;
      }
    }
    if (found && i_ < re_.size() && (re_[i_] == '?' || re_[i_] == '+')) ++i_;  // lazy, possessive
    return found;
  }

  std::string_view re_;
  bool caseless_;
  size_t i_ = 0;
  bool bad_ = false;
};

}  // namespace

std::vector<std::string> topLevelBranches(std::string_view regex) {
  const size_t flags_len = leadingFlagGroup(regex);
  const std::string_view flags = regex.substr(0, flags_len);
  if (flags.find('x') != std::string_view::npos) return {std::string(regex)};
  std::vector<std::string> branches;
  size_t depth = 0, start = flags_len, i = flags_len;
  while (i < regex.size()) {
    char c = regex[i];
    if (c == '\\') {
      if (i + 1 < regex.size() && (regex[i + 1] == 'Q' || regex[i + 1] == 'E')) {
        return {std::string(regex)};
      }
      i += 2;
    } else if (c == '[') {
      i = skipClass(regex, i);
      if (i == std::string_view::npos) return {std::string(regex)};
    } else if (c == '(') {
      // A flag group at the top level changes the branches after it: not separable.
      if (depth == 0 && leadingFlagGroup(regex.substr(i)) > 0) return {std::string(regex)};
      if (regex.substr(i, 3) == "(?#") return {std::string(regex)};
      ++depth;
      ++i;
    } else if (c == ')') {
      if (depth == 0) return {std::string(regex)};
      --depth;
      ++i;
    } else if (c == '|' && depth == 0) {
      branches.emplace_back(std::string(flags) + std::string(regex.substr(start, i - start)));
      start = ++i;
    } else {
      ++i;
    }
  }
  if (depth != 0 || branches.empty()) return {std::string(regex)};
  branches.emplace_back(std::string(flags) + std::string(regex.substr(start)));
  for (const std::string& b : branches) {
    if (b.size() == flags_len) return {std::string(regex)};  // an empty branch: leave it whole
  }
  return branches;
}

size_t requiredLiteralLength(std::string_view regex) {
  return ShapeScan(regex, false).run().literal;
}

bool mayStartWithLowercase(std::string_view regex, bool caseless) {
  return ShapeScan(regex, caseless).run().lower;
}

size_t requiredDigits(std::string_view regex) { return ShapeScan(regex, false).run().digits; }

}  // namespace aiw::regex_shape
