// The forward listener's downstream connection (SPEC §4, "Forward listener"): an HTTP/1.1
// session that proxies absolute-form requests to their origins and turns CONNECT requests into
// blind tunnels.
#pragma once

#include <string>

#include "core/c_handles.h"
#include "core/config.h"

namespace aiw {

class Worker;

// Takes an accepted connection; the session belongs to the worker from then on.
void startForwardSession(Worker& worker, const ListenerConfig& listener, UniqueFd fd,
                         std::string peer);

}  // namespace aiw
