#include "core/config_reader.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace aiw::config_detail {

namespace {

std::string lowerCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1);
  std::vector<size_t> cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// How a value that has the wrong shape is named in messages.
std::string describe(const YAML::Node& v) {
  switch (v.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "'" + v.Scalar() + "'";
    default:
      return "nothing";
  }
}

}  // namespace

namespace {

// One error is one line: control characters that a message quotes from the input (a key with a
// line break, the character yaml-cpp found in a bad escape) or a file name holds are written as
// escapes.
std::string oneLine(std::string text) {
  if (std::none_of(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
      })) {
    return text;
  }
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if ((u < 0x20 && c != '\t') || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void ConfigErrors::add(const std::string& file, int line, std::string message) {
  entries_.push_back(Entry{oneLine(file), line, oneLine(std::move(message))});
}

Error ConfigErrors::toError() const {
  std::vector<std::string> file_order;
  for (const Entry& e : entries_) {
    if (std::find(file_order.begin(), file_order.end(), e.file) == file_order.end()) {
      file_order.push_back(e.file);
    }
  }
  std::vector<const Entry*> sorted;
  for (const Entry& e : entries_) sorted.push_back(&e);
  auto rank = [&](const Entry* e) {
    return std::find(file_order.begin(), file_order.end(), e->file) - file_order.begin();
  };
  std::stable_sort(sorted.begin(), sorted.end(), [&](const Entry* a, const Entry* b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    return a->line < b->line;
  });
  std::string text;
  for (const Entry* e : sorted) {
    if (!text.empty()) text += '\n';
    text += e->file;
    if (e->line > 0) text += ":" + std::to_string(e->line);
    text += ": " + e->message;
  }
  return Error{"config", text};
}

void NodeReader::error(int line, const std::string& path, const std::string& message) {
  errors_.add(file_, line, path.empty() ? message : path + ": " + message);
}

int NodeReader::lineOf(const YAML::Node& node, int fallback) {
  if (!node.IsDefined() || node.IsNull()) return fallback;
  int line = node.Mark().line;
  return line >= 0 ? line + 1 : fallback;
}

std::string NodeReader::child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string NodeReader::item(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

void NodeReader::forEachKey(const YAML::Node& map, int line, const std::string& path,
                            std::span<const std::string_view> allowed, const KeyVisitor& visit) {
  if (map.IsNull()) return;
  if (!map.IsMap()) {
    error(lineOf(map, line), path, "expected a map, got " + describe(map));
    return;
  }
  std::map<std::string, int> seen;
  // Range-for binds each pair by value: yaml-cpp's `it->first` refers into a temporary.
  for (const auto& kv : map) {
    const YAML::Node& key_node = kv.first;
    int key_line = lineOf(key_node, line);
    if (!key_node.IsScalar()) {
      error(key_line, path, "keys must be strings, got " + describe(key_node));
      continue;
    }
    const std::string& key = key_node.Scalar();
    auto [first, inserted] = seen.emplace(key, key_line);
    if (!inserted) {
      error(key_line, path,
            "duplicate key '" + key + "' (first at line " + std::to_string(first->second) + ")");
      continue;
    }
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string message = "unknown key '" + key + "'";
      std::string hint = suggestKey(key, allowed);
      if (!hint.empty()) message += " (did you mean '" + hint + "'?)";
      error(key_line, path, message);
      continue;
    }
    visit(key, key_line, kv.second);
  }
}

void NodeReader::forEachItem(const YAML::Node& seq, int line, const std::string& path,
                             const ItemVisitor& visit) {
  if (seq.IsNull()) return;
  if (!seq.IsSequence()) {
    error(lineOf(seq, line), path, "expected a list, got " + describe(seq));
    return;
  }
  size_t index = 0;
  int last_line = lineOf(seq, line);
  for (auto it = seq.begin(); it != seq.end(); ++it, ++index) {
    if (it->IsNull()) {
      // yaml-cpp marks an empty item ("-" alone) at the token after it: the best there is.
      int mark = it->Mark().line;
      error(mark >= 0 ? mark + 1 : last_line, item(path, index), "empty list item");
      continue;
    }
    last_line = lineOf(*it, last_line);
    visit(index, last_line, *it);
  }
}

bool NodeReader::readString(const YAML::Node& v, int line, const std::string& path,
                            std::string& out) {
  if (v.IsNull()) {  // `key:` with nothing, e.g. after an unset ${VAR}
    out.clear();
    return true;
  }
  if (!v.IsScalar()) {
    error(lineOf(v, line), path, "expected a string, got " + describe(v));
    return false;
  }
  out = v.Scalar();
  return true;
}

bool NodeReader::readBool(const YAML::Node& v, int line, const std::string& path, bool& out) {
  if (v.IsScalar() && isPlainScalar(v)) {
    // YAML 1.1's yes/no/on/off too: in a field typed bool they cannot mean anything else.
    std::string s = lowerCase(v.Scalar());
    if (s == "true" || s == "yes" || s == "on") {
      out = true;
      return true;
    }
    if (s == "false" || s == "no" || s == "off") {
      out = false;
      return true;
    }
  }
  error(lineOf(v, line), path, "expected true or false, got " + describe(v));
  return false;
}

bool NodeReader::readUnsigned(const YAML::Node& v, int line, const std::string& path, uint64_t min,
                              uint64_t max, uint64_t& out) {
  line = lineOf(v, line);
  // A quoted "5000" is a string in YAML; accepting it would hide a templating mistake.
  if (!v.IsScalar() || !isPlainScalar(v)) {
    std::string got = v.IsScalar() ? "the string \"" + v.Scalar() + "\"" : describe(v);
    error(line, path, "expected a number, got " + got);
    return false;
  }
  const std::string& s = v.Scalar();
  std::string_view digits = s;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(),
                                                   [](char c) { return c >= '0' && c <= '9'; });
  if (!all_digits) {
    error(line, path, "expected a whole number, got '" + s + "'");
    return false;
  }
  if (negative) {
    bool zero = std::all_of(digits.begin(), digits.end(), [](char c) { return c == '0'; });
    if (!zero) {
      error(line, path, "must not be negative, got " + s);
      return false;
    }
  }
  uint64_t value = 0;
  bool overflow = false;
  for (char c : digits) {
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - d) / 10) {
      overflow = true;
      break;
    }
    value = value * 10 + d;
  }
  if (overflow || value > max) {
    error(line, path, "out of range: " + s + " (at most " + std::to_string(max) + ")");
    return false;
  }
  if (value < min) {
    error(line, path, "out of range: " + s + " (at least " + std::to_string(min) + ")");
    return false;
  }
  out = value;
  return true;
}

bool NodeReader::readHostPort(const YAML::Node& v, int line, const std::string& path,
                              HostPort& out) {
  line = lineOf(v, line);
  if (!v.IsScalar()) {
    error(line, path, "expected an address host:port, got " + describe(v));
    return false;
  }
  auto parsed = parseHostPort(v.Scalar());
  if (!parsed) {
    error(line, path, parsed.error().message);
    return false;
  }
  out = *parsed;
  return true;
}

bool NodeReader::readUrl(const YAML::Node& v, int line, const std::string& path, std::string& out) {
  line = lineOf(v, line);
  if (!v.IsScalar()) {
    error(line, path, "expected an http:// or https:// URL, got " + describe(v));
    return false;
  }
  std::string why = checkUpstreamUrl(v.Scalar());
  if (!why.empty()) {
    error(line, path, why);
    return false;
  }
  out = v.Scalar();
  return true;
}

std::string suggestKey(std::string_view key, std::span<const std::string_view> allowed) {
  std::string best;
  size_t best_distance = 3;
  std::string lower = lowerCase(key);
  for (std::string_view candidate : allowed) {
    size_t d = editDistance(lower, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string checkUpstreamUrl(std::string_view url) {
  const std::string quoted = "'" + std::string(url) + "'";
  std::string lower = lowerCase(url.substr(0, 8));
  size_t scheme_len = 0;
  if (lower.starts_with("http://")) {
    scheme_len = 7;
  } else if (lower.starts_with("https://")) {
    scheme_len = 8;
  } else {
    return "expected an http:// or https:// URL, got " + quoted;
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return "URL " + quoted + " contains whitespace or control characters";
    }
  }
  if (url.find('#') != std::string_view::npos) return "URL " + quoted + " has a fragment";
  std::string_view rest = url.substr(scheme_len);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.empty()) return "URL " + quoted + " has no host";
  if (authority.find('@') != std::string_view::npos) {
    return "URL " + quoted + " has credentials; they are not supported in upstream URLs";
  }
  bool has_port = authority.front() == '[' ? authority.find("]:") != std::string_view::npos
                                           : authority.find(':') != std::string_view::npos;
  std::string probe(authority);
  if (!has_port) probe += ":80";  // only the host is checked here
  auto parsed = parseHostPort(probe);
  if (!parsed) return "bad URL " + quoted + ": " + parsed.error().message;
  return "";
}

bool isPlainScalar(const YAML::Node& node) { return node.Tag() == "?"; }

}  // namespace aiw::config_detail
