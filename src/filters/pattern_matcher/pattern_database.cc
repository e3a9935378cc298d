#include "filters/pattern_matcher/pattern_database.h"

#include <hs/hs.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <unordered_map>
#include <utility>

#include "filters/pattern_matcher/digit_gate.h"
#include "filters/pattern_matcher/hs_handles.h"
#include "filters/pattern_matcher/pattern_engine.h"
#include "filters/pattern_matcher/regex_shape.h"

namespace aiw {
namespace {

using hs_handles::CompileErrorPtr;
using hs_handles::DatabasePtr;
using hs_handles::ExprInfoPtr;
using Engine = PatternDatabase::Engine;

// Never HS_FLAG_UTF8: network text is not guaranteed valid UTF-8, and Hyperscan's behaviour on
// invalid UTF-8 under that flag is undefined. HS_FLAG_SOM_LEFTMOST only on the confirm databases
// (pattern_engine.h says why the main ones go without).
unsigned baseFlags(bool caseless) { return caseless ? HS_FLAG_CASELESS : 0u; }

// No start-of-match in the stream database, hence no HS_MODE_SOM_HORIZON_*: starts are found in
// the kept tail (PatternStream::kTailBytes). Dropping it cut the stream state per open response
// from ~380 to ~180 bytes and made stream scans ~4x faster.
constexpr unsigned kStreamMode = HS_MODE_STREAM;

// An expression with a required literal this long is driven by Hyperscan's literal matcher.
constexpr size_t kStrongLiteral = 3;

constexpr const char* kEmptyMatch =
    "the pattern matches the empty string (it would match at every position)";

std::atomic<uint64_t> g_next_serial{1};

// Hyperscan's wording for an empty-matching pattern names a flag we deliberately never set.
std::string friendlyMessage(const char* message) {
  std::string m = message ? message : "unknown compile error";
  if (m.find("empty buffer") != std::string::npos) return kEmptyMatch;
  return m;
}

// Parses one expression alone (cheap: no database is built). Returns "" when it is acceptable so
// far and fills the widths.
std::string inspect(const std::string& regex, bool caseless, uint32_t& min_width,
                    uint32_t& max_width) {
  if (regex.find('\0') != std::string::npos) return "the pattern contains a NUL byte";
  hs_expr_info_t* raw_info = nullptr;
  hs_compile_error_t* raw_err = nullptr;
  hs_error_t rc = hs_expression_info(regex.c_str(), baseFlags(caseless), &raw_info, &raw_err);
  ExprInfoPtr info(raw_info);
  CompileErrorPtr err(raw_err);
  if (rc != HS_SUCCESS || !info) return friendlyMessage(err ? err->message : nullptr);
  if (info->min_width == 0) return kEmptyMatch;
  min_width = info->min_width;
  max_width = info->max_width;  // UINT_MAX when unbounded, which is Engine::kUnbounded
  return {};
}

// One Hyperscan expression of a spec, before compiling.
struct Candidate {
  uint32_t spec = 0;
  std::string regex;
  bool caseless = false;
  uint32_t min_width = 0;
  uint32_t max_width = 0;
  int group = 0;  // which block database: see scanGroup()
};

// Block-mode databases by what drives their expressions: the literal matcher (a required literal
// of 3+ bytes), automata woken by lowercase letters, other automata (punctuation, capitals), and
// digit-driven automata, scanned only near clusters of digits (digit_gate.h). Measured on
// prompt-like text, one database holding all of them scans 2-3x slower than separate ones scanned
// in turn: Hyperscan merges the automata of one database into engines that then run wherever any
// of them would.
constexpr int kGroups = 3;
constexpr int kGated = kGroups;

int scanGroup(const Candidate& c) {
  if (regex_shape::requiredLiteralLength(c.regex) >= kStrongLiteral) return 0;
  if (regex_shape::mayStartWithLowercase(c.regex, c.caseless)) return 1;
  if (c.max_width <= digit_gate::kGateWidth &&
      regex_shape::clusteredDigits(c.regex, digit_gate::kGateGap) >= digit_gate::kGateDigits) {
    return kGated;
  }
  return 2;
}

// Collects the error lines, one per bad spec, and which specs are bad.
class Problems {
 public:
  explicit Problems(const std::vector<DetectorSpec>& specs)
      : specs_(specs), bad_(specs.size(), false) {}
  void add(uint32_t spec, const std::string& message) {
    if (bad_[spec]) return;
    bad_[spec] = true;
    const std::string& id = specs_[spec].id;
    lines_.push_back((id.empty() ? "(detector #" + std::to_string(spec) + ")" : id) + ": " +
                     message);
  }
  void addGeneral(const std::string& line) { lines_.push_back(line); }
  bool bad(uint32_t spec) const { return bad_[spec]; }
  bool any() const { return !lines_.empty(); }
  const std::vector<std::string>& lines() const { return lines_; }
  std::string joined() const {
    std::string out;
    for (const std::string& l : lines_) out += (out.empty() ? "" : "\n") + l;
    return out;
  }

 private:
  const std::vector<DetectorSpec>& specs_;
  std::vector<bool> bad_;
  std::vector<std::string> lines_;
};

// Compiles the candidates whose indices are in `live` (also their Hyperscan ids). A candidate
// Hyperscan refuses marks its spec bad, every candidate of that spec leaves `live`, and the rest
// is compiled again, so that every bad pattern is listed rather than the first. Returns null
// when nothing is left, or on a failure not tied to one expression (then a line of its own).
DatabasePtr compileLive(const std::vector<Candidate>& cands, std::vector<unsigned>& live,
                        unsigned mode, unsigned extra_flags, Problems& problems) {
  while (!live.empty()) {
    std::vector<const char*> exprs;
    std::vector<unsigned> flags;
    for (unsigned i : live) {
      exprs.push_back(cands[i].regex.c_str());
      flags.push_back(baseFlags(cands[i].caseless) | extra_flags);
    }
    hs_database_t* raw_db = nullptr;
    hs_compile_error_t* raw_err = nullptr;
    hs_error_t rc =
        hs_compile_multi(exprs.data(), flags.data(), live.data(),
                         static_cast<unsigned>(live.size()), mode, nullptr, &raw_db, &raw_err);
    DatabasePtr db(raw_db);
    CompileErrorPtr err(raw_err);
    if (rc == HS_SUCCESS) return db;
    int bad = err ? err->expression : -1;
    if (bad < 0 || static_cast<size_t>(bad) >= live.size()) {
      problems.addGeneral("(database): " + friendlyMessage(err ? err->message : nullptr));
      live.clear();
      return nullptr;
    }
    const uint32_t spec = cands[live[bad]].spec;
    problems.add(spec, friendlyMessage(err->message));
    std::erase_if(live, [&](unsigned i) { return cands[i].spec == spec; });
  }
  return nullptr;
}

// Splits each good spec into candidates; a spec whose branches do not inspect cleanly alone is
// kept whole (the split is an optimisation, never a change of meaning).
std::vector<Candidate> candidatesOf(const std::vector<DetectorSpec>& specs, Problems& problems) {
  std::vector<Candidate> cands;
  for (uint32_t s = 0; s < specs.size(); ++s) {
    if (problems.bad(s)) continue;
    std::vector<Candidate> mine;
    for (std::string& branch : regex_shape::topLevelBranches(specs[s].regex)) {
      Candidate c;
      c.spec = s;
      c.regex = std::move(branch);
      c.caseless = specs[s].caseless;
      if (!inspect(c.regex, c.caseless, c.min_width, c.max_width).empty()) {
        mine.clear();
        break;
      }
      mine.push_back(std::move(c));
    }
    if (mine.empty()) {
      Candidate c;
      c.spec = s;
      c.regex = specs[s].regex;
      c.caseless = specs[s].caseless;
      std::string problem = inspect(c.regex, c.caseless, c.min_width, c.max_width);
      if (!problem.empty()) {
        problems.add(s, problem);
        continue;
      }
      mine.push_back(std::move(c));
    }
    for (Candidate& c : mine) {
      c.group = scanGroup(c);
      cands.push_back(std::move(c));
    }
  }
  return cands;
}

// Builds the engine of `specs`, whose ids are already checked. Null with `problems` filled when
// any pattern is refused.
std::unique_ptr<Engine> build(const std::vector<DetectorSpec>& specs, Problems& problems) {
  std::vector<Candidate> cands = candidatesOf(specs, problems);
  auto engine = std::make_unique<Engine>();

  std::vector<unsigned> live;
  for (unsigned i = 0; i < cands.size(); ++i) live.push_back(i);
  // Streams scan the gated expressions in block mode over windows near clusters of digits
  // (PatternStream): the stream database holds the others. The refusals of a stream compile
  // leave `live` through the spec's bad mark below.
  std::vector<unsigned> streamed;
  for (unsigned i : live) {
    if (cands[i].group != kGated) streamed.push_back(i);
  }
  engine->stream = compileLive(cands, streamed, kStreamMode, 0, problems);
  std::erase_if(live, [&](unsigned i) { return problems.bad(cands[i].spec); });
  for (int g = 0; g <= kGated; ++g) {
    std::vector<unsigned> group;
    for (unsigned i : live) {
      if (cands[i].group == g) group.push_back(i);
    }
    if (group.empty()) continue;
    DatabasePtr db = compileLive(cands, group, HS_MODE_BLOCK, 0, problems);
    if (!db) continue;
    if (g == kGated) {
      engine->gated = std::move(db);
      for (unsigned i : group) {
        engine->gated_max_width = std::max(engine->gated_max_width, cands[i].max_width);
      }
    } else {
      engine->block.push_back(std::move(db));
    }
  }
  // Start-of-match tracking has limits of its own (large bounded repeats are "too large"); a
  // variable-width expression it refuses is refused.
  for (unsigned i : live) {
    if (problems.bad(cands[i].spec)) continue;
    if (cands[i].min_width == cands[i].max_width) continue;
    std::vector<unsigned> one{i};
    DatabasePtr db = compileLive(cands, one, HS_MODE_BLOCK, HS_FLAG_SOM_LEFTMOST, problems);
    if (db) engine->confirms.push_back(std::move(db));
  }
  if (problems.any()) return nullptr;

  // No errors: every candidate is live and its index is its Hyperscan id.
  size_t next_confirm = 0;
  for (const Candidate& c : cands) {
    Engine::Expression x;
    x.detector = c.spec;
    x.min_width = c.min_width;
    x.max_width = c.max_width;
    if (!x.fixedWidth()) x.confirm = engine->confirms[next_confirm++].get();
    engine->expressions.push_back(x);
  }
  return engine;
}

}  // namespace

PatternDatabase::PatternDatabase() = default;
PatternDatabase::~PatternDatabase() = default;

Result<std::shared_ptr<const PatternDatabase>> PatternDatabase::compile(
    std::vector<DetectorSpec> specs) {
  Problems problems(specs);
  std::unordered_map<std::string_view, size_t> seen;
  for (uint32_t i = 0; i < specs.size(); ++i) {
    const DetectorSpec& s = specs[i];
    if (s.id.empty()) {
      problems.add(i, "the id is empty");
      continue;
    }
    auto [it, inserted] = seen.emplace(s.id, i);
    if (!inserted) {
      problems.add(i, "duplicate id (detector #" + std::to_string(it->second) + " has it too)");
      continue;
    }
    uint32_t min_width = 0, max_width = 0;
    std::string problem = inspect(s.regex, s.caseless, min_width, max_width);
    if (!problem.empty()) problems.add(i, problem);
  }
  std::unique_ptr<Engine> engine;
  if (!specs.empty()) engine = build(specs, problems);
  if (problems.any()) return makeError("bad_pattern", problems.joined());

  std::shared_ptr<PatternDatabase> db(new PatternDatabase());
  db->specs_ = std::move(specs);
  db->engine_ = std::move(engine);
  db->serial_ = g_next_serial.fetch_add(1, std::memory_order_relaxed);
  return std::shared_ptr<const PatternDatabase>(std::move(db));
}

Result<void> PatternDatabase::checkRegex(std::string_view regex, bool caseless) {
  std::vector<DetectorSpec> one(1);
  one[0].id = "pattern";
  one[0].regex = std::string(regex);
  one[0].caseless = caseless;
  uint32_t min_width = 0, max_width = 0;
  std::string problem = inspect(one[0].regex, caseless, min_width, max_width);
  if (!problem.empty()) return makeError("bad_pattern", problem);
  Problems problems(one);
  build(one, problems);
  if (!problems.any()) return {};
  // The caller names the pattern itself: drop the placeholder id.
  std::string m = problems.lines().front();
  constexpr std::string_view kPrefix = "pattern: ";
  if (m.compare(0, kPrefix.size(), kPrefix) == 0) m.erase(0, kPrefix.size());
  return makeError("bad_pattern", std::move(m));
}

int64_t PatternDatabase::indexOf(std::string_view id) const {
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].id == id) return static_cast<int64_t>(i);
  }
  return -1;
}

}  // namespace aiw
