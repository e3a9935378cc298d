// millisToTimeval / microsToTimeval: the one conversion every libevent timer goes through.
#include "core/timeval.h"

#include <doctest/doctest.h>

namespace aiw {
namespace {

TEST_CASE("milliseconds split into seconds and microseconds") {
  const timeval zero = millisToTimeval(0);
  CHECK(zero.tv_sec == 0);
  CHECK(zero.tv_usec == 0);
  const timeval t = millisToTimeval(1500);
  CHECK(t.tv_sec == 1);
  CHECK(t.tv_usec == 500000);
  const timeval under = millisToTimeval(999);
  CHECK(under.tv_sec == 0);
  CHECK(under.tv_usec == 999000);
  const timeval day = millisToTimeval(86'400'001);  // configured timeouts go beyond 32 bits of µs
  CHECK(day.tv_sec == 86'400);
  CHECK(day.tv_usec == 1000);
}

TEST_CASE("microseconds split, and a deadline already past is zero") {
  const timeval t = microsToTimeval(2'000'001);
  CHECK(t.tv_sec == 2);
  CHECK(t.tv_usec == 1);
  const timeval past = microsToTimeval(-5);
  CHECK(past.tv_sec == 0);
  CHECK(past.tv_usec == 0);
}

}  // namespace
}  // namespace aiw
