#include "filters/pattern_matcher/pattern_matcher.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "ai/provider.h"
#include "ai/request_facts.h"
#include "ai/response_facts.h"
#include "core/headers.h"
#include "http/sse_parser.h"

namespace aiw {
namespace {

constexpr std::string_view kRulePrefix = "rule:";
// Between two texts joined for one scan: a line break and a NUL, which no word, number or
// whitespace run of a detector spans.
constexpr std::string_view kFieldSeparator("\n\0\n", 3);

// Hyperscan scratch is per thread: each worker scans with its own, without locks. The admin
// thread never scans.
PatternScratch& workerScratch() {
  thread_local PatternScratch scratch;
  return scratch;
}

// The scan's working buffers, per worker thread too: kept between exchanges so a request does not
// allocate them again. Used within one filter call at a time (calls never nest on a thread).
struct ScanBuffers {
  std::vector<PatternHit> hits;
  std::vector<PatternHit> one_hit;
  std::string joined;           // a request's texts, joined for one scan
  std::vector<uint64_t> starts;  // where each text starts in `joined`
};

ScanBuffers& workerBuffers() {
  thread_local ScanBuffers buffers;
  return buffers;
}

void relaxedAdd(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.fetch_add(n, std::memory_order_relaxed);
}

bool isEventStream(const std::string* content_type) {
  if (content_type == nullptr) return false;
  std::string_view v = *content_type;
  v = v.substr(0, v.find(';'));
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  return equalsIgnoreCase(v, "text/event-stream");
}

void addUnique(std::vector<std::string>& names, std::string_view name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
}

// Turns Hyperscan hits into the exchange's facts: rule patterns by rule name, every other
// detector as a Detection (location only, never the matched bytes).
void recordHits(const PatternDatabase& db, const std::vector<PatternHit>& hits, StreamInfo& s,
                const std::string& field, size_t text_index, bool response,
                const PatternMatcherFactory& factory) {
  for (const PatternHit& hit : hits) {
    const DetectorSpec& spec = db.detectors()[hit.detector];
    if (std::string_view(spec.id).starts_with(kRulePrefix)) {
      std::string_view rule = std::string_view(spec.id).substr(kRulePrefix.size());
      addUnique(response ? s.response_pattern_rules : s.request_pattern_rules, rule);
      continue;
    }
    Detection d;
    d.detector = spec.id;
    d.category = spec.category;
    d.severity = std::string(severityName(spec.severity));
    d.field = field;
    d.response = response;
    d.text_index = text_index;
    d.start = hit.from;
    d.end = hit.to;
    s.detections.push_back(std::move(d));
    relaxedAdd(factory.detections, 1);
  }
}

class PatternMatcherFilter : public StreamFilter {
 public:
  // `factory` outlives the filter: the chain that created it keeps the factory alive.
  PatternMatcherFilter(const PatternMatcherFactory& factory, FailMode fail_mode)
      : factory_(factory), fail_mode_(fail_mode) {}

  Verdict onRequestHeaders(StreamInfo& s, Headers& h, bool end_stream) override {
    if (!s.inspect) return Verdict::next();
    if (!s.endpoint.known()) s.endpoint = ai::detectEndpoint(s.host, s.method, s.path);
    if (end_stream) {
      s.request_scanned = true;  // nothing to find in an empty body
      return Verdict::next();
    }
    if (!isScannableContentType(h.find("content-type"))) return Verdict::next();
    scanning_request_ = true;
    return Verdict::needMoreData();  // the head waits until the whole body has been scanned
  }

  Verdict onRequestBody(StreamInfo& s, Buffer& chunk, bool end_stream) override {
    if (!scanning_request_) return Verdict::next();
    if (!end_stream) return Verdict::needMoreData();
    scanning_request_ = false;
    if (auto r = scanRequest(s, chunk.view()); !r.ok()) return scanFailed(s, r.error(), 503);
    return Verdict::next();
  }

  Verdict onResponseHeaders(StreamInfo& s, Headers& h, bool end_stream) override {
    if (!s.inspect || !factory_.scanResponses() || end_stream) return Verdict::next();
    const std::string* type = h.find("content-type");
    if (isEventStream(type)) {
      startResponseScan(s);
      if (s.endpoint.known()) startSseDecoding(s);
    } else if (isScannableContentType(type)) {
      if (s.endpoint.known()) {
        // A non-streamed API answer arrives at once anyway: held whole (bounded by
        // max_inspect_body_bytes), it is scanned in one call, and a rule that blocks it can still
        // answer with a proper error instead of cutting a response already sent.
        whole_response_ = true;
        return Verdict::needMoreData();
      }
      startResponseScan(s);
    }
    return Verdict::next();
  }

  Verdict onResponseBody(StreamInfo& s, Buffer& chunk, bool end_stream) override {
    if (whole_response_) {
      if (!end_stream) return Verdict::needMoreData();
      whole_response_ = false;
      if (auto r = scanWholeResponse(s, chunk.view()); !r.ok()) return scanFailed(s, r.error(), 502);
      return Verdict::next();
    }
    if (!stream_) return Verdict::next();
    std::string_view bytes = chunk.view();
    Result<void> r;
    if (sse_) {
      r = sse_->feed(bytes);
      if (r.ok()) r = scanSseText(s);
    } else {
      r = scanResponseText(s, bytes);
    }
    if (r.ok() && end_stream) r = finishResponse(s);
    if (!r.ok()) return scanFailed(s, r.error(), 502);
    return Verdict::next();
  }

 private:
  Result<void> scanRequest(StreamInfo& s, std::string_view body) {
    const PatternDatabase& db = *factory_.database();
    if (!s.request_facts) parseFacts(s, body);
    ScanBuffers& buf = workerBuffers();
    std::vector<PatternHit>& hits = buf.hits;
    relaxedAdd(factory_.requests_scanned, 1);
    if (s.request_facts) {
      // One scan over every text, joined: a scan call per field costs more than the bytes
      // (Hyperscan runs several databases per call). The separator keeps words of neighbouring
      // fields apart; a hit is given to the field it starts in and clipped to that field.
      const auto& texts = s.request_facts->texts;
      std::string& joined = buf.joined;
      std::vector<uint64_t>& starts = buf.starts;
      joined.clear();
      starts.clear();
      for (const auto& t : texts) {
        starts.push_back(joined.size());
        joined += t.text;
        joined.append(kFieldSeparator);
      }
      hits.clear();
      if (auto r = workerScratch().scanBlock(db, joined, hits); !r.ok()) return r;
      relaxedAdd(factory_.bytes_scanned, joined.size());
      for (PatternHit& hit : hits) {
        size_t i = static_cast<size_t>(
            std::upper_bound(starts.begin(), starts.end(), hit.from) - starts.begin() - 1);
        const uint64_t begin = starts[i];
        const uint64_t end = begin + texts[i].text.size();
        if (hit.from >= end) continue;  // inside a separator
        buf.one_hit.assign(1,
                           PatternHit{hit.detector, hit.from - begin, std::min(hit.to, end) - begin});
        recordHits(db, buf.one_hit, s, texts[i].field, i, /*response=*/false, factory_);
      }
    } else {
      hits.clear();
      if (auto r = workerScratch().scanBlock(db, body, hits); !r.ok()) return r;
      relaxedAdd(factory_.bytes_scanned, body.size());
      recordHits(db, hits, s, "body", SIZE_MAX, /*response=*/false, factory_);
    }
    s.request_scanned = true;
    return {};
  }

  // The provider's view of the body, for this filter and the ones after it (rule_evaluator).
  // A body that does not parse is scanned raw: the origin will judge it, the scan still runs.
  static void parseFacts(StreamInfo& s, std::string_view body) {
    ai::ApiEndpoint endpoint = s.endpoint;
    if (!endpoint.known() && ai::looksLikeJsonRpc(body)) {
      endpoint.provider = ai::Provider::Mcp;
      endpoint.kind = ai::ApiKind::McpJsonRpc;
    }
    if (!endpoint.known()) return;
    auto facts = ai::parseRequest(endpoint, body);
    if (!facts.ok()) return;
    s.endpoint = endpoint;
    if (s.model.empty()) s.model = facts->model;
    if (s.tool.empty()) s.tool = facts->mcp_tool;
    s.request_facts = std::make_shared<const ai::RequestFacts>(std::move(facts).value());
  }

  void startResponseScan(StreamInfo& s) {
    stream_.emplace(factory_.database(), workerScratch());
    s.response_scanned = true;
    relaxedAdd(factory_.responses_scanned, 1);
  }

  Result<void> scanWholeResponse(StreamInfo& s, std::string_view body) {
    s.response_scanned = true;
    relaxedAdd(factory_.responses_scanned, 1);
    std::vector<PatternHit>& hits = workerBuffers().hits;
    hits.clear();
    if (auto r = workerScratch().scanBlock(*factory_.database(), body, hits); !r.ok()) return r;
    relaxedAdd(factory_.bytes_scanned, body.size());
    recordHits(*factory_.database(), hits, s, "response", SIZE_MAX, /*response=*/true, factory_);
    if (auto facts = ai::parseResponse(s.endpoint, body); facts.ok()) s.usage = facts->usage;
    return {};
  }

  // SSE of a known API: the generated text of each event goes to the one stream scan, so a
  // match split across events is still found. The texts of the events a body chunk completes
  // are scanned in one call (scanSseText): a delta is often a single token, and a stream scan
  // call costs more than a few hundred bytes of scanning; the chunk is passed on only after the
  // scan either way, so a block still stops it.
  void startSseDecoding(StreamInfo& s) {
    decoder_.emplace(s.endpoint);
    sse_.emplace([this](const SseEvent& event) { sse_text_ += decoder_->onEvent(event); });
  }

  Result<void> scanSseText(StreamInfo& s) {
    Result<void> r = scanResponseText(s, sse_text_);
    sse_text_.clear();
    return r;
  }

  Result<void> scanResponseText(StreamInfo& s, std::string_view text) {
    if (text.empty()) return {};  // the last call of a body often carries no bytes
    std::vector<PatternHit>& hits = workerBuffers().hits;
    hits.clear();
    if (auto r = stream_->feed(text, hits); !r.ok()) return r;
    relaxedAdd(factory_.bytes_scanned, text.size());
    recordHits(*factory_.database(), hits, s, "response", SIZE_MAX, /*response=*/true, factory_);
    return {};
  }

  Result<void> finishResponse(StreamInfo& s) {
    std::vector<PatternHit>& hits = workerBuffers().hits;
    hits.clear();
    if (sse_) sse_->finish();  // an event cut off by the end is dropped, as clients drop it
    if (auto r = stream_->finish(hits); !r.ok()) return r;
    recordHits(*factory_.database(), hits, s, "response", SIZE_MAX, /*response=*/true, factory_);
    if (decoder_) s.usage = decoder_->facts().usage;
    stream_.reset();
    return {};
  }

  // SPEC fail_mode: closed refuses what could not be inspected; open passes it and says so.
  Verdict scanFailed(StreamInfo& s, const Error& error, uint16_t status) {
    relaxedAdd(factory_.scan_errors, 1);
    stream_.reset();
    sse_.reset();
    if (fail_mode_ == FailMode::Open) {
      s.inspection_skipped = true;
      return Verdict::next();
    }
    return Verdict::block(status, "the exchange could not be inspected: " + error.message);
  }

  const PatternMatcherFactory& factory_;
  FailMode fail_mode_;
  bool scanning_request_ = false;
  std::optional<PatternStream> stream_;
  std::optional<ai::StreamDecoder> decoder_;
  std::optional<SseParser> sse_;
  std::string sse_text_;  // the generated text of the events decoded from the current chunk
  bool whole_response_ = false;  // holding a non-streamed API answer to scan it whole
};

// ---- building ----------------------------------------------------------------------------

// Compiling is slow (tens to hundreds of milliseconds) and most snapshot rebuilds (a PUT of the
// domain lists, a reload that changed a timeout) keep the same detectors: a database is shared by
// every snapshot whose detectors are identical. Weak: it goes with the last snapshot using it.
Result<std::shared_ptr<const PatternDatabase>> compileShared(std::vector<DetectorSpec> specs) {
  static std::mutex mutex;
  static std::map<std::string, std::weak_ptr<const PatternDatabase>> cache;
  std::string key;
  for (const auto& spec : specs) {
    key += spec.id + '\x1f' + spec.category + '\x1f' + std::string(severityName(spec.severity)) +
           '\x1f' + spec.regex + '\x1f' + (spec.caseless ? "i" : "") + '\x1f' +
           std::to_string(static_cast<int>(spec.validator)) + '\x1e';
  }
  std::lock_guard lock(mutex);
  if (auto it = cache.find(key); it != cache.end()) {
    if (auto db = it->second.lock()) return db;
  }
  auto db = PatternDatabase::compile(std::move(specs));
  if (!db.ok()) return db;
  std::erase_if(cache, [](const auto& entry) { return entry.second.expired(); });
  cache[key] = db.value();
  return db;
}

void readCustomPatterns(FilterBuildContext& ctx, std::vector<DetectorSpec>& specs,
                        std::set<std::string>& ids) {
  for (const YAML::Node& item : ctx.items(ctx.config(), "patterns")) {
    if (!ctx.expectMap(item, "a patterns entry")) continue;
    ctx.rejectUnknownKeys(item, {"id", "regex", "category", "severity", "caseless"},
                          "a patterns entry");
    DetectorSpec spec;
    spec.category = "custom";
    std::string severity = "medium";
    bool ok = ctx.read(item, "id", spec.id, FilterBuildContext::Presence::Required);
    ok = ctx.read(item, "regex", spec.regex, FilterBuildContext::Presence::Required) && ok;
    ok = ctx.read(item, "category", spec.category) && ok;
    ok = ctx.readEnum(item, "severity", severity, {"low", "medium", "high", "critical"}) && ok;
    ok = ctx.read(item, "caseless", spec.caseless) && ok;
    if (!ok) continue;
    parseSeverity(severity, spec.severity);
    if (spec.id.empty() || std::string_view(spec.id).starts_with(kRulePrefix)) {
      ctx.error(item["id"], "pattern id " + std::string(spec.id.empty() ? "must not be empty"
                                                        : "'" + spec.id + "' is reserved (rule:)"));
      continue;
    }
    if (!ids.insert(spec.id).second) {
      ctx.error(item["id"], "pattern id '" + spec.id + "' is used twice (ids name detections)");
      continue;
    }
    if (auto r = PatternDatabase::checkRegex(spec.regex, spec.caseless); !r.ok()) {
      ctx.error(item["regex"], "pattern '" + spec.id + "': " + r.error().message);
      continue;
    }
    specs.push_back(std::move(spec));
  }
}

}  // namespace

bool isScannableContentType(const std::string* content_type) {
  if (content_type == nullptr) return true;
  std::string type(std::string_view(*content_type).substr(0, content_type->find(';')));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type.empty() || type.starts_with("text/")) return true;
  return type == "application/json" || type.ends_with("+json") ||
         type == "application/x-ndjson" || type == "application/jsonl" ||
         type == "application/x-www-form-urlencoded" || type == "application/xml" ||
         type == "application/graphql";
}

PatternMatcherFactory::PatternMatcherFactory(std::shared_ptr<const PatternDatabase> db,
                                             bool scan_responses, FailMode fail_mode)
    : db_(std::move(db)), scan_responses_(scan_responses), fail_mode_(fail_mode) {}

std::unique_ptr<StreamFilter> PatternMatcherFactory::createStreamFilter() {
  return std::make_unique<PatternMatcherFilter>(*this, fail_mode_);
}

std::vector<FilterStat> PatternMatcherFactory::stats() const {
  auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  return {{"pattern_matcher.requests_scanned", get(requests_scanned)},
          {"pattern_matcher.responses_scanned", get(responses_scanned)},
          {"pattern_matcher.bytes_scanned", get(bytes_scanned)},
          {"pattern_matcher.detections", get(detections)},
          {"pattern_matcher.scan_errors", get(scan_errors)}};
}

Result<std::shared_ptr<FilterFactory>> buildPatternMatcher(FilterBuildContext& ctx) {
  const YAML::Node& cfg = ctx.config();
  if (!ctx.expectMap(cfg)) return ctx.fail();
  ctx.rejectUnknownKeys(cfg, {"packs", "patterns", "scan_responses"});

  std::vector<std::string> packs = builtinPackNames();
  ctx.read(cfg, "packs", packs);
  bool scan_responses = true;
  ctx.read(cfg, "scan_responses", scan_responses);

  std::vector<DetectorSpec> specs;
  std::set<std::string> ids;
  std::set<std::string> packs_seen;
  for (const std::string& pack : packs) {
    if (!packs_seen.insert(pack).second) continue;
    auto detectors = builtinPack(pack);
    if (!detectors.ok()) {
      std::string hint = closestName(pack, builtinPackNames());
      ctx.error(ctx.child(cfg, "packs"),
                detectors.error().message + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      continue;
    }
    for (auto& d : detectors.value()) {
      ids.insert(d.id);
      specs.push_back(std::move(d));
    }
  }
  readCustomPatterns(ctx, specs, ids);
  // The rules' match_patterns (validated with the rules); a rule's id cannot collide with a
  // pattern's, whose ids may not start with "rule:".
  for (const auto& rp : ctx.state().rule_patterns) {
    DetectorSpec spec;
    spec.id = rp.detector_id;
    spec.category = "rule";
    spec.severity = Severity::Low;
    spec.regex = rp.regex;
    specs.push_back(std::move(spec));
  }
  if (ctx.hasErrors()) return ctx.fail();

  auto db = compileShared(std::move(specs));
  if (!db.ok()) {
    ctx.error(db.error().message);
    return ctx.fail();
  }
  return std::shared_ptr<FilterFactory>(std::make_shared<PatternMatcherFactory>(
      std::move(db).value(), scan_responses, ctx.state().fail_mode));
}

}  // namespace aiw
