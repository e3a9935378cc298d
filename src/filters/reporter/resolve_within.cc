#include "filters/reporter/resolve_within.h"

#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "core/thread_name.h"

namespace aiw {

namespace {

constexpr std::chrono::milliseconds kCancelCheck{100};

// One lookup, shared by the waiting caller and the lookup thread: whichever lets go last frees
// it (and the answer, unless the caller took it).
struct Lookup {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // guarded by mu, like the two below
  int rc = 0;
  addrinfo *result = nullptr;
  ~Lookup() {
    if (result != nullptr) freeaddrinfo(result);
  }
};

Error lookupError(const std::string &host, int rc) {
  return makeError("resolve", host + ": " + gai_strerror(rc));
}

}  // namespace

Result<AddrInfoList> resolveWithin(const std::string &host, uint16_t port,
                                   std::chrono::steady_clock::time_point deadline,
                                   const std::atomic<bool> &cancel, BlockingLookup lookup) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
  const std::string service = std::to_string(port);
  addrinfo *found = nullptr;
  int rc = lookup(host.c_str(), service.c_str(), &hints, &found);
  if (rc == 0) return AddrInfoList(found);
  if (rc != EAI_NONAME) return lookupError(host, rc);

  hints.ai_flags = AI_NUMERICSERV;
  auto state = std::make_shared<Lookup>();
  try {
    std::thread([state, host, service, hints, lookup] {
      nameThisThread("aiw-resolve");
      addrinfo *answer = nullptr;
      int code = lookup(host.c_str(), service.c_str(), &hints, &answer);
      {
        std::lock_guard lock(state->mu);
        state->rc = code;
        state->result = code == 0 ? answer : nullptr;
        state->done = true;
      }
      state->cv.notify_all();
    }).detach();
  } catch (const std::system_error &e) {
    return makeError("resolve", host + ": cannot start a lookup thread: " + e.what());
  }

  std::unique_lock lock(state->mu);
  for (;;) {
    if (state->done) {
      if (state->rc != 0) return lookupError(host, state->rc);
      return AddrInfoList(std::exchange(state->result, nullptr));
    }
    if (cancel.load(std::memory_order_relaxed)) return makeError("cancelled", "shutting down");
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      return makeError("timeout", "no answer from the resolver for " + host + " in time");
    }
    state->cv.wait_for(lock, std::min<std::chrono::steady_clock::duration>(left, kCancelCheck));
  }
}

Result<const addrinfo *> ResolvedAddresses::get(const std::string &host, uint16_t port,
                                                std::chrono::steady_clock::time_point deadline,
                                                const std::atomic<bool> &cancel,
                                                std::chrono::steady_clock::time_point now,
                                                BlockingLookup lookup) {
  if (list_ && host == host_ && port == port_ && now - resolved_at_ < kRefresh) return list_.get();
  auto fresh = resolveWithin(host, port, deadline, cancel, lookup);
  if (!fresh.ok()) return fresh.error();
  list_ = std::move(fresh).value();
  host_ = host;
  port_ = port;
  resolved_at_ = now;
  return list_.get();
}

}  // namespace aiw
