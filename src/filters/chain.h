// The filter chain: FilterChain (the configured stages, immutable, shared by every worker) and
// the per-connection / per-exchange runners that call the filters in order and turn their
// verdicts into what the listener does with the bytes.
//
// Threads: a FilterChain lives inside the published Snapshot and is read by all workers; its only
// mutable parts are the per-stage counters (relaxed atomics). ConnectionFilterChain and
// StreamFilterChain belong to one connection / one exchange on one worker: not thread-safe, no
// locks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/config.h"
#include "core/headers.h"
#include "core/result.h"
#include "filters/filter.h"
#include "filters/registry.h"

namespace aiw {


// A plain copy of one stage's counters, for /proxy/v1/filters and /metrics.
struct FilterCounterValues {
  uint64_t invocations = 0;     // calls of onConnection / on{Request,Response}{Headers,Body}
  uint64_t continues = 0;       // ... answered Continue
  uint64_t blocks = 0;          // ... answered Block
  uint64_t bypasses = 0;        // ... answered Bypass
  uint64_t need_more_data = 0;  // ... answered NeedMoreData
  // Exchanges where this stage was holding a body that outgrew max_inspect_body_bytes
  // (refused with fail_mode closed, passed uninspected with open). Not an invocation.
  uint64_t over_limit = 0;
};

class FilterChain {
 public:
  // What buildFilterChain() (or a test) hands the constructor for each stage.
  struct Stage {
    std::string name;  // registry name
    std::string file;  // the filters.d file (or the config file for an inline entry)
    int line = 0;
    std::shared_ptr<FilterFactory> factory;  // never null
  };

  class Entry {
   public:
    explicit Entry(Stage stage) : stage_(std::move(stage)) {}
    const std::string& name() const { return stage_.name; }
    const std::string& file() const { return stage_.file; }
    int line() const { return stage_.line; }
    FilterFactory& factory() const { return *stage_.factory; }
    // A consistent-enough copy (each counter read once, relaxed).
    FilterCounterValues counters() const;
    // The factory's stats, with what the stages this one replaced had counted added to every
    // counter (not to gauges, nor to process-wide stats): counters stay monotonic across
    // reloads and admin updates, as a scraper expects of a counter.
    std::vector<FilterStat> stats() const;

   private:
    friend class FilterChain;
    friend class ConnectionFilterChain;
    friend class StreamFilterChain;
    void record(Action action) const;
    void recordOverLimit() const;
    // Takes over the counters of `previous` (before this entry serves anything): both count
    // into the same ones from then on.
    void carryCountersFrom(const Entry& previous);

    // Bumped by every worker; relaxed because they are statistics, not synchronization.
    struct Counters {
      std::atomic<uint64_t> invocations{0};
      std::atomic<uint64_t> continues{0};
      std::atomic<uint64_t> blocks{0};
      std::atomic<uint64_t> bypasses{0};
      std::atomic<uint64_t> need_more_data{0};
      std::atomic<uint64_t> over_limit{0};
    };

    Stage stage_;
    // Counter values of the stages this one replaced, by stat name; set before the chain serves,
    // read-only afterwards.
    std::map<std::string, uint64_t, std::less<>> carried_stats_;
    // Shared with the stages this one replaced (carryCountersFrom), so that what exchanges still
    // running on an older chain count after a rebuild lands here too. Never null.
    std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();
  };

  explicit FilterChain(std::vector<Stage> stages);
  FilterChain(const FilterChain&) = delete;
  FilterChain& operator=(const FilterChain&) = delete;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // In chain order. A deque: entries are handed out by reference and must never move.
  const std::deque<Entry>& entries() const { return entries_; }
  const Entry& entry(size_t i) const { return entries_[i]; }
  // The largest max_bytes and timeout_ms over the stages' peekLimits(): how far and how long the
  // listener peeks before ConnectionFilterChain::run. Computed once, at construction.
  PeekLimits peekLimits() const { return peek_limits_; }
  // Hands each stage the stage of `previous` it replaces — the k-th stage of a filter takes over
  // from the k-th stage of the same filter in `previous`: its live state
  // (FilterFactory::inheritState) and its counters (shared: exchanges still in flight on
  // `previous` count into them too; the factory's own stats are carried as they are at this
  // call). Called by buildFilterChain, before the chain serves.
  void inheritStateFrom(const FilterChain& previous);

 private:
  std::deque<Entry> entries_;
  PeekLimits peek_limits_;
};

// Builds the chain of `specs` in their order, skipping disabled entries. Every error of every
// entry is collected (unknown filter names with a did-you-mean, each builder's config errors),
// each as `FILE:LINE: message`; on any, Error{"config", lines joined by "\n"} and no chain.
// `inputs` carries what the builders need beyond their own spec (the overriding rules, the
// fail_mode); its outputs are filled as the chain is built.
Result<std::shared_ptr<const FilterChain>> buildFilterChain(const std::vector<FilterSpec>& specs,
                                                            const FilterRegistry& registry,
                                                            ChainBuildState inputs = {});

// Runs the connection filters of one downstream connection. Created when the connection's target
// is known; lives as long as the connection.
class ConnectionFilterChain {
 public:
  // Instantiates every stage's connection filter (stages without one are left out).
  // max_peek_bytes bounds NeedMoreData: once that much has been peeked, a filter that still
  // wants more is taken as Continue.
  ConnectionFilterChain(std::shared_ptr<const FilterChain> chain, size_t max_peek_bytes);
  ~ConnectionFilterChain();
  ConnectionFilterChain(const ConnectionFilterChain&) = delete;
  ConnectionFilterChain& operator=(const ConnectionFilterChain&) = delete;

  // Runs the filters in order with all bytes peeked so far (not consumed).
  //  Continue: every filter continued; go on (intercept or plain HTTP as conn says).
  //  NeedMoreData: a filter wants more bytes; call run() again with the longer peek. It resumes
  //    at that filter: the filters before it are not called again.
  //  Block (status never 0; 403 by default): refuse the connection. Bypass: blind tunnel
  //    (conn.bypassed is set). Either stops the chain.
  // `no_more_data`: the peer will send nothing more for now (EOF, or the listener's peek
  // timer fired): a filter still wanting more is taken as Continue, as at the bound.
  // Once the chain has decided (anything but NeedMoreData), run() returns that decision again
  // without calling any filter.
  Verdict run(ConnectionInfo& conn, std::span<const uint8_t> peeked, bool no_more_data = false);

  // Calls onConnectionClose on every filter, once (later calls do nothing). The listener calls it
  // when the connection closes, whatever the verdict was.
  void close(const ConnectionInfo& conn);

  bool empty() const { return stages_.empty(); }

 private:
  struct Stage {
    const FilterChain::Entry* entry;  // owned by chain_, which this object keeps alive
    std::unique_ptr<ConnectionFilter> filter;
  };

  std::shared_ptr<const FilterChain> chain_;
  std::vector<Stage> stages_;
  size_t max_peek_bytes_;
  size_t next_ = 0;  // the stage run() resumes at
  bool decided_ = false;
  bool closed_ = false;
  Verdict decision_;
};

// Runs the stream filters of one HTTP exchange (an HTTP/1 request/response pair or an HTTP/2
// stream). The listener calls, in order: requestHeaders, requestBody* (until end_stream),
// responseHeaders, responseBody* (until end_stream), and complete() in every case.
//
// Every phase returns one of:
//  Continue      forward what the call handed back (headers / `chunk`, possibly changed by the
//                filters; a chunk may be empty, and may hold bytes buffered by earlier calls).
//  NeedMoreData  hold on: for headers, keep them (do not move or free them) and feed the body
//                through the body phase until it returns anything else, then forward headers
//                + that chunk (+ the rest of the body as it comes); for a body, the chain kept
//                the bytes (`chunk` comes back empty).
//  Block         answer downstream with verdict.status (never 0) and verdict.reason instead;
//                nothing buffered is forwarded. Later calls return the same Block.
//  Bypass        forward like Continue; from now on no filter is called for this exchange
//                (except onComplete), and every later phase returns Bypass with its input as is.
// A phase whose end_stream is true never returns NeedMoreData.
//
// Held headers: NeedMoreData from a headers phase holds the headers until the whole body has been
// through that filter (body bytes it lets through early wait with them). So the body call that
// releases held headers is normally the end_stream one and its chunk is the whole body: the
// listener can send it with an exact Content-Length. Two releases come earlier, with only part
// of the body: a Bypass, and fail-open past the limit; then the original framing must be kept.
//
// Body buffering: a filter answering NeedMoreData to a body chunk is called again with every
// byte it was handed so far plus the new ones; filters after it see nothing until it continues,
// then see the accumulated (possibly changed) body. Filters before it keep seeing each new chunk
// as it arrives. The bytes held by all filters of one direction are bounded by
// max_inspect_body_bytes (bytes waiting behind held headers count too): past it,
// FailMode::Closed blocks (413 for a request, 502 for a response; blocked_by names the holding
// filter) and FailMode::Open releases everything held, in order, through the remaining filters,
// stops calling the filters that were holding (body or headers) for the rest of the exchange,
// and sets StreamInfo::inspection_skipped.
class StreamFilterChain {
 public:
  StreamFilterChain(std::shared_ptr<const FilterChain> chain, uint64_t max_inspect_body_bytes,
                    FailMode fail_mode);
  ~StreamFilterChain();
  StreamFilterChain(const StreamFilterChain&) = delete;
  StreamFilterChain& operator=(const StreamFilterChain&) = delete;

  // When this returns NeedMoreData, `headers` must stay alive at the same address until a body
  // call returns something else: the chain hands them to the remaining filters then.
  Verdict requestHeaders(StreamInfo& s, Headers& headers, bool end_stream);
  // `chunk` in: the newly received bytes; out: the bytes to forward now.
  Verdict requestBody(StreamInfo& s, Buffer& chunk, bool end_stream);
  Verdict responseHeaders(StreamInfo& s, Headers& headers, bool end_stream);
  Verdict responseBody(StreamInfo& s, Buffer& chunk, bool end_stream);
  // Calls onComplete on every filter exactly once (later calls do nothing), whatever happened,
  // and drops anything still buffered.
  void complete(StreamInfo& s);

  // Whether headers handed to requestHeaders / responseHeaders are still held by a filter.
  bool requestHeadersHeld() const { return request_.held_headers != nullptr; }
  bool responseHeadersHeld() const { return response_.held_headers != nullptr; }
  bool bypassed() const { return bypassed_; }
  bool blocked() const { return blocked_; }
  bool empty() const { return stages_.empty(); }

 private:
  static constexpr size_t kNone = SIZE_MAX;

  struct Stage {
    const FilterChain::Entry* entry;  // owned by chain_, which this object keeps alive
    std::unique_ptr<StreamFilter> filter;
    bool skipped = false;  // stopped by fail_mode open (over the body limit)
  };
  // One direction (request or response).
  struct Side {
    bool request = true;
    Headers* held_headers = nullptr;  // the listener's; valid while held (see requestHeaders)
    size_t header_holder = kNone;     // stage whose header phase answered NeedMoreData
    // Per stage: the bytes it holds (allocated on the first hold) and whether it is holding.
    std::vector<std::unique_ptr<Buffer>> pending;
    std::vector<bool> holding;
    // Bytes the header holder let through before the end of the body, waiting with the headers.
    std::unique_ptr<Buffer> parked;
  };

  Verdict headersPhase(Side& side, StreamInfo& s, Headers& headers, bool end_stream);
  Verdict bodyPhase(Side& side, StreamInfo& s, Buffer& chunk, bool end_stream);
  Verdict runHeaders(Side& side, StreamInfo& s, size_t from, Headers& headers, bool end_stream);
  Verdict flow(Side& side, StreamInfo& s, size_t from, Buffer& data, bool end_stream, Buffer& out);
  Verdict passed(Side& side, StreamInfo& s, size_t stage, Buffer& data, bool end_stream,
                 Buffer& out);
  Verdict overLimit(Side& side, StreamInfo& s, size_t stage, Buffer& data, bool end_stream,
                    Buffer& out);
  Verdict bypassAll(StreamInfo& s, Side& side, size_t stage, Buffer& data, Buffer& out,
                    const Verdict& verdict);
  Verdict blockWith(StreamInfo& s, size_t stage, Verdict verdict);
  Verdict callHeaders(Side& side, size_t stage, StreamInfo& s, Headers& h, bool end_stream);
  Verdict callBody(Side& side, size_t stage, StreamInfo& s, Buffer& b, bool end_stream);
  Buffer& pendingOf(Side& side, size_t stage);
  uint64_t buffered(const Side& side) const;
  void dropBuffered(Side& side);

  std::shared_ptr<const FilterChain> chain_;
  std::vector<Stage> stages_;
  uint64_t max_inspect_body_bytes_;
  FailMode fail_mode_;
  Side request_;
  Side response_;
  Buffer out_;  // what reaches the end of the chain during one body call; empty between calls
  bool bypassed_ = false;
  bool blocked_ = false;
  bool completed_ = false;
  Verdict block_;
};

}  // namespace aiw
