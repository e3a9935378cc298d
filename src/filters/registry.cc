#include "filters/registry.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>

namespace aiw {
namespace {

// Optimal-string-alignment distance: Levenshtein plus adjacent transpositions, the typo a
// keyboard makes most ("domian" for "domain").
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string joinNames(std::span<const std::string> names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += '\n';
    out += l;
  }
  return out;
}

bool isNullish(const YAML::Node& node) { return !node.IsDefined() || node.IsNull(); }

// The value of `key` in `map`, or an undefined-free Null node when absent. Iterates instead of
// using operator[], which throws on non-maps and returns zombie nodes on misses.
std::optional<YAML::Node> findKey(const YAML::Node& map, std::string_view key) {
  if (!map.IsDefined() || !map.IsMap()) return std::nullopt;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  }
  return std::nullopt;
}

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string formatNumber(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : std::string("?");
}

}  // namespace

std::string locate(std::string_view file, int line, std::string_view message) {
  std::string out(file.empty() ? std::string_view("<config>") : file);
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  out += message;
  return out;
}

std::string closestName(std::string_view wrong, std::span<const std::string> known) {
  // Short names tolerate one edit, longer ones up to three: beyond that a "suggestion" is noise.
  size_t limit = wrong.size() <= 4 ? 1 : wrong.size() <= 9 ? 2 : 3;
  std::string best;
  size_t best_distance = limit + 1;
  for (const auto& k : known) {
    size_t d = editDistance(wrong, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// FilterBuildContext

FilterBuildContext::FilterBuildContext(const FilterSpec& spec, ChainBuildState* state)
    : spec_(spec),
      own_state_(state == nullptr ? std::make_unique<ChainBuildState>() : nullptr),
      state_(state == nullptr ? own_state_.get() : state),
      config_(spec.config ? std::make_unique<YAML::Node>(*spec.config)
                          : std::make_unique<YAML::Node>()) {}

FilterBuildContext::~FilterBuildContext() = default;

const YAML::Node& FilterBuildContext::config() const { return *config_; }

int FilterBuildContext::lineOf(const YAML::Node& node) const {
  try {
    if (node.IsDefined()) {
      YAML::Mark mark = node.Mark();
      if (!mark.is_null() && mark.line >= 0) return mark.line + 1;
    }
  } catch (const YAML::Exception&) {
    // An invalid node has no position: fall back to the entry's.
  }
  return spec_.config_line > 0 ? spec_.config_line : spec_.line;
}

std::string FilterBuildContext::where(const YAML::Node& node) const {
  std::string out = spec_.file.empty() ? std::string("<config>") : spec_.file;
  int line = lineOf(node);
  if (line > 0) out += ":" + std::to_string(line);
  return out;
}

void FilterBuildContext::error(const YAML::Node& node, std::string_view message) {
  errors_.push_back(locate(spec_.file, lineOf(node), message));
}

void FilterBuildContext::error(std::string_view message) {
  errorAtLine(spec_.config_line > 0 ? spec_.config_line : spec_.line, message);
}

void FilterBuildContext::errorAtLine(int line, std::string_view message) {
  errors_.push_back(locate(spec_.file, line, message));
}

Error FilterBuildContext::fail() const {
  if (errors_.empty()) {
    return makeError("config", locate(spec_.file, spec_.line,
                                      "filter '" + spec_.filter + "' rejected its config"));
  }
  return makeError("config", joined(errors_));
}

std::string FilterBuildContext::defaultWhat() const { return spec_.filter + " config"; }

bool FilterBuildContext::expectMap(const YAML::Node& node, std::string_view what) {
  if (isNullish(node) || node.IsMap()) return true;
  error(node, (what.empty() ? defaultWhat() : std::string(what)) + " must be a map");
  return false;
}

bool FilterBuildContext::rejectUnknownKeys(const YAML::Node& map,
                                           std::initializer_list<std::string_view> known,
                                           std::string_view what) {
  if (!map.IsDefined() || !map.IsMap()) return true;  // expectMap() reports the shape
  std::string where_in = what.empty() ? defaultWhat() : std::string(what);
  std::vector<std::string> known_names(known.begin(), known.end());
  std::set<std::string, std::less<>> seen;
  bool clean = true;
  try {
    for (auto it = map.begin(); it != map.end(); ++it) {
      YAML::Node key = it->first;  // a copy: `it->` returns a temporary proxy
      if (!key.IsScalar()) {
        error(key, "keys of " + where_in + " must be plain names");
        clean = false;
        continue;
      }
      const std::string& name = key.Scalar();
      if (!seen.insert(name).second) {
        error(key, "duplicate key " + quote(name) + " in " + where_in);
        clean = false;
        continue;
      }
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      std::string hint = closestName(name, known_names);
      std::string message = "unknown key " + quote(name) + " in " + where_in;
      if (!hint.empty()) {
        message += ", did you mean " + quote(hint) + "?";
      } else {
        message += " (expected one of: " + joinNames(known_names) + ")";
      }
      error(key, message);
      clean = false;
    }
  } catch (const YAML::Exception& e) {
    errorAtLine(e.mark.is_null() ? lineOf(map) : e.mark.line + 1, e.msg);
    return false;
  }
  return clean;
}

bool FilterBuildContext::has(const YAML::Node& map, std::string_view key) const {
  try {
    auto v = findKey(map, key);
    return v && !isNullish(*v);
  } catch (const YAML::Exception&) {
    return false;
  }
}

FilterBuildContext::Lookup FilterBuildContext::lookup(const YAML::Node& map, std::string_view key,
                                                      Presence presence, YAML::Node* value) {
  std::optional<YAML::Node> found;
  try {
    found = findKey(map, key);
  } catch (const YAML::Exception& e) {
    errorAtLine(e.mark.is_null() ? lineOf(map) : e.mark.line + 1, e.msg);
    return Lookup::Failed;
  }
  if (!found || isNullish(*found)) {
    if (presence == Presence::Optional) return Lookup::Absent;
    // A key written with no value is located at itself; a missing one at its map, and at
    // `config:` itself when the map is the whole config (a block map starts at its first key).
    bool at_root = &map == config_.get() || map.is(*config_);
    std::string message = "missing " + quote(key) + (at_root ? " in " + defaultWhat() : "");
    if (!found && at_root && spec_.config_line > 0) {
      errorAtLine(spec_.config_line, message);
    } else {
      error(found ? *found : map, message);
    }
    return Lookup::Failed;
  }
  *value = *found;
  return Lookup::Present;
}

YAML::Node FilterBuildContext::child(const YAML::Node& map, std::string_view key,
                                     Presence presence) {
  YAML::Node value;
  if (lookup(map, key, presence, &value) != Lookup::Present) return YAML::Node();
  return value;
}

std::vector<YAML::Node> FilterBuildContext::items(const YAML::Node& map, std::string_view key,
                                                  Presence presence) {
  YAML::Node value;
  if (lookup(map, key, presence, &value) != Lookup::Present) return {};
  if (!value.IsSequence()) {
    error(value, quote(key) + " must be a list");
    return {};
  }
  std::vector<YAML::Node> out;
  out.reserve(value.size());
  for (auto it = value.begin(); it != value.end(); ++it) out.push_back(*it);
  return out;
}

bool FilterBuildContext::asString(const YAML::Node& node, std::string_view what, std::string& out) {
  if (!node.IsDefined() || !node.IsScalar()) {
    error(node, quote(what) + " must be a string");
    return false;
  }
  out = node.Scalar();
  return true;
}

bool FilterBuildContext::asUint(const YAML::Node& node, std::string_view what, uint64_t& out,
                                uint64_t min, uint64_t max) {
  if (!node.IsDefined() || !node.IsScalar()) {
    error(node, quote(what) + " must be a whole number");
    return false;
  }
  const std::string& s = node.Scalar();
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) {
    error(node, quote(what) + " is too large: " + s);
    return false;
  }
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    error(node, quote(what) + " must be a whole number, got " + quote(s));
    return false;
  }
  if (v < min || v > max) {
    error(node, quote(what) + " must be between " + std::to_string(min) + " and " +
                    std::to_string(max) + ", got " + s);
    return false;
  }
  out = v;
  return true;
}

bool FilterBuildContext::read(const YAML::Node& map, std::string_view key, std::string& out,
                              Presence presence) {
  YAML::Node value;
  Lookup found = lookup(map, key, presence, &value);
  if (found != Lookup::Present) return found == Lookup::Absent;
  return asString(value, key, out);
}

bool FilterBuildContext::read(const YAML::Node& map, std::string_view key, bool& out,
                              Presence presence) {
  YAML::Node value;
  Lookup found = lookup(map, key, presence, &value);
  if (found != Lookup::Present) return found == Lookup::Absent;
  bool v = false;
  if (!value.IsScalar() || !YAML::convert<bool>::decode(value, v)) {
    error(value, quote(key) + " must be true or false");
    return false;
  }
  out = v;
  return true;
}

bool FilterBuildContext::read(const YAML::Node& map, std::string_view key, uint64_t& out,
                              Presence presence, uint64_t min, uint64_t max) {
  YAML::Node value;
  Lookup found = lookup(map, key, presence, &value);
  if (found != Lookup::Present) return found == Lookup::Absent;
  return asUint(value, key, out, min, max);
}

bool FilterBuildContext::read(const YAML::Node& map, std::string_view key, uint32_t& out,
                              Presence presence, uint32_t min, uint32_t max) {
  uint64_t v = out;
  if (!read(map, key, v, presence, min, max)) return false;
  out = static_cast<uint32_t>(v);  // within [min, max] ⊆ uint32_t
  return true;
}

bool FilterBuildContext::read(const YAML::Node& map, std::string_view key, int64_t& out,
                              Presence presence, int64_t min, int64_t max) {
  YAML::Node value;
  Lookup found = lookup(map, key, presence, &value);
  if (found != Lookup::Present) return found == Lookup::Absent;
  const std::string s = value.IsScalar() ? value.Scalar() : std::string();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!value.IsScalar() || s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    error(value, quote(key) + " must be a whole number" + (s.empty() ? "" : ", got " + quote(s)));
    return false;
  }
  if (v < min || v > max) {
    error(value, quote(key) + " must be between " + std::to_string(min) + " and " +
                     std::to_string(max) + ", got " + s);
    return false;
  }
  out = v;
  return true;
}

bool FilterBuildContext::read(const YAML::Node& map, std::string_view key, double& out,
                              Presence presence, double min, double max) {
  YAML::Node value;
  Lookup found = lookup(map, key, presence, &value);
  if (found != Lookup::Present) return found == Lookup::Absent;
  const std::string s = value.IsScalar() ? value.Scalar() : std::string();
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!value.IsScalar() || s.empty() || ec != std::errc() || end != s.data() + s.size() ||
      !std::isfinite(v)) {
    error(value, quote(key) + " must be a number" + (s.empty() ? "" : ", got " + quote(s)));
    return false;
  }
  if (v < min || v > max) {
    error(value, quote(key) + " must be between " + formatNumber(min) + " and " +
                     formatNumber(max) + ", got " + s);
    return false;
  }
  out = v;
  return true;
}

bool FilterBuildContext::read(const YAML::Node& map, std::string_view key,
                              std::vector<std::string>& out, Presence presence) {
  YAML::Node value;
  Lookup found = lookup(map, key, presence, &value);
  if (found != Lookup::Present) return found == Lookup::Absent;
  if (!value.IsSequence()) {
    error(value, quote(key) + " must be a list of strings");
    return false;
  }
  std::vector<std::string> v;
  bool good = true;
  for (auto it = value.begin(); it != value.end(); ++it) {
    YAML::Node item = *it;
    if (!item.IsScalar()) {
      error(item, "items of " + quote(key) + " must be strings");
      good = false;
      continue;
    }
    v.push_back(item.Scalar());
  }
  if (good) out = std::move(v);
  return good;
}

bool FilterBuildContext::readEnum(const YAML::Node& map, std::string_view key, std::string& out,
                                  std::initializer_list<std::string_view> allowed,
                                  Presence presence) {
  YAML::Node value;
  Lookup found = lookup(map, key, presence, &value);
  if (found != Lookup::Present) return found == Lookup::Absent;
  std::string v;
  if (!asString(value, key, v)) return false;
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    std::vector<std::string> names(allowed.begin(), allowed.end());
    std::string message =
        "unknown value " + quote(v) + " for " + quote(key) + " (expected " + joinNames(names) + ")";
    std::string hint = closestName(v, names);
    if (!hint.empty()) message += ", did you mean " + quote(hint) + "?";
    error(value, message);
    return false;
  }
  out = std::move(v);
  return true;
}

// ---------------------------------------------------------------------------------------------
// FilterRegistry

bool FilterRegistry::add(std::string name, Builder builder) {
  return builders_.emplace(std::move(name), std::move(builder)).second;
}

bool FilterRegistry::has(std::string_view name) const { return builders_.contains(name); }

std::vector<std::string> FilterRegistry::names() const {
  std::vector<std::string> out;
  out.reserve(builders_.size());
  for (const auto& [name, builder] : builders_) out.push_back(name);
  return out;
}

Result<std::shared_ptr<FilterFactory>> FilterRegistry::build(const FilterSpec& spec,
                                                             ChainBuildState* state) const {
  auto it = builders_.find(spec.filter);
  if (it == builders_.end()) {
    std::vector<std::string> known = names();
    std::string message = spec.filter.empty() ? std::string("filter entry has no 'filter' name")
                                              : "unknown filter " + quote(spec.filter);
    message +=
        known.empty() ? " (no filters are registered)" : " (known: " + joinNames(known) + ")";
    std::string hint = spec.filter.empty() ? std::string() : closestName(spec.filter, known);
    if (!hint.empty()) message += "; did you mean " + quote(hint) + "?";
    return makeError("config", locate(spec.file, spec.line, message));
  }

  FilterBuildContext ctx(spec, state);
  std::optional<Result<std::shared_ptr<FilterFactory>>> built;
  try {
    built.emplace(it->second(ctx));
  } catch (const YAML::Exception& e) {
    // A builder that used yaml-cpp directly (as<T>() on a bad scalar, say): locate it anyway.
    int line =
        e.mark.is_null() ? (spec.config_line > 0 ? spec.config_line : spec.line) : e.mark.line + 1;
    ctx.errorAtLine(line, spec.filter + " config: " + e.msg);
  } catch (const std::exception& e) {
    ctx.error("filter " + quote(spec.filter) + " could not be built: " + e.what());
  }

  if (ctx.hasErrors()) return ctx.fail();  // even if the builder returned a factory
  if (!built->ok()) {
    const std::string& message = built->error().message;
    // Builders should report through ctx; a bare Error is located at the config.
    if (!spec.file.empty() && message.starts_with(spec.file + ":")) {
      return makeError("config", message);
    }
    ctx.error(message);
    return ctx.fail();
  }
  if (built->value() == nullptr) {
    ctx.error("filter " + quote(spec.filter) + " built no factory");
    return ctx.fail();
  }
  return std::move(*built).value();
}

}  // namespace aiw
