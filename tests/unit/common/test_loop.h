// A libevent loop for unit tests that always stops: every run is bounded by a safety deadline
// (not a speed expectation), and a short tick keeps EVLOOP_ONCE from blocking for long. Shared
// by the tests of every folder that drive real sockets (upstream, tls).
#pragma once

#include <doctest/doctest.h>
#include <event2/event.h>
#include <signal.h>

#include <chrono>
#include <functional>

#include "core/c_handles.h"

namespace aiw::test {

// One event_base per test, only ever run for a bounded time. Declare it before every object
// that registers events on it, so that it is destroyed last.
class TestLoop {
 public:
  TestLoop() : base_(event_base_new()) {
    // The proxy ignores SIGPIPE process-wide (listeners/server.cc) and the tunnel relies on it:
    // splice(2) into a socket whose peer is gone raises SIGPIPE, and splice has no MSG_NOSIGNAL.
    ::signal(SIGPIPE, SIG_IGN);
    REQUIRE(base_ != nullptr);
    tick_.reset(event_new(base_.get(), -1, EV_PERSIST, onTick, nullptr));
    REQUIRE(tick_ != nullptr);
  }

  event_base* base() { return base_.get(); }

  // Runs the loop until `done()` holds or `limit` has passed (a safety bound, not a speed
  // expectation); returns done(). A short tick keeps EVLOOP_ONCE from blocking for long.
  bool runUntil(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    timeval tv{0, 2000};
    event_add(tick_.get(), &tv);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    bool ok = done();
    while (!ok && std::chrono::steady_clock::now() < deadline) {
      event_base_loop(base_.get(), EVLOOP_ONCE);
      ok = done();
    }
    event_del(tick_.get());
    return ok;
  }

  // Runs the loop for `d`: for checking that something does not happen.
  void runFor(std::chrono::milliseconds d) {
    runUntil([] { return false; }, d);
  }

 private:
  static void onTick(evutil_socket_t, short, void*) noexcept {}

  EventBasePtr base_;
  EventPtr tick_;
};

}  // namespace aiw::test
