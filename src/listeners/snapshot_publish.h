// Publishing a snapshot: the one place a built snapshot becomes the running one. The reporter's
// sinks follow the published chain here, not when a snapshot is merely built, so a snapshot that
// is built and then dropped (an update whose file could not be written) changes nothing.
#pragma once

#include <memory>

#include "core/runtime.h"
#include "core/snapshot.h"

namespace aiw {

// Swaps `snapshot` in for new connections and hands its reporter settings to the reporter (when
// the runtime has one). Main thread only (start-up, reload, admin updates).
void publishSnapshot(Runtime& runtime, std::shared_ptr<const Snapshot> snapshot);

}  // namespace aiw
