#include "core/buffer.h"

#include <event2/buffer.h>

#include <algorithm>
#include <new>

namespace aiw {

Buffer::Buffer() = default;

Buffer::~Buffer() {
  if (buf_ != nullptr) evbuffer_free(buf_);
}

Buffer::Buffer(Buffer&& other) noexcept : buf_(other.buf_) { other.buf_ = nullptr; }

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this == &other) return *this;
  if (buf_ == nullptr) {
    buf_ = other.buf_;
    other.buf_ = nullptr;
  } else {
    evbuffer_drain(buf_, evbuffer_get_length(buf_));
    if (other.buf_ != nullptr) evbuffer_add_buffer(buf_, other.buf_);
  }
  return *this;
}

evbuffer* Buffer::raw() {
  if (buf_ == nullptr) {
    buf_ = evbuffer_new();
    if (buf_ == nullptr) throw std::bad_alloc();  // allocation failure only; never on input
  }
  return buf_;
}

size_t Buffer::size() const { return buf_ == nullptr ? 0 : evbuffer_get_length(buf_); }

void Buffer::append(std::string_view bytes) {
  if (!bytes.empty()) evbuffer_add(raw(), bytes.data(), bytes.size());
}

void Buffer::append(const void* data, size_t len) {
  if (len != 0) evbuffer_add(raw(), data, len);
}

void Buffer::moveFrom(Buffer& other) {
  if (other.buf_ == nullptr) return;
  if (buf_ == nullptr) {
    buf_ = other.buf_;  // the whole queue changes hands
    other.buf_ = nullptr;
    return;
  }
  evbuffer_add_buffer(buf_, other.buf_);
}

void Buffer::moveFrom(evbuffer* other) {
  if (evbuffer_get_length(other) != 0) evbuffer_add_buffer(raw(), other);
}

void Buffer::drain(size_t len) {
  if (buf_ != nullptr) evbuffer_drain(buf_, len);
}

std::string_view Buffer::view(size_t len) {
  size_t n = std::min(len, size());
  if (n == 0) return {};
  auto* p = evbuffer_pullup(buf_, static_cast<ev_ssize_t>(n));  // n > 0: buf_ exists
  return {reinterpret_cast<const char*>(p), n};
}

std::string Buffer::toString() const {
  std::string out(size(), '\0');
  if (!out.empty()) evbuffer_copyout(buf_, out.data(), out.size());
  return out;
}

}  // namespace aiw
