#include "filters/rule_evaluator/glob.h"

#include <cstddef>

namespace aiw {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool sameChar(char a, char b, GlobCase mode) {
  return a == b || (mode == GlobCase::Insensitive && lower(a) == lower(b));
}

}  // namespace

bool globMatches(std::string_view glob, std::string_view text, GlobCase mode) {
  // The classic greedy walk: on a mismatch, let the most recent '*' absorb one more character
  // and retry from there. Earlier stars never need revisiting: a later star can absorb anything
  // an earlier one could, so this is exact and O(|glob| * |text|) at worst.
  size_t g = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;  // position in glob just after the last '*'
  size_t star_text = 0;                  // where in text that star's run currently ends
  while (t < text.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star = ++g;
      star_text = t;
    } else if (g < glob.size() && (glob[g] == '?' || sameChar(glob[g], text[t], mode))) {
      ++g;
      ++t;
    } else if (star != std::string_view::npos) {
      g = star;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

}  // namespace aiw
