// Durations as libevent's timeouts take them. One conversion for every timer of the project
// (each module had its own copy of the arithmetic).
#pragma once

#include <sys/time.h>

#include <cstdint>

namespace aiw {

inline timeval microsToTimeval(int64_t us) {
  if (us < 0) us = 0;  // a deadline already past fires at once
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

inline timeval millisToTimeval(uint64_t ms) {
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

}  // namespace aiw
