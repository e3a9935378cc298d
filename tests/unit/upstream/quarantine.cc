// Replaces the global sized operator delete for the unit_upstream executable; see quarantine.h.
// Kept in its own file so that no other translation unit sees the replacement's body.
#include "quarantine.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace {
size_t g_size = 0;
void* g_kept = nullptr;
}  // namespace

namespace aiw::test {

void armQuarantine(size_t size) { g_size = size; }
void* quarantined() { return g_kept; }
size_t quarantineBytesTouched(size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(g_kept);
  size_t touched = 0;
  for (size_t i = 0; bytes != nullptr && i < size; ++i) touched += bytes[i] != kQuarantinePoison;
  return touched;
}
void releaseQuarantined() {
  std::free(g_kept);
  g_kept = nullptr;
}

}  // namespace aiw::test

#if !defined(__SANITIZE_ADDRESS__)
// libstdc++'s operator new allocates with malloc, so free() is the matching release.
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t size) noexcept {
  if (p != nullptr && g_size != 0 && size == g_size && g_kept == nullptr) {
    std::memset(p, aiw::test::kQuarantinePoison, size);
    g_kept = p;
    return;
  }
  std::free(p);
}
#endif
