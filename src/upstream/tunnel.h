// Tunnel: a blind byte pipe between a downstream and an upstream socket (CONNECT bypass).
// Bulk bytes move with splice(2) through a kernel pipe per direction, never copied into user
// space; small exchanges are copied through a 16 KiB buffer (cheaper than two splices each). A half-close in one direction is passed on (shutdown(SHUT_WR)) once the bytes
// before it have been delivered; the tunnel ends when both directions are done, on an error
// (both sockets closed together), or after idle_timeout_ms without traffic either way.
//
// splice(2) has no MSG_NOSIGNAL: the process must ignore SIGPIPE (the server does at start-up),
// or a peer that went away kills it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/c_handles.h"

namespace aiw {

class Tunnel {
 public:
  // `to_upstream_first`: bytes the client sent after the CONNECT head, read before the tunnel
  // existed. `to_downstream_first`: bytes the client must get before any upstream byte (the
  // "200 Connection Established" line). `on_closed` runs once when the tunnel has ended, on the
  // loop turn after (never inside the constructor or close()); the owner may destroy the tunnel
  // from it only by deferring that to the loop.
  Tunnel(event_base* base, UniqueFd downstream, UniqueFd upstream, std::string to_upstream_first,
         std::string to_downstream_first, uint32_t idle_timeout_ms,
         std::function<void(Tunnel&)> on_closed);
  ~Tunnel();
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  // Ends the tunnel now (drain deadline, shutdown): both sockets closed.
  void close();
  bool closed() const { return closed_; }
  uint64_t bytesUp() const { return up_.bytes; }
  uint64_t bytesDown() const { return down_.bytes; }

  // One direction: src → pipe → dst. Public for the C callbacks in tunnel.cc.
  struct Direction {
    Tunnel* tunnel = nullptr;
    int src = -1;
    int dst = -1;
    UniqueFd pipe_r, pipe_w;
    size_t in_pipe = 0;       // bytes spliced in, not yet out
    std::string pending;      // early bytes, sent before anything read from src
    std::unique_ptr<char[]> copy_buf;  // small transfers are copied through it (see pump)
    size_t copy_off = 0, copy_len = 0;
    bool splicing = false;    // bulk data (see pump): splice from now on
    size_t run_bytes = 0;     // copied this way since the other direction last sent anything
    bool src_eof = false;     // read side saw EOF
    bool done = false;        // EOF passed on to dst
    uint64_t bytes = 0;
    EventPtr read_ev, write_ev;
  };
  void pump(Direction& d);
  bool flushCopied(Direction& d);
  void onIdleTimer();
  void reportClosed();

 private:
  void fail();
  void finishIfDone();
  void armIdle();

  event_base* base_;
  UniqueFd downstream_, upstream_;
  Direction up_, down_;  // up_: downstream → upstream; down_: upstream → downstream
  EventPtr idle_ev_;
  EventPtr closed_ev_;  // reports the end on the next loop turn
  uint32_t idle_timeout_ms_;
  bool activity_ = false;
  bool closed_ = false;
  std::function<void(Tunnel&)> on_closed_;
};

}  // namespace aiw
