#include "filters/chain.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "filters/registry.h"

namespace aiw {
namespace {

constexpr uint16_t kDefaultBlockStatus = 403;

Verdict withBlockStatus(Verdict v) {
  if (v.action == Action::Block && v.status == 0) v.status = kDefaultBlockStatus;
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// FilterChain

FilterCounterValues FilterChain::Entry::counters() const {
  const Counters& c = *counters_;
  FilterCounterValues v;
  v.invocations = c.invocations.load(std::memory_order_relaxed);
  v.continues = c.continues.load(std::memory_order_relaxed);
  v.blocks = c.blocks.load(std::memory_order_relaxed);
  v.bypasses = c.bypasses.load(std::memory_order_relaxed);
  v.need_more_data = c.need_more_data.load(std::memory_order_relaxed);
  v.over_limit = c.over_limit.load(std::memory_order_relaxed);
  return v;
}

std::vector<FilterStat> FilterChain::Entry::stats() const {
  std::vector<FilterStat> out = stage_.factory->stats();
  if (carried_stats_.empty()) return out;
  for (FilterStat& st : out) {
    if (st.gauge || st.process_wide) continue;
    if (auto it = carried_stats_.find(st.name); it != carried_stats_.end()) st.value += it->second;
  }
  return out;
}

void FilterChain::Entry::carryCountersFrom(const Entry& previous) {
  counters_ = previous.counters_;
  for (const FilterStat& st : previous.stats()) {
    if (!st.gauge && !st.process_wide) carried_stats_[st.name] = st.value;
  }
}

void FilterChain::Entry::record(Action action) const {
  Counters& c = *counters_;
  c.invocations.fetch_add(1, std::memory_order_relaxed);
  switch (action) {
    case Action::Continue:
      c.continues.fetch_add(1, std::memory_order_relaxed);
      break;
    case Action::NeedMoreData:
      c.need_more_data.fetch_add(1, std::memory_order_relaxed);
      break;
    case Action::Bypass:
      c.bypasses.fetch_add(1, std::memory_order_relaxed);
      break;
    case Action::Block:
      c.blocks.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

void FilterChain::Entry::recordOverLimit() const {
  counters_->over_limit.fetch_add(1, std::memory_order_relaxed);
}

FilterChain::FilterChain(std::vector<Stage> stages) {
  for (auto& stage : stages) {
    PeekLimits limits = stage.factory->peekLimits();
    peek_limits_.max_bytes = std::max(peek_limits_.max_bytes, limits.max_bytes);
    peek_limits_.timeout_ms = std::max(peek_limits_.timeout_ms, limits.timeout_ms);
    entries_.emplace_back(std::move(stage));
  }
}

void FilterChain::inheritStateFrom(const FilterChain& previous) {
  std::map<std::string, size_t, std::less<>> rank;  // stages of each filter seen so far
  for (Entry& entry : entries_) {
    const size_t want = rank[entry.name()]++;
    size_t seen = 0;
    for (const Entry& old : previous.entries()) {
      if (old.name() != entry.name()) continue;
      if (seen++ == want) {
        entry.factory().inheritState(old.factory());
        entry.carryCountersFrom(old);
        break;
      }
    }
  }
}

Result<std::shared_ptr<const FilterChain>> buildFilterChain(const std::vector<FilterSpec>& specs,
                                                            const FilterRegistry& registry,
                                                            ChainBuildState state) {
  // The rule_evaluator is built first, whatever its place: the pattern_matcher compiles the
  // rules' match_patterns into its database (ChainBuildState).
  constexpr std::string_view kRules = "rule_evaluator";
  constexpr std::string_view kPatterns = "pattern_matcher";
  std::vector<std::optional<Result<std::shared_ptr<FilterFactory>>>> built(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].enabled && specs[i].filter == kRules) {
      built[i].emplace(registry.build(specs[i], &state));
    }
  }
  std::vector<FilterChain::Stage> stages;
  std::string errors;
  auto addError = [&errors](const std::string& message) {
    if (!errors.empty()) errors += '\n';
    errors += message;
  };
  bool pattern_matcher_seen = false;
  for (size_t i = 0; i < specs.size(); ++i) {
    const FilterSpec& spec = specs[i];
    // A disabled entry is not built at all: operators disable a stage to take it out, and its
    // config may be half-written.
    if (!spec.enabled) continue;
    if (!built[i]) built[i].emplace(registry.build(spec, &state));
    auto& factory = *built[i];
    if (!factory.ok()) {
      addError(factory.error().message);
      continue;
    }
    if (spec.filter == kPatterns) pattern_matcher_seen = true;
    if (spec.filter == kRules && state.rules_need_scan && !pattern_matcher_seen) {
      addError(locate(spec.file, spec.line,
                      "rules use match_pattern or match_detector, which need a pattern_matcher "
                      "stage before the rule_evaluator"));
    }
    stages.push_back({spec.filter, spec.file, spec.line, std::move(factory).value()});
  }
  if (!errors.empty()) return makeError("config", std::move(errors));
  auto chain = std::make_shared<FilterChain>(std::move(stages));
  if (state.previous != nullptr) chain->inheritStateFrom(*state.previous);
  return std::shared_ptr<const FilterChain>(std::move(chain));
}

// ---------------------------------------------------------------------------------------------
// ConnectionFilterChain

ConnectionFilterChain::ConnectionFilterChain(std::shared_ptr<const FilterChain> chain,
                                             size_t max_peek_bytes)
    : chain_(std::move(chain)), max_peek_bytes_(max_peek_bytes) {
  if (chain_ == nullptr) return;
  stages_.reserve(chain_->entries().size());  // one allocation per exchange, not one per growth
  for (const auto& entry : chain_->entries()) {
    if (auto filter = entry.factory().createConnectionFilter()) {
      stages_.push_back({&entry, std::move(filter)});
    }
  }
}

ConnectionFilterChain::~ConnectionFilterChain() = default;

Verdict ConnectionFilterChain::run(ConnectionInfo& conn, std::span<const uint8_t> peeked,
                                   bool no_more_data) {
  if (decided_) return decision_;
  while (next_ < stages_.size()) {
    Stage& stage = stages_[next_];
    Verdict v = stage.filter->onConnection(conn, peeked);
    stage.entry->record(v.action);
    switch (v.action) {
      case Action::Continue:
        ++next_;
        break;
      case Action::NeedMoreData:
        // Past the bound (or with nothing more to come) the filter decides on what it has.
        if (no_more_data || peeked.size() >= max_peek_bytes_) {
          ++next_;
          break;
        }
        return v;
      case Action::Bypass:
        conn.bypassed = true;
        decided_ = true;
        decision_ = std::move(v);
        return decision_;
      case Action::Block:
        decided_ = true;
        decision_ = withBlockStatus(std::move(v));
        return decision_;
    }
  }
  decided_ = true;
  decision_ = Verdict::next();
  return decision_;
}

void ConnectionFilterChain::close(const ConnectionInfo& conn) {
  if (closed_) return;
  closed_ = true;
  for (auto& stage : stages_) stage.filter->onConnectionClose(conn);
}

// ---------------------------------------------------------------------------------------------
// StreamFilterChain
//
// Model: per direction, bytes enter at stage 0 and flow stage by stage. A stage answering
// NeedMoreData keeps what reached it (Side::pending) and the flow stops there; the next bytes
// flow from stage 0 again, and on reaching a holding stage are appended to what it holds, and it
// is called with the lot. So the further down the chain bytes are, the older they are: releasing
// everything at once (Bypass, fail-open) emits stages from the last to the first.
//
// Held headers: a stage answering NeedMoreData to headers is their holder, and the headers stay
// held until the whole body has been through it. Bytes it lets through before the end wait
// (Side::parked, counted against the limit); with the last bytes, the header phases of the
// stages after it run, then those stages see the body. Hence bytes that reach the end of the
// chain always come after headers that passed every stage, and while headers are held, no body
// byte comes out: the listener can forward headers + the whole body with an exact length. The
// exceptions are a Bypass and fail-open past the limit, which let everything go as it is.

StreamFilterChain::StreamFilterChain(std::shared_ptr<const FilterChain> chain,
                                     uint64_t max_inspect_body_bytes, FailMode fail_mode)
    : chain_(std::move(chain)),
      max_inspect_body_bytes_(max_inspect_body_bytes),
      fail_mode_(fail_mode) {
  request_.request = true;
  response_.request = false;
  if (chain_ == nullptr) return;
  stages_.reserve(chain_->entries().size());  // one allocation per exchange, not one per growth
  for (const auto& entry : chain_->entries()) {
    if (auto filter = entry.factory().createStreamFilter()) {
      stages_.push_back({&entry, std::move(filter), false});
    }
  }
}

StreamFilterChain::~StreamFilterChain() = default;

Verdict StreamFilterChain::requestHeaders(StreamInfo& s, Headers& headers, bool end_stream) {
  return headersPhase(request_, s, headers, end_stream);
}

Verdict StreamFilterChain::requestBody(StreamInfo& s, Buffer& chunk, bool end_stream) {
  return bodyPhase(request_, s, chunk, end_stream);
}

Verdict StreamFilterChain::responseHeaders(StreamInfo& s, Headers& headers, bool end_stream) {
  return headersPhase(response_, s, headers, end_stream);
}

Verdict StreamFilterChain::responseBody(StreamInfo& s, Buffer& chunk, bool end_stream) {
  return bodyPhase(response_, s, chunk, end_stream);
}

void StreamFilterChain::complete(StreamInfo& s) {
  if (completed_) return;
  completed_ = true;
  dropBuffered(request_);
  dropBuffered(response_);
  for (auto& stage : stages_) stage.filter->onComplete(s);
}

Verdict StreamFilterChain::headersPhase(Side& side, StreamInfo& s, Headers& headers,
                                        bool end_stream) {
  if (blocked_) return block_;
  if (bypassed_) return Verdict::bypass();
  return runHeaders(side, s, 0, headers, end_stream);
}

Verdict StreamFilterChain::bodyPhase(Side& side, StreamInfo& s, Buffer& chunk, bool end_stream) {
  if (blocked_) {
    chunk.clear();
    return block_;
  }
  if (bypassed_) return Verdict::bypass();
  if (stages_.empty()) return Verdict::next();
  // flow() moves `chunk` on (to out_ or to a holding stage): it is empty here until refilled.
  Verdict v = flow(side, s, 0, chunk, end_stream, out_);
  if (v.action == Action::Block) {
    chunk.clear();
    out_.clear();
    return v;
  }
  chunk.moveFrom(out_);
  // A fail-open release can let older bytes out while newer ones are held again: those go now.
  if (v.action == Action::NeedMoreData && !chunk.empty()) return Verdict::next();
  return v;
}

Verdict StreamFilterChain::runHeaders(Side& side, StreamInfo& s, size_t from, Headers& headers,
                                      bool end_stream) {
  for (size_t i = from; i < stages_.size(); ++i) {
    if (stages_[i].skipped) continue;
    Verdict v = callHeaders(side, i, s, headers, end_stream);
    switch (v.action) {
      case Action::Continue:
        break;
      case Action::NeedMoreData:
        if (end_stream) break;  // no body is coming: nothing to wait for
        side.header_holder = i;
        side.held_headers = &headers;
        return v;
      case Action::Block:
        side.held_headers = nullptr;
        side.header_holder = kNone;
        return blockWith(s, i, std::move(v));
      case Action::Bypass:
        side.held_headers = nullptr;
        side.header_holder = kNone;
        bypassed_ = true;
        s.verdict = v;
        return v;
    }
  }
  side.held_headers = nullptr;
  side.header_holder = kNone;
  return Verdict::next();
}

Verdict StreamFilterChain::flow(Side& side, StreamInfo& s, size_t from, Buffer& data,
                                bool end_stream, Buffer& out) {
  for (size_t i = from; i < stages_.size(); ++i) {
    if (!stages_[i].skipped) {
      bool was_holding = !side.holding.empty() && side.holding[i];
      Buffer* handed = &data;
      if (was_holding) {
        if (buffered(side) + data.size() > max_inspect_body_bytes_) {
          return overLimit(side, s, i, data, end_stream, out);
        }
        Buffer& held = pendingOf(side, i);
        held.moveFrom(data);
        handed = &held;
      }
      Verdict v = callBody(side, i, s, *handed, end_stream);
      if (v.action == Action::NeedMoreData && !end_stream) {
        if (!was_holding) {
          if (buffered(side) + data.size() > max_inspect_body_bytes_) {
            return overLimit(side, s, i, data, end_stream, out);
          }
          pendingOf(side, i).moveFrom(data);
          side.holding[i] = true;
        }
        return v;
      }
      if (was_holding) {
        data.moveFrom(pendingOf(side, i));
        side.holding[i] = false;
      }
      if (v.action == Action::Block) {
        dropBuffered(side);
        return blockWith(s, i, std::move(v));
      }
      if (v.action == Action::Bypass) return bypassAll(s, side, i, data, out, v);
    }
    if (i == side.header_holder && !end_stream && !stages_[i].skipped &&
        buffered(side) + data.size() > max_inspect_body_bytes_) {
      return overLimit(side, s, i, data, end_stream, out);  // these bytes would wait too
    }
    Verdict after = passed(side, s, i, data, end_stream, out);
    if (after.action != Action::Continue) return after;
  }
  out.moveFrom(data);
  return Verdict::next();
}

Verdict StreamFilterChain::passed(Side& side, StreamInfo& s, size_t stage, Buffer& data,
                                  bool end_stream, Buffer& out) {
  if (stage != side.header_holder) return Verdict::next();
  if (!end_stream && !stages_[stage].skipped) {
    // The holder let these bytes through early; its headers still wait for the end of the body.
    // (flow() has checked the limit.)
    if (!side.parked) side.parked = std::make_unique<Buffer>();
    side.parked->moveFrom(data);
    return Verdict::needMoreData();
  }
  side.header_holder = kNone;
  if (side.parked && !side.parked->empty()) {  // older bytes first
    side.parked->moveFrom(data);
    data.moveFrom(*side.parked);
  }
  Verdict v = runHeaders(side, s, stage + 1, *side.held_headers, false);
  if (v.action == Action::Block) {
    dropBuffered(side);
    return v;
  }
  if (v.action == Action::Bypass) return bypassAll(s, side, stage, data, out, v);
  return Verdict::next();  // headers released, or held further down: the bytes go on
}

Verdict StreamFilterChain::overLimit(Side& side, StreamInfo& s, size_t stage, Buffer& data,
                                     bool end_stream, Buffer& out) {
  const std::string& name = stages_[stage].entry->name();
  if (fail_mode_ == FailMode::Closed) {
    stages_[stage].entry->recordOverLimit();
    dropBuffered(side);
    std::string reason = std::string(side.request ? "request" : "response") +
                         " body exceeds max_inspect_body_bytes (" +
                         std::to_string(max_inspect_body_bytes_) + " bytes), which filter '" +
                         name + "' must see whole";
    return blockWith(s, stage, Verdict::block(side.request ? 413 : 502, std::move(reason)));
  }

  // Fail open: every stage holding for this direction gives up, and what it held goes on through
  // the stages after it, oldest bytes (furthest down the chain) first.
  s.inspection_skipped = true;
  pendingOf(side, stage).moveFrom(data);
  side.holding[stage] = true;
  for (size_t i = stage; i < stages_.size(); ++i) {
    if (side.holding[i] || i == side.header_holder) {
      if (!stages_[i].skipped) stages_[i].entry->recordOverLimit();
      stages_[i].skipped = true;
    }
  }
  Verdict last = Verdict::next();
  for (size_t i = stages_.size(); i-- > stage;) {
    if (!side.holding[i]) continue;
    side.holding[i] = false;
    Buffer released;
    released.moveFrom(pendingOf(side, i));
    Verdict v = passed(side, s, i, released, i == stage && end_stream, out);
    if (v.action == Action::Block || v.action == Action::Bypass) return v;
    // Only the newest bytes (those at `stage`) carry the end of the stream.
    last = flow(side, s, i + 1, released, i == stage && end_stream, out);
    if (last.action == Action::Block || last.action == Action::Bypass) return last;
  }
  return last;
}

Verdict StreamFilterChain::bypassAll(StreamInfo& s, Side& side, size_t stage, Buffer& data,
                                     Buffer& out, const Verdict& verdict) {
  bypassed_ = true;
  s.verdict = verdict;
  side.held_headers = nullptr;
  side.header_holder = kNone;
  // Bytes parked behind held headers are the oldest, then those held further down; bytes held
  // before `stage` (only during a fail-open release) are newer than `data`.
  if (side.parked) out.moveFrom(*side.parked);
  for (size_t i = side.pending.size(); i-- > stage + 1;) {
    if (side.pending[i]) out.moveFrom(*side.pending[i]);
  }
  out.moveFrom(data);
  for (size_t i = std::min(stage, side.pending.size()); i-- > 0;) {
    if (side.pending[i]) out.moveFrom(*side.pending[i]);
  }
  side.holding.assign(side.holding.size(), false);
  return verdict;
}

Verdict StreamFilterChain::blockWith(StreamInfo& s, size_t stage, Verdict verdict) {
  blocked_ = true;
  block_ = withBlockStatus(std::move(verdict));
  s.verdict = block_;
  s.blocked_by = stages_[stage].entry->name();
  return block_;
}

Verdict StreamFilterChain::callHeaders(Side& side, size_t stage, StreamInfo& s, Headers& h,
                                       bool end_stream) {
  Stage& st = stages_[stage];
  Verdict v = side.request ? st.filter->onRequestHeaders(s, h, end_stream)
                           : st.filter->onResponseHeaders(s, h, end_stream);
  st.entry->record(v.action);
  return v;
}

Verdict StreamFilterChain::callBody(Side& side, size_t stage, StreamInfo& s, Buffer& b,
                                    bool end_stream) {
  Stage& st = stages_[stage];
  Verdict v = side.request ? st.filter->onRequestBody(s, b, end_stream)
                           : st.filter->onResponseBody(s, b, end_stream);
  st.entry->record(v.action);
  return v;
}

Buffer& StreamFilterChain::pendingOf(Side& side, size_t stage) {
  // Allocated on the first hold: most exchanges never buffer.
  if (side.pending.empty()) {
    side.pending.resize(stages_.size());
    side.holding.assign(stages_.size(), false);
  }
  if (!side.pending[stage]) side.pending[stage] = std::make_unique<Buffer>();
  return *side.pending[stage];
}

uint64_t StreamFilterChain::buffered(const Side& side) const {
  uint64_t total = side.parked ? side.parked->size() : 0;
  for (const auto& p : side.pending) {
    if (p) total += p->size();
  }
  return total;
}

void StreamFilterChain::dropBuffered(Side& side) {
  for (auto& p : side.pending) {
    if (p) p->clear();
  }
  if (side.parked) side.parked->clear();
  side.holding.assign(side.holding.size(), false);
  side.held_headers = nullptr;
  side.header_holder = kNone;
}

}  // namespace aiw
