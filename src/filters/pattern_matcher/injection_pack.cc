// The "prompt_injection" pack: the phrasings of known injection and jailbreak attempts. Each
// pattern needs the attack's whole phrase (a verb and what it targets: "ignore ... previous
// instructions"), not a single word, so prose that merely says "ignore" or "system prompt" does
// not trigger. All caseless.
#include "filters/pattern_matcher/builtin_packs.h"

namespace aiw::packs {
namespace {

DetectorSpec injection(const char* id, Severity severity, const char* regex) {
  DetectorSpec d;
  d.id = std::string("injection.") + id;
  d.category = "prompt_injection";
  d.severity = severity;
  d.regex = regex;
  d.caseless = true;
  return d;
}

}  // namespace

std::vector<DetectorSpec> promptInjection() {
  return {
      injection("ignore_previous", Severity::High,
                R"(\b(?:ignore|disregard|forget|override|bypass)\s{1,3})"
                R"((?:(?:all|any|the|your|my|of|these|those|everything)\s{1,3}){0,3})"
                R"((?:previous|prior|above|earlier|preceding|former|original|system)\s{1,3})"
                R"((?:instructions?|prompts?|directions?|directives?|rules|guidelines|commands?))"
                R"(\b)"
                R"(|\b(?:ignore|disregard)\s{1,3}(?:all|any)\s{1,3}(?:(?:of\s{1,3})?(?:the|your))"
                R"(\s{1,3})?(?:instructions|rules|guidelines|restrictions)\b)"),
      injection("forget_everything", Severity::High,
                R"(\bforget\s{1,3}(?:everything|all)\s{1,3}(?:(?:that\s{1,3})?(?:you|i|we))"
                R"(\s{1,3}(?:were\s{1,3}|have\s{1,3}been\s{1,3}|'ve\s{1,3}been\s{1,3})?)"
                R"((?:told|said|wrote|written|instructed|taught|learned))"
                R"(|(?:above|before|previously|prior|so\s{1,3}far|until\s{1,3}now))\b)"),
      // DAN ("Do Anything Now") and its relatives: the persona named, or defined.
      injection("jailbreak_dan", Severity::High,
                R"(\byou\s{1,3}are\s{1,3}now\s{1,3}(?:DAN|STAN|DUDE)\b)"
                R"(|\b(?:act|pretend)\s{1,3}(?:as|to\s{1,3}be)\s{1,3}(?:DAN|STAN|DUDE)\b)"
                R"(|\bDAN\W{1,4}(?:which\s{1,3})?stands\s{1,3}for\W{1,3}do\s{1,3}anything)"
                R"(|\bdo\s{1,3}anything\s{1,3}now\W{1,4}DAN\b)"
                R"(|\bstands\s{1,3}for\W{1,3}do\s{1,3}anything\s{1,3}now\b)"),
      // "developer mode" alone is a phone and browser setting; the jailbreak puts the model in it.
      injection("developer_mode", Severity::High,
                R"(\byou\s{1,3}are\s{1,3}(?:now\s{1,3})?(?:in\s{1,3}|running\s{1,3}in\s{1,3})?)"
                R"(developer\s{1,3}mode\b)"
                R"(|\bwith\s{1,3}developer\s{1,3}mode\s{1,3}(?:enabled|activated|on)\b)"
                R"(|\b(?:enable|activate|enter)\s{1,3}(?:your\s{1,3})?(?:developer|jailbreak|god))"
                R"(\s{1,3}mode\s{1,3}(?:now|and\s{1,3}(?:ignore|answer|respond)))"),
      injection(
          "system_prompt_extraction", Severity::Medium,
          R"(\b(?:reveal|print|show|display|output|repeat|recite|leak|dump|tell\s{1,3}me))"
          R"(\s{1,3}(?:me\s{1,3})?(?:(?:your|the|all|of|full|entire|complete|exact)\s{1,3}){0,3})"
          R"((?:(?:original|hidden|secret)\s{1,3})?)"
          R"((?:system|initial|hidden|original|developer)\s{1,3}(?:prompt|instructions)\b)"
          R"(|\bwhat\s{1,3}(?:are|were)\s{1,3}your\s{1,3})"
          R"((?:(?:original|initial|exact|system|hidden|first)\s{1,3})?instructions\b)"
          R"(|\brepeat\s{1,3}(?:the\s{1,3})?(?:words|text|everything)\s{1,3}above\b)"),
      // Chat-template role markers typed into content, to forge a system turn.
      injection("role_delimiter", Severity::Medium,
                R"(<\|im_start\|>\s{0,3}system|<\|start_header_id\|>\s{0,3}system)"
                R"(|<<SYS>>|###\s{0,3}system\s{0,3}:)"),
  };
}

}  // namespace aiw::packs
