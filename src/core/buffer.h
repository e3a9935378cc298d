// Buffer: an owning byte queue over libevent's evbuffer, so body bytes move between sockets,
// filters and codecs by chain hand-over (no copies) and filters can still read or rewrite them.
// The evbuffer is made on first use: most of an exchange's buffers (a body held for a filter,
// a replay copy, a sidecar envelope) stay empty, and each exchange has several.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

struct evbuffer;

namespace aiw {

class Buffer {
 public:
  Buffer();
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  size_t size() const;  // 0 before first use
  bool empty() const { return size() == 0; }
  void append(std::string_view bytes);
  void append(const void* data, size_t len);
  // Moves every byte of `other` to the end of this buffer (no copy); `other` ends empty.
  void moveFrom(Buffer& other);
  void moveFrom(evbuffer* other);
  void drain(size_t len);
  void clear() { drain(size()); }
  // A contiguous view of the first `len` bytes (all when len > size()); may linearize.
  std::string_view view(size_t len = SIZE_MAX);
  std::string toString() const;

  // The evbuffer itself (made now if it was not yet), for libevent calls.
  evbuffer* raw();

 private:
  evbuffer* buf_ = nullptr;
};

}  // namespace aiw
