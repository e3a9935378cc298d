// Threads are named for `top -H`, perf and gdb; Linux keeps 15 characters.
#include "core/thread_name.h"

#include <doctest/doctest.h>
#include <pthread.h>

#include <string>
#include <thread>

namespace aiw {
namespace {

std::string nameOfThreadNamed(const std::string& name) {
  std::string seen;
  std::thread t([&] {
    nameThisThread(name);
    char buf[64] = {};
    if (pthread_getname_np(pthread_self(), buf, sizeof buf) == 0) seen = buf;
  });
  t.join();
  return seen;
}

TEST_CASE("a thread carries the name it was given") {
  CHECK(nameOfThreadNamed("aiw-worker-3") == "aiw-worker-3");
}

TEST_CASE("a name past Linux's 15 characters is cut, not refused") {
  CHECK(nameOfThreadNamed("aiw-sink-a-very-long-collector") == "aiw-sink-a-very");
}

}  // namespace
}  // namespace aiw
