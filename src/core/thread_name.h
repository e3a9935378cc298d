// Names the calling thread ("aiw-worker-0", "aiw-reporter"), as `top -H`, `ps -L`,
// perf and gdb show it: an operator sees which of the proxy's threads burns the CPU.
#pragma once

#include <string>

namespace aiw {

// Linux keeps 15 characters; longer names are cut there. Best effort: a failure is ignored
// (the thread keeps its inherited name).
void nameThisThread(const std::string& name);

}  // namespace aiw
