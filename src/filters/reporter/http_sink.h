// HttpSink: events POSTed in batches to a collector (`type: http` of the reporter's sinks),
// through a spool file so that a collector that is down, slow or silent never holds anything up.
//
// Two threads, one spool between them (spool.h):
//  * the reporter thread calls append() with each drained batch: the events are encoded in the
//    sink's format (native: the event JSON; akto: akto_format.h, exchange events only) and
//    appended to STATE_DIR/spool/<name>.log — one write(2), no network, so the reporter thread
//    and every other sink keep going whatever the collector does;
//  * the sender thread (one per http sink, started by open()) reads up to `batch` lines from the
//    spool, POSTs them as one JSON array, and on a 2xx acknowledges them in the spool. A partial
//    batch waits up to flush_ms for more. Anything else (refused, timeout, non-2xx, silence
//    past timeout_ms) is a failed attempt: the same batch is retried after an exponential
//    backoff with jitter (kBackoffMin doubling to backoff_max_ms), so delivery is in order and
//    at-least-once (event ids make duplicates detectable).
//
// Events past the spool's bound (spool_bytes) are dropped and counted; the first append that
// fits again ends the "episode" and append() returns its count, which the reporter turns into a
// `security` event of its own (events_dropped).
//
// Stats are atomics in a shared HttpSinkStats, read by the admin thread through the Reporter.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "filters/reporter/akto_format.h"
#include "filters/reporter/http_post.h"
#include "filters/reporter/report_event.h"
#include "filters/reporter/spool.h"

namespace aiw {

enum class HttpSinkFormat : uint8_t { Native, Akto };

struct HttpSinkConfig {
  std::string name;  // the spool's file stem and the stats' label: [a-z0-9_-]
  std::string url;
  HttpUrl target;
  // https:// only: the roots the collector's certificate is verified against ("system": the
  // system bundle, as upstream.ca_file), with the url's host; verification is always on.
  std::string ca_file = "system";
  HttpSinkFormat format = HttpSinkFormat::Native;
  uint32_t batch = 100;
  uint32_t flush_ms = 500;
  uint32_t timeout_ms = 5000;
  uint32_t backoff_max_ms = 30000;  // the retry delay doubles from kBackoffMin up to this
  HeaderList headers;
  AktoSettings akto;
  uint64_t spool_bytes = 1073741824;  // the stage's spool_bytes
  bool operator==(const HttpSinkConfig &) const = default;
};

// Counters of one sink; relaxed atomics (statistics), shared with readers on other threads.
struct HttpSinkStats {
  std::atomic<uint64_t> delivered{0};        // events acknowledged by the collector
  std::atomic<uint64_t> failed_attempts{0};  // POSTs that did not get a 2xx
  std::atomic<uint64_t> spooled_bytes{0};    // gauge: undelivered bytes in the spool
  std::atomic<uint64_t> dropped{0};          // events past the spool's bound
};

class HttpSink {
 public:
  static constexpr std::chrono::milliseconds kBackoffMin{100};
  // The spool is fsynced at most this often by append() (and always by sync()).
  static constexpr std::chrono::milliseconds kSpoolSyncEvery{1000};

  // Opens (or resumes) `spool_dir`/<name>.log, loads the TLS roots of an https:// sink and
  // starts the sender thread. Errors: the spool's, "config" for roots that cannot be loaded.
  static Result<std::unique_ptr<HttpSink>> open(HttpSinkConfig config,
                                                const std::string &spool_dir);
  // Stops the sender (an attempt in flight is abandoned within ~100 ms; its batch stays in the
  // spool) and fsyncs the spool.
  ~HttpSink();
  HttpSink(const HttpSink &) = delete;
  HttpSink &operator=(const HttpSink &) = delete;

  // Reporter thread. `events` and `encoded` are parallel (encoded[i] is encodeEvent(events[i])).
  // Returns the number of events dropped in an episode that this append ended (0 otherwise).
  Result<uint64_t> append(const std::vector<const ReportEvent *> &events,
                          const std::vector<std::string> &encoded);
  // Reporter thread. fsync of the spool.
  Result<void> sync();
  // Events dropped since the last append that fitted (an episode still going on).
  uint64_t droppingNow() const { return episode_dropped_; }

  const HttpSinkConfig &config() const { return config_; }
  std::shared_ptr<const HttpSinkStats> stats() const { return stats_; }
  const Spool &spool() const { return *spool_; }

 private:
  HttpSink(HttpSinkConfig config, std::unique_ptr<Spool> spool,
           std::shared_ptr<const TlsClientContext> tls);
  void run();
  // Sleeps `d` unless stopping; returns false when stopping.
  bool pause(std::chrono::milliseconds d);

  const HttpSinkConfig config_;
  const std::unique_ptr<Spool> spool_;
  const std::shared_ptr<HttpSinkStats> stats_ = std::make_shared<HttpSinkStats>();

  // Sender thread only: the kept connection to the collector, its addresses, and for https://
  // the client context (roots; the session cache resumes a session on a new connection).
  HttpPoster poster_;

  // Reporter thread only.
  uint64_t episode_dropped_ = 0;
  std::chrono::steady_clock::time_point last_sync_{};

  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;               // guards nothing but the wait below
  std::condition_variable stop_cv_;  // pause() waits on stop_mu_
  std::thread sender_;               // last: started once everything above exists
};

}  // namespace aiw
