// FilterRegistry: filter names (the `filter:` of a filters.d file) mapped to the builders that
// turn one FilterSpec into a FilterFactory. Filled once at start-up by registerBuiltinFilters()
// (builtin_filters.h), then only read; building runs at load and reload, never on the data path.
//
// A builder validates its own `config:` through FilterBuildContext, which locates every error as
// `FILE:LINE: message` and collects them all, so `aiwarden check` lists every mistake at once.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "filters/filter.h"

namespace YAML {
class Node;
}

namespace aiw {

class FilterChain;  // filters/chain.h
class Reporter;     // filters/reporter/reporter.h

// The entry of `known` closest to `wrong` (edit distance, a transposition counting as one),
// or "" when none is close enough to be a plausible typo.
std::string closestName(std::string_view wrong, std::span<const std::string> known);

// What the builders of one chain share while it is built (buildFilterChain): the rules come first,
// because the pattern_matcher compiles every rule's match_pattern into its one database.
struct ChainBuildState {
  // In: the ruleset replacing the rule_evaluator's configured `rules:` (the JSON that PUT
  // /proxy/v1/rules stored); empty: the configured rules stand.
  std::string rules_override_json;
  // In: the configuration's fail_mode, for filters that fail on their own (a scan error).
  FailMode fail_mode = FailMode::Closed;
  // In: the process-wide reporting service the reporter stage submits to (owned by the server's
  // Runtime; shared so a snapshot keeps it alive). Null: `check` and lone builds report nothing.
  std::shared_ptr<Reporter> reporter;
  // In: the chain this build replaces (a reload, an admin update); each new stage inherits its
  // counterpart's live state and counters (FilterChain::inheritStateFrom). Null at start-up.
  const FilterChain* previous = nullptr;
  // A reporter stage was built: a second one is an error.
  bool reporter_seen = false;
  // Out of the rule_evaluator builder, read by the pattern_matcher builder.
  struct RulePattern {
    std::string detector_id;  // "rule:<name>"
    std::string regex;
  };
  std::vector<RulePattern> rule_patterns;
  // Some rule has a match_pattern or match_detector: the chain needs a pattern_matcher before
  // the rule_evaluator, or those rules could never hold.
  bool rules_need_scan = false;
};

// Handed to a builder for one FilterSpec. Holds the spec, collects errors, and offers the
// checks every builder needs. The readers never throw: yaml-cpp exceptions stop here.
//
// Every reader takes a map node and a key, reports a located error itself when the value is
// present but wrong, and returns whether `out` is usable. A key that is absent or null leaves
// `out` untouched (its default) and is fine unless the presence is Required.
class FilterBuildContext {
 public:
  enum class Presence { Optional, Required };

  explicit FilterBuildContext(const FilterSpec& spec, ChainBuildState* state = nullptr);
  ~FilterBuildContext();
  FilterBuildContext(const FilterBuildContext&) = delete;
  FilterBuildContext& operator=(const FilterBuildContext&) = delete;

  const FilterSpec& spec() const { return spec_; }
  // The chain-wide build state; a fresh empty one when the spec is built alone.
  ChainBuildState& state() { return *state_; }
  // The spec's `config:` node; a Null node when the entry has none.
  const YAML::Node& config() const;

  // ---- errors ----
  // "FILE:LINE" of `node` (its own line when it came from a parsed file, else the `config:` line,
  // else the entry's line).
  std::string where(const YAML::Node& node) const;
  // The 1-based line used by where().
  int lineOf(const YAML::Node& node) const;
  // Records "FILE:LINE: message" located at `node`.
  void error(const YAML::Node& node, std::string_view message);
  // Records "FILE:LINE: message" located at `config:` (or the entry when it has no config).
  void error(std::string_view message);
  // Records "FILE:LINE: message" at a known 1-based line.
  void errorAtLine(int line, std::string_view message);
  // Records an error that already says where it is ("FILE:LINE: message").
  void errorLocated(std::string_view located) { errors_.emplace_back(located); }
  bool hasErrors() const { return !errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }
  // What a builder returns once it has reported errors: Error{"config", errors joined by "\n"}.
  Error fail() const;

  // ---- structure ----
  // True when `node` is a map, or null/absent (an empty map: `config:` may be left out).
  // Otherwise reports "<what> must be a map" and returns false. `what` defaults to
  // "<filter> config".
  bool expectMap(const YAML::Node& node, std::string_view what = {});
  // Reports every key of `map` not in `known` ("unknown key 'x' in <what>, did you mean 'y'?"),
  // every duplicate key, and every key that is not a plain scalar. Returns true when none.
  bool rejectUnknownKeys(const YAML::Node& map, std::initializer_list<std::string_view> known,
                         std::string_view what = {});
  // Whether `map` has `key` with a non-null value.
  bool has(const YAML::Node& map, std::string_view key) const;
  // The value of `key` in `map` (the first one when duplicated), or a Null node when absent.
  // Reports a missing key when Required.
  YAML::Node child(const YAML::Node& map, std::string_view key,
                   Presence presence = Presence::Optional);
  // The items of the sequence at `key` (empty when absent or null). A value that is not a
  // sequence is reported and yields no items.
  std::vector<YAML::Node> items(const YAML::Node& map, std::string_view key,
                                Presence presence = Presence::Optional);

  // ---- typed values ----
  bool read(const YAML::Node& map, std::string_view key, std::string& out,
            Presence presence = Presence::Optional);
  // Accepts true/false (and yaml-cpp's yes/no/on/off).
  bool read(const YAML::Node& map, std::string_view key, bool& out,
            Presence presence = Presence::Optional);
  // Decimal integers only, checked against [min, max].
  bool read(const YAML::Node& map, std::string_view key, uint64_t& out,
            Presence presence = Presence::Optional, uint64_t min = 0, uint64_t max = UINT64_MAX);
  bool read(const YAML::Node& map, std::string_view key, uint32_t& out,
            Presence presence = Presence::Optional, uint32_t min = 0, uint32_t max = UINT32_MAX);
  bool read(const YAML::Node& map, std::string_view key, int64_t& out,
            Presence presence = Presence::Optional, int64_t min = INT64_MIN,
            int64_t max = INT64_MAX);
  // Finite numbers checked against [min, max].
  bool read(const YAML::Node& map, std::string_view key, double& out,
            Presence presence = Presence::Optional, double min = -1e308, double max = 1e308);
  // A sequence of strings; a single string is not accepted (a list must look like a list).
  bool read(const YAML::Node& map, std::string_view key, std::vector<std::string>& out,
            Presence presence = Presence::Optional);
  // A string that must be one of `allowed` ("unknown value 'x' for 'key' (expected a, b)").
  bool readEnum(const YAML::Node& map, std::string_view key, std::string& out,
                std::initializer_list<std::string_view> allowed,
                Presence presence = Presence::Optional);

  // The same checks on a node already in hand (a sequence item, say); `what` names it in errors.
  bool asString(const YAML::Node& node, std::string_view what, std::string& out);
  bool asUint(const YAML::Node& node, std::string_view what, uint64_t& out, uint64_t min = 0,
              uint64_t max = UINT64_MAX);

 private:
  enum class Lookup { Absent, Present, Failed };
  // Looks `key` up in `map` into *value. Absent covers null values; a Required key that is
  // absent is reported and comes back Failed.
  Lookup lookup(const YAML::Node& map, std::string_view key, Presence presence, YAML::Node* value);
  std::string defaultWhat() const;

  const FilterSpec& spec_;              // the caller's; outlives the context (it is built from it)
  std::unique_ptr<ChainBuildState> own_state_;  // when the caller gave none
  ChainBuildState* state_;
  std::unique_ptr<YAML::Node> config_;  // a handle on *spec_.config, or a Null node
  std::vector<std::string> errors_;
};

class FilterRegistry {
 public:
  // Validates ctx.config() and returns the factory, or reports through ctx and returns
  // ctx.fail(). Runs at load and reload, on the thread that loads the configuration.
  using Builder = std::function<Result<std::shared_ptr<FilterFactory>>(FilterBuildContext&)>;

  // Registers `name`; false (and nothing changed) when the name is already taken: a programming
  // error that the builtin list test catches.
  bool add(std::string name, Builder builder);
  bool has(std::string_view name) const;
  // Sorted.
  std::vector<std::string> names() const;

  // Builds the factory of one spec. Errors (code "config") are `FILE:LINE: message` lines joined
  // by "\n": an unknown name (with a did-you-mean and the known names), or whatever the builder
  // reported. Exceptions thrown by yaml-cpp inside a builder are caught and located here.
  // `state` is shared by the builders of one chain (null: a fresh one for this spec alone).
  Result<std::shared_ptr<FilterFactory>> build(const FilterSpec& spec,
                                               ChainBuildState* state = nullptr) const;

 private:
  std::map<std::string, Builder, std::less<>> builders_;
};

// "FILE:LINE: message" ("FILE: message" when line is 0; "<config>" when file is empty).
std::string locate(std::string_view file, int line, std::string_view message);

}  // namespace aiw
