// The "secrets" pack: credentials with a recognisable shape. Prefixes are literal wherever the
// format has one, so Hyperscan's literal matcher does most of the work and ordinary text is
// skipped fast; repeats are bounded so no pattern can run away on long token-like input. The
// quote classes allow a backslash (\") because response bodies are scanned as raw JSON.
#include "filters/pattern_matcher/builtin_packs.h"

namespace aiw::packs {
namespace {

DetectorSpec secret(const char* id, Severity severity, const char* regex) {
  DetectorSpec d;
  d.id = std::string("secret.") + id;
  d.category = "secret";
  d.severity = severity;
  d.regex = regex;
  return d;
}

}  // namespace

std::vector<DetectorSpec> secrets() {
  return {
      // Access key ids are base32 (A-Z, 2-7) after a type prefix: AKIA long-term, ASIA STS.
      secret("aws_access_key", Severity::Critical, R"(\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b)"),
      // 40 base64 characters alone are everywhere (hashes, ids); only the assignment to a
      // secret-access-key name makes them one.
      secret("aws_secret_key", Severity::Critical,
             R"((?i:aws_?secret(?:_?access)?_?key|secret_?access_?key)\\?["']?\s{0,3}[:=]>?\s{0,3})"
             R"(\\?["']?[A-Za-z0-9/+]{40})"),
      secret("gcp_api_key", Severity::High, R"(\bAIza[0-9A-Za-z_-]{35})"),
      // A service account key file: its "type" marker or its private_key_id (40 hex digits).
      secret("gcp_service_account", Severity::Critical,
             R"(\\?"type\\?"\s{0,3}:\s{0,3}\\?"service_account\\?")"
             R"(|\\?"private_key_id\\?"\s{0,3}:\s{0,3}\\?"[0-9a-f]{40}\\?")"),
      // Storage account keys are 64 bytes in base64 (88 characters, "==" last); Service Bus and
      // Event Hubs shared access keys are 32 bytes (44 characters).
      secret("azure_storage_key", Severity::Critical,
             R"(AccountKey=[A-Za-z0-9+/]{86}==|SharedAccessKey=[A-Za-z0-9+/]{43}=)"),
      secret("github_token", Severity::Critical,
             R"(\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b)"
             R"(|\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b)"),
      secret("gitlab_token", Severity::Critical, R"(\bglpat-[A-Za-z0-9_-]{20,64})"),
      secret("slack_token", Severity::Critical,
             R"(\bxox[abposr]-[0-9]{6,15}-[0-9A-Za-z-]{10,100})"),
      secret("slack_webhook", Severity::High,
             R"(hooks\.slack\.com\\?/(?:services\\?/T[A-Z0-9]{8,12}\\?/B[A-Z0-9]{8,12}\\?/)"
             R"([A-Za-z0-9]{24}|workflows\\?/T[A-Z0-9]{8,12}\\?/A[A-Z0-9]{8,12}\\?/[0-9]{15,20})"
             R"(\\?/[A-Za-z0-9]{24}))"),
      // Test-mode keys too: they are still credentials to a real account.
      secret("stripe_key", Severity::High, R"(\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{24,99})"),
      // Legacy keys are sk- and 48 alphanumerics; project, service account and admin keys carry
      // a kind and dashes. The alphanumeric-only legacy branch keeps Anthropic's sk-ant- out.
      secret("openai_api_key", Severity::Critical,
             R"(\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|[A-Za-z0-9]{48}))"),
      secret("anthropic_api_key", Severity::Critical,
             R"(\bsk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_-]{80,110})"),
      // The header alone is enough to detect; the optional body up to the END line makes the hit
      // cover the whole key, so redacting it leaves no key material behind.
      secret("private_key", Severity::Critical,
             R"(-----BEGIN (?:[A-Z0-9]{1,10} ){0,3}PRIVATE KEY(?: BLOCK)?-----)"
             R"((?:[A-Za-z0-9+/=\s\\:,.-]+-----END (?:[A-Z0-9]{1,10} ){0,3}PRIVATE KEY)"
             R"((?: BLOCK)?-----)?)"),
      // Header and payload are base64url JSON objects, both starting {" (eyJ).
      secret("jwt", Severity::High,
             R"(\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,})"),
      // A secret-named key assigned a quoted value of 8+ characters; unquoted right-hand sides
      // (function calls, variables) and placeholders (${X}, <token>, ****) are left alone.
      secret("generic_credential", Severity::Medium,
             R"((?i:password|passwd|passphrase|secret(?:[_-]?key)?|api[_-]?key|apikey)"
             R"(|access[_-]?key|(?:access|auth|api|bearer|refresh)[_-]?token|token)"
             R"(|client[_-]?secret)\\?["']?\s{0,3}[:=]\s{0,3}\\?["'][^"'\s\\$<>{}*]{8,}\\?["'])"),
  };
}

}  // namespace aiw::packs
