#include "core/config_loader.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include "core/config_reader.h"
#include "core/embedded_defaults.h"

namespace aiw {

namespace fs = std::filesystem;
using config_detail::ChainDecl;
using config_detail::ConfigErrors;
using config_detail::NodeReader;

namespace {

constexpr std::string_view kEmbedded = "<embedded>";

bool isEnvNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }

bool isEnvName(std::string_view name) {
  if (name.empty() || !isEnvNameStart(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return isEnvNameStart(c) || (c >= '0' && c <= '9'); });
}

// Expands ${VAR} and ${VAR:-default} (default when VAR is unset or empty, as in the shell)
// everywhere in the text, comments included, before YAML sees it. Expansion is textual so it
// works inside any scalar ("127.0.0.1:${PORT}"); values with line breaks are refused because
// they would shift every later line number (and could inject keys).
std::string expandEnv(std::string_view text, const std::string& file, ConfigErrors& errors) {
  std::string out;
  out.reserve(text.size());
  int line = 1;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') ++line;
    if (c != '$' || i + 1 >= text.size() || text[i + 1] != '{') {
      out += c;
      ++i;
      continue;
    }
    size_t close = text.find_first_of("}\n", i + 2);
    if (close == std::string_view::npos || text[close] == '\n') {
      errors.add(file, line, "unterminated '${' (expected '}' on the same line)");
      size_t end = close == std::string_view::npos ? text.size() : close;
      out.append(text.substr(i, end - i));
      i = end;
      continue;
    }
    std::string_view body = text.substr(i + 2, close - i - 2);
    std::string_view name = body;
    std::optional<std::string_view> fallback;
    if (size_t sep = body.find(":-"); sep != std::string_view::npos) {
      name = body.substr(0, sep);
      fallback = body.substr(sep + 2);
    }
    i = close + 1;
    if (!isEnvName(name)) {
      errors.add(file, line, "bad environment variable name in '${" + std::string(body) + "}'");
      continue;
    }
    if (fallback && fallback->find("${") != std::string_view::npos) {
      errors.add(file, line, "nested '${' in the default of '${" + std::string(name) + "}'");
      continue;
    }
    const char* env = std::getenv(std::string(name).c_str());
    std::string_view value = env != nullptr ? env : "";
    if (value.empty() && fallback) value = *fallback;
    if (value.find_first_of("\r\n") != std::string_view::npos) {
      errors.add(file, line,
                 "environment variable " + std::string(name) + " contains a line break");
      continue;
    }
    out.append(value);
  }
  return out;
}

// Aliases make a YAML document a graph: "&a {x: *a}" (an alias inside its own anchor) is a
// cycle, and aliases of aliases of lists multiply the nodes ("billion laughs"). Whatever walks a
// value whole (a filter's config reader, configToYaml for --print-config) would recurse forever
// or for very long, so the document as its readers see it, aliases expanded, is bounded: no
// deeper than yaml-cpp lets a document be written, and at most kMaxExpandedNodes nodes.
constexpr int kMaxExpandedDepth = 2000;  // yaml-cpp's DepthGuard default
constexpr size_t kMaxExpandedNodes = 250000;

enum class Expansion { Ok, TooDeep, TooLarge };

Expansion checkExpansion(const YAML::Node& node, int depth, size_t& nodes, int& line) {
  if (++nodes > kMaxExpandedNodes || depth > kMaxExpandedDepth) {
    line = NodeReader::lineOf(node, 1);
    return nodes > kMaxExpandedNodes ? Expansion::TooLarge : Expansion::TooDeep;
  }
  if (!node.IsMap() && !node.IsSequence()) return Expansion::Ok;
  for (YAML::const_iterator it = node.begin(); it != node.end(); ++it) {
    Expansion e = Expansion::Ok;
    if (node.IsMap()) {
      e = checkExpansion(it->first, depth + 1, nodes, line);
      if (e == Expansion::Ok) e = checkExpansion(it->second, depth + 1, nodes, line);
    } else {
      e = checkExpansion(*it, depth + 1, nodes, line);
    }
    if (e != Expansion::Ok) return e;
  }
  return Expansion::Ok;
}

// Events of one YAML document, reduced to the 1-based line of its first non-null node (0: none).
class FirstNodeLine : public YAML::EventHandler {
 public:
  int line = 0;
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { note(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    note(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    note(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    note(mark);
  }
  void OnMapEnd() override {}

 private:
  void note(const YAML::Mark& mark) {
    if (line == 0) line = mark.line >= 0 ? mark.line + 1 : 1;
  }
};

// Whether the text holds a second YAML document, and the line of its first node (else 1).
// yaml-cpp 0.7's LoadAll() never returns on some bad input (a stray ',' at the top level,
// jbeder/yaml-cpp#1040): its parser reports document after document without consuming the
// token, and LoadAll() collects them until memory runs out. So the first document is loaded
// alone, and this pass asks the parser for one more document, and no more.
std::optional<int> secondDocumentLine(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  FirstNodeLine first;
  if (!parser.HandleNextDocument(first)) return std::nullopt;
  FirstNodeLine second;
  if (!parser.HandleNextDocument(second)) return std::nullopt;
  return second.line > 0 ? second.line : 1;
}

// Parses one YAML document; on a syntax error reports it and returns nothing. The only place
// yaml-cpp may throw is in here.
std::optional<YAML::Node> parseYaml(const std::string& text, const std::string& file,
                                    ConfigErrors& errors) {
  try {
    YAML::Node doc = YAML::Load(text);
    if (std::optional<int> line = secondDocumentLine(text)) {
      // yaml-cpp also ends a document silently where the structure changes ("- a\nb: c").
      errors.add(file, *line,
                 "unexpected content after the end of the document (one YAML document only, "
                 "check the indentation)");
      return std::nullopt;
    }
    size_t nodes = 0;
    int line = 1;
    switch (checkExpansion(doc, 0, nodes, line)) {
      case Expansion::Ok:
        break;
      case Expansion::TooDeep:
        errors.add(file, line,
                   "nested too deeply once aliases are expanded (more than " +
                       std::to_string(kMaxExpandedDepth) +
                       " levels; is an alias inside its own anchor?)");
        return std::nullopt;
      case Expansion::TooLarge:
        errors.add(file, line,
                   "too many values once aliases are expanded (more than " +
                       std::to_string(kMaxExpandedNodes) + ")");
        return std::nullopt;
    }
    return doc;
  } catch (const YAML::Exception& e) {
    // yaml-cpp marks "not closed before the end" errors one line past the last one (also
    // DeepRecursion, at the end of the input); an editor jumping there would land nowhere.
    int last_line = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    if (!text.empty() && text.back() != '\n') ++last_line;
    int line = std::max(1, std::min(e.mark.line >= 0 ? e.mark.line + 1 : 1, last_line));
    if (const auto* deep = dynamic_cast<const YAML::DeepRecursion*>(&e)) {
      // yaml-cpp 0.7 words this one "bad file".
      errors.add(file, line,
                 "nested too deeply (more than " + std::to_string(deep->depth() - 1) + " levels)");
    } else {
      errors.add(file, line, e.msg);
    }
    return std::nullopt;
  }
}

bool readWholeFile(const std::string& path, std::string& out, std::string& why) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    why = "is a directory";
    return false;
  }
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    why = std::strerror(errno);
    return false;
  }
  out.clear();
  char buf[16384];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed) {
    why = std::strerror(err);
    return false;
  }
  return true;
}

// One filters.d file, from disk or from the binary.
void loadFilterFile(std::string_view text, const std::string& file, ConfigErrors& errors,
                    std::vector<FilterSpec>& out) {
  std::string expanded = expandEnv(text, file, errors);
  std::optional<YAML::Node> root = parseYaml(expanded, file, errors);
  if (!root) return;
  NodeReader reader(file, errors);
  if (root->IsNull()) {
    reader.error(1, "", "empty filter file (expected 'filter: NAME')");
    return;
  }
  config_detail::parseFilterSpec(*root, 1, "", reader, out);
}

void loadEmbeddedFilters(ConfigErrors& errors, std::vector<FilterSpec>& out) {
  for (const embedded::EmbeddedFile& f : embedded::defaultFilterFiles()) {
    loadFilterFile(f.text, std::string(kEmbedded) + "/filters.d/" + std::string(f.name), errors,
                   out);
  }
}

bool isFilterFileName(const std::string& name) {
  // Dot files are editors' locks and backups (".#20-x.yaml"), not stages.
  if (name.empty() || name.front() == '.') return false;
  return name.ends_with(".yaml") || name.ends_with(".yml");
}

// Reads a filters.d directory in file-name order (byte order, like `ls` in the C locale), so
// operators reorder the chain by renaming files.
void loadFiltersDir(const std::string& dir, const std::string& source, int line,
                    ConfigErrors& errors, std::vector<FilterSpec>& out) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    errors.add(source, line, "filters_dir: cannot read " + dir + ": " + ec.message());
    return;
  }
  std::vector<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!isFilterFileName(name)) continue;
    std::error_code type_ec;
    if (!fs::is_regular_file(it->path(), type_ec)) continue;  // follows symlinks
    names.push_back(name);
  }
  if (ec) {
    errors.add(source, line, "filters_dir: cannot read " + dir + ": " + ec.message());
    return;
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    std::string file = (fs::path(dir) / name).string();
    std::string text;
    std::string why;
    if (!readWholeFile(file, text, why)) {
      errors.add(source, line, "filters_dir: cannot read " + file + ": " + why);
      continue;
    }
    loadFilterFile(text, file, errors, out);
  }
}

// Builds the chain from what the document declared.
void resolveChain(const ChainDecl& chain, const std::string& source, const std::string& base_dir,
                  NodeReader& reader, ConfigErrors& errors, Config& out) {
  if (chain.has_filters && chain.has_filters_dir) {
    reader.error(std::max(chain.filters_line, chain.filters_dir_line), "",
                 "'filters' and 'filters_dir' are both given (line " +
                     std::to_string(std::min(chain.filters_line, chain.filters_dir_line)) +
                     "); use one");
    return;
  }
  if (chain.has_filters) {
    reader.forEachItem(chain.filters, chain.filters_line, "filters",
                       [&](size_t i, int line, const YAML::Node& item) {
                         config_detail::parseFilterSpec(item, line, NodeReader::item("filters", i),
                                                        reader, out.filters);
                       });
    return;
  }
  if (chain.has_filters_dir) {
    if (!chain.filters_dir_ok) return;
    if (source == kEmbedded) {
      if (chain.filters_dir != "filters.d") {
        reader.error(chain.filters_dir_line, "filters_dir",
                     "the embedded configuration can only name filters.d");
        return;
      }
      loadEmbeddedFilters(errors, out.filters);
      return;
    }
    fs::path dir = chain.filters_dir;
    if (dir.is_relative() && !base_dir.empty()) dir = fs::path(base_dir) / dir;
    dir = dir.lexically_normal();
    std::error_code ec;
    fs::path absolute = fs::absolute(dir, ec);
    out.filters_dir = (ec ? dir : absolute).lexically_normal().string();
    loadFiltersDir(dir.string(), source, chain.filters_dir_line, errors, out.filters);
    return;
  }
  // Neither `filters` nor `filters_dir`: the default chain compiled into the binary (the
  // repository's filters.d), so a minimal configuration still inspects and reports.
  loadEmbeddedFilters(errors, out.filters);
}

}  // namespace

Result<Config> loadConfigText(std::string_view text, const std::string& source_name,
                              const std::string& base_dir,
                              const FilterSpecValidator& validate_filters) {
  ConfigErrors errors;
  std::string expanded = expandEnv(text, source_name, errors);
  std::optional<YAML::Node> root = parseYaml(expanded, source_name, errors);
  if (!root) return errors.toError();
  Config config;
  config.source = source_name;
  NodeReader reader(source_name, errors);
  ChainDecl chain;
  config_detail::parseConfigDocument(*root, reader, config, chain);
  resolveChain(chain, source_name, base_dir, reader, errors, config);
  if (!errors.empty()) {
    Error error = errors.toError();
    if (validate_filters) {
      if (auto r = validate_filters(config.filters); !r.ok()) error.message += "\n" + r.error().message;
    }
    return error;
  }
  return config;
}

Result<Config> loadConfigFile(const std::string& path, const FilterSpecValidator& validate_filters) {
  std::string text;
  std::string why;
  if (!readWholeFile(path, text, why)) {
    return makeError("config", path + ": cannot read the configuration: " + why);
  }
  return loadConfigText(text, path, fs::path(path).parent_path().string(), validate_filters);
}

Result<Config> loadEmbeddedDefaultConfig() {
  return loadConfigText(embedded::defaultConfigYaml(), std::string(kEmbedded), "");
}

std::string resolveStateDir(const std::string& cli_override, const std::string& configured) {
  if (!cli_override.empty()) return cli_override;
  if (!configured.empty()) return configured;
  // XDG says a relative $XDG_STATE_HOME is invalid and must be ignored.
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return (fs::path(xdg) / "aiwarden").string();
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    return (fs::path(home) / ".local" / "state" / "aiwarden").string();
  }
  return "/var/lib/aiwarden";
}

}  // namespace aiw
