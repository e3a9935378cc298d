#include "core/thread_name.h"

#include <pthread.h>

namespace aiw {

void nameThisThread(const std::string& name) {
  constexpr size_t kLinuxMax = 15;  // TASK_COMM_LEN - 1
  (void)pthread_setname_np(pthread_self(), name.substr(0, kLinuxMax).c_str());
}

}  // namespace aiw
