#include "filters/pattern_matcher/regex_shape.h"

#include <algorithm>
#include <cctype>
#include <limits>

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

constexpr size_t kInf = std::numeric_limits<size_t>::max() / 4;
size_t add(size_t a, size_t b) { return std::min(kInf, a + b); }

// How the digits of a construct's matches group into clusters (digits at most `gap` bytes apart),
// as bounds that hold for every match: counts are the least, gaps the most any match has. Bounds
// taken field by field from different matches still bound every match, because more digits and
// shorter gaps can only make clusters larger. The defaults are the identities of worst().
struct Clusters {
  bool digitless = false;    // some match has no digit...
  size_t digitless_len = 0;  // ...and such matches are at most this long
  bool digits = false;       // some match has digits; for those:
  size_t lead_gap = 0;       //   bytes before the first digit
  size_t lead = kInf;        //   digits in the cluster the first digit begins
  size_t trail = kInf;       //   digits in the cluster the last digit ends
  size_t trail_gap = 0;      //   bytes after the last digit
  size_t best = kInf;        //   digits in the largest cluster
  bool single = true;        //   all of them in one cluster

  static Clusters bytes(size_t n) {  // n bytes, none a digit (0: zero-width)
    Clusters c;
    c.digitless = true;
    c.digitless_len = n;
    return c;
  }
  static Clusters digit() {
    Clusters c;
    c.digits = true;
    c.lead = c.trail = c.best = 1;
    return c;
  }
};

// The bounds for "a match of a or of b".
Clusters worst(Clusters a, const Clusters& b) {
  if (b.digitless) {
    a.digitless_len = a.digitless ? std::max(a.digitless_len, b.digitless_len) : b.digitless_len;
    a.digitless = true;
  }
  if (b.digits) {
    a.digits = true;
    a.lead_gap = std::max(a.lead_gap, b.lead_gap);
    a.lead = std::min(a.lead, b.lead);
    a.trail = std::min(a.trail, b.trail);
    a.trail_gap = std::max(a.trail_gap, b.trail_gap);
    a.best = std::min(a.best, b.best);
    a.single = a.single && b.single;
  }
  return a;
}

// The bounds for "a match of a followed by a match of b", clusters joining across the seam when
// the gap there is at most `gap`.
Clusters concat(const Clusters& a, const Clusters& b, size_t gap) {
  Clusters r;
  if (a.digitless && b.digitless)
    r = worst(r, Clusters::bytes(add(a.digitless_len, b.digitless_len)));
  if (a.digitless && b.digits) {
    Clusters x = b;
    x.digitless = false;
    x.lead_gap = add(a.digitless_len, b.lead_gap);
    r = worst(r, x);
  }
  if (a.digits && b.digitless) {
    Clusters x = a;
    x.digitless = false;
    x.trail_gap = add(a.trail_gap, b.digitless_len);
    r = worst(r, x);
  }
  if (a.digits && b.digits) {
    Clusters x;
    x.digits = true;
    x.lead_gap = a.lead_gap;
    x.trail_gap = b.trail_gap;
    if (add(a.trail_gap, b.lead_gap) <= gap) {
      const size_t joined = add(a.trail, b.lead);
      x.best = std::max({a.best, b.best, joined});
      x.lead = a.single ? joined : a.lead;
      x.trail = b.single ? joined : b.trail;
      x.single = a.single && b.single;
    } else {
      x.best = std::max(a.best, b.best);
      x.lead = a.lead;
      x.trail = b.trail;
      x.single = false;
    }
    r = worst(r, x);
  }
  return r;
}

// The bounds for x{min,max} (max kInf: unbounded). Repeats are unrolled a few past the minimum;
// when more would still lengthen a gap, that gap is taken as unbounded.
Clusters repeat(const Clusters& x, size_t min, size_t max, size_t gap) {
  constexpr size_t kUnrolled = 4;
  Clusters result;
  if (min == 0) result = Clusters::bytes(0);
  Clusters power = Clusters::bytes(0);  // x repeated k times
  const size_t last = std::min(max, min + kUnrolled);
  for (size_t k = 1; k <= last; ++k) {
    power = concat(power, x, gap);
    if (k >= min) result = worst(result, power);
  }
  if (max > last) {
    Clusters more = concat(power, x, gap);
    if (more.digitless && more.digitless_len > power.digitless_len) more.digitless_len = kInf;
    if (more.lead_gap > power.lead_gap) more.lead_gap = kInf;
    if (more.trail_gap > power.trail_gap) more.trail_gap = kInf;
    if (more.single != power.single) more.single = false;
    result = worst(result, more);
  }
  return result;
}

// What a construct tells about its matches.
struct Shape {
  size_t literal = 0;     // longest run of literal bytes every match contains
  bool lower = false;     // a match may start with a lowercase ASCII letter
  bool nullable = false;  // it may match nothing (then what follows decides the first byte)
  Clusters clusters = Clusters::bytes(0);
};

// A recursive-descent reading of the PCRE subset Hyperscan takes. `bad_` is set by anything not
// modelled (\Q, back-references, lookarounds, (?x) spacing); the answer is then the safe one.
class ShapeScan {
 public:
  // `gap`: how many bytes apart two digits may be and still count as one cluster.
  ShapeScan(std::string_view re, bool caseless, size_t gap = 0)
      : re_(re), caseless_(caseless), gap_(gap) {}

  Shape run() {
    Shape s = alternation();
    if (bad_ || i_ != re_.size()) return Shape{0, true, false, Clusters::bytes(kInf)};
    if (clusters_unknown_) s.clusters = Clusters::bytes(kInf);
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
      all.clusters = worst(all.clusters, next.clusters);
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
      size_t min_repeat = 1, max_repeat = 1;
      bool quantified = quantifier(min_repeat, max_repeat);
      if (seq.nullable) seq.lower = seq.lower || a.shape.lower;
      seq.nullable = seq.nullable && (a.shape.nullable || min_repeat == 0);
      if (min_repeat > kMaxUnrolled) clusters_unknown_ = true;  // gated expressions are short
      if (!clusters_unknown_) {
        seq.clusters = concat(
            seq.clusters,
            quantified ? repeat(a.shape.clusters, min_repeat, max_repeat, gap_) : a.shape.clusters,
            gap_);
      }
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
    a.shape.clusters = (c >= '0' && c <= '9') ? Clusters::digit() : Clusters::bytes(1);
    return a;
  }
  Atom digit() {
    Atom a;
    a.shape.clusters = Clusters::digit();
    return a;
  }
  // Anything else: one byte that may or may not be a digit (counted as a non-digit, the bound
  // for clusters), or nothing (an assertion). `bytes`: \R may take two.
  Atom other(bool lower, bool zero_width = false, size_t bytes = 1) {
    Atom a;
    a.shape.lower = lower;
    a.shape.nullable = zero_width;
    a.shape.clusters = Clusters::bytes(zero_width ? 0 : bytes);
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
        return other(false);
      case 'R':  // \r\n counts as one
        return other(false, false, 2);
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

  // Reads a quantifier after an atom, if any; `min` and `max` are its bounds (max kInf when
  // unbounded). True when there was one.
  bool quantifier(size_t& min, size_t& max) {
    if (i_ >= re_.size()) return false;
    char c = re_[i_];
    bool found = false;
    auto number = [&](size_t& j, size_t& n) {
      bool any = false;
      for (n = 0; j < re_.size() && std::isdigit(static_cast<unsigned char>(re_[j])); ++j) {
        n = std::min<size_t>(n * 10 + static_cast<size_t>(re_[j] - '0'), 100000);
        any = true;
      }
      return any;
    };
    if (c == '*' || c == '?') {
      min = 0;
      max = c == '*' ? kInf : 1;
      ++i_;
      found = true;
    } else if (c == '+') {
      min = 1;
      max = kInf;
      ++i_;
      found = true;
    } else if (c == '{') {
      size_t j = i_ + 1, n = 0, m = 0;
      const bool digits = number(j, n);
      m = n;
      if (j < re_.size() && re_[j] == ',') {
        ++j;
        if (!number(j, m)) m = kInf;
      }
      if (digits && j < re_.size() && re_[j] == '}') {
        min = n;
        max = std::max(n, m);
        i_ = j + 1;
        found = true;
      }
    }
    if (found && i_ < re_.size() && (re_[i_] == '?' || re_[i_] == '+')) ++i_;  // lazy, possessive
    return found;
  }

  static constexpr size_t kMaxUnrolled = 1000;

  std::string_view re_;
  bool caseless_;
  size_t gap_;
  size_t i_ = 0;
  bool bad_ = false;
  bool clusters_unknown_ = false;  // a repeat too long to unroll
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

size_t clusteredDigits(std::string_view regex, size_t max_gap) {
  const Clusters c = ShapeScan(regex, false, max_gap).run().clusters;
  if (c.digitless || !c.digits) return 0;
  return c.best >= kInf ? 0 : c.best;
}

}  // namespace aiw::regex_shape
