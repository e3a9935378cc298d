#include "filters/rule_evaluator/rule_errors.h"

#include <algorithm>

namespace aiw {

void RuleErrors::add(size_t index, std::string_view key, std::string_view message,
                     std::string_view detail) {
  std::string line = locate_ ? locate_(index, key) : std::string();
  line += "rules[" + std::to_string(index) + "]";
  if (!key.empty()) line += "." + std::string(key);
  line += detail;
  line += ": ";
  line += message;
  lines_.push_back({index + 1, std::move(line)});
}

void RuleErrors::addForKey(size_t index, std::string_view key, std::string_view message) {
  std::string line = locate_ ? locate_(index, key) : std::string();
  line += "rules[" + std::to_string(index) + "]: ";
  line += message;
  lines_.push_back({index + 1, std::move(line)});
}

void RuleErrors::addGeneral(std::string line) { lines_.push_back({0, std::move(line)}); }

Error RuleErrors::fail() const {
  std::vector<Line> sorted = lines_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Line& a, const Line& b) { return a.order < b.order; });
  std::string message;
  for (const auto& l : sorted) {
    if (!message.empty()) message += '\n';
    message += l.text;
  }
  return makeError("invalid_rules", std::move(message));
}

}  // namespace aiw
