#include "listeners/snapshot_publish.h"

#include "filters/chain.h"
#include "filters/reporter/reporter.h"
#include "filters/reporter/reporter_filter.h"

namespace aiw {

void publishSnapshot(Runtime& runtime, std::shared_ptr<const Snapshot> snapshot) {
  if (runtime.reporter && snapshot->chain) {
    runtime.reporter->configure(reporterSettingsOf(*snapshot->chain));
  }
  runtime.snapshot.set(std::move(snapshot));
}

}  // namespace aiw
