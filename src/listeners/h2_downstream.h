// An HTTP/2 client connection (SPEC §4): ALPN "h2" on an intercepted TLS connection, or h2c with
// prior knowledge on a sidecar listener. The nghttp2 server session (http2_server_session.h)
// runs over the connection; each stream's request is handed, parsed, to a ForwardSession of its
// own, which answers through the stream's StreamPort (stream_port.h). So every stream gets
// exactly the exchange logic of an HTTP/1.1 request (filters, guardrails, sidecar routing,
// upstream pool and TLS, streaming, sessions, reporting) without an HTTP/1.1 round trip: the
// head goes over as a RequestHead, the answer comes back as a head, body bytes and an end.
//
// Flow control end to end: a request body is consumed() (the client's window reopened) only as
// the stream's exchange takes it; an exchange stops reading its origin while the codec holds
// kStreamHighWater of its answer, and resumes once the client took half of it, so a slow HTTP/2
// reader slows the origin read.
//
// A stream the client resets aborts its exchange at once (the upstream request goes with it);
// an exchange that ends before its answer is whole resets the stream.
#pragma once

#include <memory>
#include <string>

#include "core/c_handles.h"
#include "core/config.h"
#include "core/snapshot.h"
#include "filters/filter.h"
#include "http/message_utils.h"

namespace aiw {

class Worker;
class ConnectionFilterChain;

// What a connection knows by the time its HTTP/2 requests arrive, for the exchanges of its
// streams (each one runs as an exchange of a ForwardSession).
struct DownstreamContext {
  ConnectionInfo conn;  // the connection's facts (classification, SNI, client)
  bool intercepting = false;
  std::string intercept_name;  // the host the client believes it talks to (intercepted)
  Authority connect_target;    // where the intercepted connection's upstream goes
};

// Takes over `down` (the client's transport, set up, with any bytes already read still in its
// input buffer; `fd`, when valid, is the socket it does not own) and serves HTTP/2 on it; the
// session belongs to the worker from then on. `listener` must live as long as `snapshot` (the
// one the connection started with). `conn_filters` (may be null) are closed when the
// connection ends.
void startH2Downstream(Worker& worker, const ListenerConfig& listener,
                       std::shared_ptr<const Snapshot> snapshot, UniqueFd fd, BufferEventPtr down,
                       DownstreamContext context,
                       std::unique_ptr<ConnectionFilterChain> conn_filters);

// The HTTP/2 client connection preface (RFC 9113 §3.4) starts `bytes`, or could (a prefix of
// it). h2c with prior knowledge is recognised by it.
enum class PrefaceMatch { No, Partial, Yes };
PrefaceMatch matchH2Preface(std::string_view bytes);

}  // namespace aiw
