// RAII owners for the C handles the project uses (libevent), so that no path can leak them.
#pragma once

#include <unistd.h>

#include <memory>
#include <utility>

struct event_base;
struct event;
struct evdns_base;
struct evconnlistener;
struct bufferevent;

namespace aiw {

struct EventBaseDeleter { void operator()(event_base* b) const noexcept; };
struct EventDeleter { void operator()(event* e) const noexcept; };
struct EvdnsBaseDeleter { void operator()(evdns_base* d) const noexcept; };
struct EvconnListenerDeleter { void operator()(evconnlistener* l) const noexcept; };
struct BufferEventDeleter { void operator()(bufferevent* b) const noexcept; };

using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;
using EvdnsBasePtr = std::unique_ptr<evdns_base, EvdnsBaseDeleter>;
using EvconnListenerPtr = std::unique_ptr<evconnlistener, EvconnListenerDeleter>;
using BufferEventPtr = std::unique_ptr<bufferevent, BufferEventDeleter>;

// An owned file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace aiw
