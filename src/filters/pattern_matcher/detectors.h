// The detectors of the pattern matcher: the built-in packs (secrets, pii, prompt_injection),
// each detector a Hyperscan-compatible regex plus, where a regex alone over-matches, a validator
// run on the matched text (Luhn for payment cards, mod-97 for IBANs, the SSA rules for SSNs).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace aiw {

enum class Severity : uint8_t { Low, Medium, High, Critical };
std::string_view severityName(Severity s);  // "low", "medium", "high", "critical"
// Parses a severity name; false when unknown.
bool parseSeverity(std::string_view name, Severity& out);

enum class Validator : uint8_t { None, Luhn, Iban, UsSsn };

struct DetectorSpec {
  std::string id;        // "secret.aws_access_key", "pii.email", "injection.ignore_previous"
  std::string category;  // "secret", "pii", "prompt_injection", a custom one, or "rule"
  Severity severity = Severity::Medium;
  std::string regex;     // Hyperscan syntax (PCRE subset); (?i) and friends allowed
  bool caseless = false; // compile with HS_FLAG_CASELESS
  Validator validator = Validator::None;
};

// The names of the built-in packs, in a stable order: "secrets", "pii", "prompt_injection".
const std::vector<std::string>& builtinPackNames();
// The detectors of one pack; an unknown name is Error{"unknown_pack", ...} naming the packs.
Result<std::vector<DetectorSpec>> builtinPack(std::string_view name);

// Runs `validator` over the bytes a detector matched. Validator::None accepts everything.
bool validateMatch(Validator validator, std::string_view matched);

}  // namespace aiw
