#include "filters/pattern_matcher/detectors.h"

#include <array>
#include <cstddef>
#include <string>
#include <utility>

#include "filters/pattern_matcher/builtin_packs.h"

namespace aiw {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }
char toUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

// The digits of `text`, skipping the separators a detector's regex allows (spaces, dashes, dots);
// false on any other character or when more than `max` digits.
template <size_t N>
bool collectDigits(std::string_view text, std::array<int, N>& digits, size_t& count) {
  count = 0;
  for (char c : text) {
    if (isDigit(c)) {
      if (count == N) return false;
      digits[count++] = c - '0';
    } else if (c != ' ' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

bool luhnValid(std::string_view text) {
  std::array<int, 19> d{};
  size_t n = 0;
  if (!collectDigits(text, d, n) || n < 12) return false;
  // A run of one repeated digit passes Luhn (0000…) but is a placeholder, not a card.
  bool all_same = true;
  for (size_t i = 1; i < n; ++i) all_same = all_same && d[i] == d[0];
  if (all_same) return false;
  int sum = 0;
  for (size_t i = 0; i < n; ++i) {
    int v = d[n - 1 - i];
    if (i % 2 == 1) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return sum % 10 == 0;
}

// The IBAN length of each country in the SWIFT registry; a country missing here has no IBAN.
int ibanLength(char a, char b) {
  static constexpr std::pair<const char*, int> kLengths[] = {
      {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
      {"BG", 22}, {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22},
      {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20},
      {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22},
      {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
      {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30},
      {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21},
      {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20}, {"MR", 27},
      {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
      {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33},
      {"SA", 24}, {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
      {"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
      {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
  };
  for (const auto& [cc, len] : kLengths) {
    if (cc[0] == a && cc[1] == b) return len;
  }
  return 0;
}

bool ibanValid(std::string_view text) {
  std::string iban;
  iban.reserve(34);
  for (char c : text) {
    if (c == ' ') continue;
    c = toUpper(c);
    if (!isDigit(c) && !isUpper(c)) return false;
    if (iban.size() == 34) return false;
    iban.push_back(c);
  }
  if (iban.size() < 15 || !isUpper(iban[0]) || !isUpper(iban[1]) || !isDigit(iban[2]) ||
      !isDigit(iban[3])) {
    return false;
  }
  if (static_cast<int>(iban.size()) != ibanLength(iban[0], iban[1])) return false;
  // ISO 13616: the first four characters move to the end, letters become 10..35, and the whole
  // number is 1 modulo 97 (computed digit by digit, it does not fit any integer type).
  int rem = 0;
  for (size_t k = 0; k < iban.size(); ++k) {
    char c = iban[(k + 4) % iban.size()];
    if (isDigit(c)) {
      rem = (rem * 10 + (c - '0')) % 97;
    } else {
      rem = (rem * 100 + (c - 'A' + 10)) % 97;
    }
  }
  return rem == 1;
}

// The SSA never issues area 000, 666 or 900-999, group 00, or serial 0000.
bool ssnValid(std::string_view text) {
  std::array<int, 9> d{};
  size_t n = 0;
  if (!collectDigits(text, d, n) || n != 9) return false;
  int area = d[0] * 100 + d[1] * 10 + d[2];
  int group = d[3] * 10 + d[4];
  int serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
  return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

}  // namespace

std::string_view severityName(Severity s) {
  switch (s) {
    case Severity::Low:
      return "low";
    case Severity::Medium:
      return "medium";
    case Severity::High:
      return "high";
    case Severity::Critical:
      return "critical";
  }
  return "medium";
}

bool parseSeverity(std::string_view name, Severity& out) {
  for (Severity s : {Severity::Low, Severity::Medium, Severity::High, Severity::Critical}) {
    if (severityName(s) == name) {
      out = s;
      return true;
    }
  }
  return false;
}

const std::vector<std::string>& builtinPackNames() {
  static const std::vector<std::string> kNames = {"secrets", "pii", "prompt_injection"};
  return kNames;
}

Result<std::vector<DetectorSpec>> builtinPack(std::string_view name) {
  if (name == "secrets") return packs::secrets();
  if (name == "pii") return packs::pii();
  if (name == "prompt_injection") return packs::promptInjection();
  std::string known;
  for (const std::string& n : builtinPackNames()) known += (known.empty() ? "" : ", ") + n;
  return makeError("unknown_pack", "unknown pack \"" + std::string(name) +
                                       "\" (the built-in packs: " + known + ")");
}

bool validateMatch(Validator validator, std::string_view matched) {
  switch (validator) {
    case Validator::None:
      return true;
    case Validator::Luhn:
      return luhnValid(matched);
    case Validator::Iban:
      return ibanValid(matched);
    case Validator::UsSsn:
      return ssnValid(matched);
  }
  return false;
}

}  // namespace aiw
