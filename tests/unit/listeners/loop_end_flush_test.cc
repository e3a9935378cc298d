// LoopEndFlush: a connection's flush runs once per loop pass, after the callbacks that asked.
#include <doctest/doctest.h>
#include <event2/event.h>

#include <string>
#include <vector>

#include "listeners/h2_bridge.h"

namespace aiw {
namespace {

struct Recorder {
  std::vector<std::string> log;
  LoopEndFlush* flush = nullptr;
};

void onFlush(void* arg) { static_cast<Recorder*>(arg)->log.push_back("flush"); }

// A stream's callback: produces output and asks for a flush, as the bridges do.
void onStream(evutil_socket_t, short, void* arg) {
  auto* r = static_cast<Recorder*>(arg);
  r->log.push_back("stream");
  r->flush->request();
}

struct Loop {
  Loop() : base(event_base_new()) {}
  ~Loop() { event_base_free(base); }
  event_base* base;
};

TEST_CASE("many requests in one loop pass give one flush, after every callback already due") {
  Loop loop;
  Recorder rec;
  LoopEndFlush flush(loop.base, onFlush, &rec);
  rec.flush = &flush;
  std::vector<EventPtr> streams;
  for (int i = 0; i < 3; ++i) {
    streams.emplace_back(event_new(loop.base, -1, 0, onStream, &rec));
    event_active(streams.back().get(), EV_TIMEOUT, 1);  // three streams ready in this pass
  }
  event_base_loop(loop.base, EVLOOP_NONBLOCK);
  CHECK(rec.log == std::vector<std::string>{"stream", "stream", "stream", "flush"});
  CHECK_FALSE(flush.pending());
}

TEST_CASE("a request after the flush ran schedules the next one") {
  Loop loop;
  Recorder rec;
  LoopEndFlush flush(loop.base, onFlush, &rec);
  rec.flush = &flush;
  flush.request();
  CHECK(flush.pending());
  event_base_loop(loop.base, EVLOOP_NONBLOCK);
  CHECK(rec.log == std::vector<std::string>{"flush"});
  flush.request();
  flush.request();
  event_base_loop(loop.base, EVLOOP_NONBLOCK);
  CHECK(rec.log == std::vector<std::string>{"flush", "flush"});
}

TEST_CASE("a flush still pending when its owner goes never runs") {
  Loop loop;
  Recorder rec;
  {
    LoopEndFlush flush(loop.base, onFlush, &rec);
    flush.request();
  }
  event_base_loop(loop.base, EVLOOP_NONBLOCK);
  CHECK(rec.log.empty());
}

}  // namespace
}  // namespace aiw
