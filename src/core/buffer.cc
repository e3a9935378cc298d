#include "core/buffer.h"

#include <event2/buffer.h>

#include <algorithm>
#include <new>

namespace aiw {

Buffer::Buffer() : buf_(evbuffer_new()) {
  if (buf_ == nullptr) throw std::bad_alloc();  // allocation failure only; never on input
}

Buffer::~Buffer() {
  if (buf_ != nullptr) evbuffer_free(buf_);
}

Buffer::Buffer(Buffer&& other) noexcept : buf_(other.buf_) { other.buf_ = evbuffer_new(); }

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    evbuffer_drain(buf_, evbuffer_get_length(buf_));
    evbuffer_add_buffer(buf_, other.buf_);
  }
  return *this;
}

size_t Buffer::size() const { return evbuffer_get_length(buf_); }

void Buffer::append(std::string_view bytes) { evbuffer_add(buf_, bytes.data(), bytes.size()); }

void Buffer::append(const void* data, size_t len) { evbuffer_add(buf_, data, len); }

void Buffer::moveFrom(Buffer& other) { evbuffer_add_buffer(buf_, other.buf_); }

void Buffer::moveFrom(evbuffer* other) { evbuffer_add_buffer(buf_, other); }

void Buffer::drain(size_t len) { evbuffer_drain(buf_, len); }

std::string_view Buffer::view(size_t len) {
  size_t n = std::min(len, size());
  if (n == 0) return {};
  auto* p = evbuffer_pullup(buf_, static_cast<ev_ssize_t>(n));
  return {reinterpret_cast<const char*>(p), n};
}

std::string Buffer::toString() const {
  std::string out(size(), '\0');
  if (!out.empty()) evbuffer_copyout(buf_, out.data(), out.size());
  return out;
}

}  // namespace aiw
