// The "pii" pack: personal data. Number formats are matched with their separators and bounded
// lengths, never as any digit run, and the ones with a check digit are validated (Luhn, mod-97,
// the SSA's rules) so ids, timestamps and hashes do not pass for cards or accounts.
#include "filters/pattern_matcher/builtin_packs.h"

namespace aiw::packs {
namespace {

DetectorSpec pii(const char* id, Severity severity, const char* regex, bool caseless = false,
                 Validator validator = Validator::None) {
  DetectorSpec d;
  d.id = std::string("pii.") + id;
  d.category = "pii";
  d.severity = severity;
  d.regex = regex;
  d.caseless = caseless;
  d.validator = validator;
  return d;
}

}  // namespace

std::vector<DetectorSpec> pii() {
  return {
      // The domain's first label starts with a letter so that image names (icon@2x.png) and
      // package specifiers (pkg@1.2.3) are not addresses.
      pii("email", Severity::Low,
          R"([a-z0-9._%+-]+@[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,24}\b)", true),
      // E.164 with a plus (contiguous, or grouped with separators), and North American numbers
      // with their separators ((415) 555-2671, 415-555-2671, 415.555.2671). \B before the plus:
      // "x+12345678" is arithmetic, not a number.
      pii("phone", Severity::Low,
          R"(\B\+[1-9][0-9]{7,14}\b)"
          R"(|\B\+[1-9][0-9]{0,2}[ .-](?:\([0-9]{1,4}\)|[0-9]{1,4})(?:[ .-][0-9]{2,4}){2,4}\b)"
          R"(|\b[2-9][0-9]{2}[.-][2-9][0-9]{2}[.-][0-9]{4}\b)"
          R"(|\B\([2-9][0-9]{2}\) ?[2-9][0-9]{2}[.-][0-9]{4}\b)"),
      // Issuer prefixes of the major networks (Visa 4, Mastercard 51-55 and 22-27, Amex 34/37,
      // Diners/JCB 30/35-39, Discover/UnionPay/Maestro 6), 13-19 digits contiguous, in groups of
      // four, or Amex's 4-6-5.
      pii("payment_card", Severity::High,
          R"(\b(?:(?:4[0-9]|5[1-5]|2[2-7]|3[04-9]|6[0-9])[0-9]{11,17})"
          R"(|(?:4[0-9]|5[1-5]|2[2-7]|3[5689]|6[0-9])[0-9]{2}(?:[ -][0-9]{4}){3})"
          R"((?:[ -][0-9]{1,3})?)"
          R"(|3[47][0-9]{2}[ -][0-9]{6}[ -][0-9]{5})\b)",
          false, Validator::Luhn),
      // Country code, two check digits, then the account in groups of four (spaces optional).
      // Every country's account number has eight digits in a row somewhere (two digit-only
      // groups), which keeps words like "AB12 CODE WORD" out and the pattern digit-driven.
      pii("iban", Severity::Medium,
          R"(\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){0,3}(?: ?[0-9]{4}){2}(?: ?[A-Z0-9]{4}){0,4})"
          R"((?: ?[A-Z0-9]{1,3})?\b)",
          false, Validator::Iban),
      pii("us_ssn", Severity::High, R"(\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b)", false, Validator::UsSsn),
  };
}

}  // namespace aiw::packs
