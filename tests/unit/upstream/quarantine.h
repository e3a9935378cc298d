// A quarantine for one freed block, to catch writes through a dangling pointer without a
// sanitizer build: while armed, the next block of the armed size given to sized operator
// delete is filled with kQuarantinePoison and kept instead of freed. Under ASan the operator
// delete replacement (quarantine.cc) is left out: ASan reports a use after free itself.
#pragma once

#include <cstddef>

namespace aiw::test {

inline constexpr unsigned char kQuarantinePoison = 0xA5;

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kQuarantineAvailable = false;
#else
inline constexpr bool kQuarantineAvailable = true;
#endif

// Arms the quarantine for blocks of `size` bytes (0 disarms it).
void armQuarantine(size_t size);
// The block kept since arming, or nullptr; the caller frees it with releaseQuarantined().
void* quarantined();
// How many bytes of the kept block no longer hold the poison.
size_t quarantineBytesTouched(size_t size);
void releaseQuarantined();

}  // namespace aiw::test
