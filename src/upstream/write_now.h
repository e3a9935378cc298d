// Writing a bufferevent's output straight to its socket.
//
// A socket bufferevent writes only when epoll reports the socket writable: every response costs
// an epoll_ctl to arm EPOLLOUT, a loop pass, and an epoll_ctl to disarm it. The sessions keep
// EV_WRITE off instead and call flushNow() after each batch of output; libevent is handed
// EV_WRITE only for what the socket could not take at once, and the session's write callback
// turns it off again when the output has drained.
#pragma once

struct bufferevent;

namespace aiw {

// Writes as much of `bev`'s output as the socket takes now (a socket bufferevent; a filtering
// one, such as TLS, is handed to libevent with EV_WRITE). What is left (or a write error, so
// that libevent reports it through the event callback) turns EV_WRITE on. Does nothing while
// EV_WRITE is already on: libevent is then the writer.
void flushNow(bufferevent* bev);

// For the write callback: EV_WRITE off once the output is empty.
void stopWritingIfDrained(bufferevent* bev);

// libevent 2.1 reads at most 4 KiB per readiness event by default: a 1 MiB body would take 256
// loop passes. Sessions raise it on their socket bufferevents (the TLS layer tops up its own).
void readInLargeChunks(bufferevent* bev);

}  // namespace aiw
