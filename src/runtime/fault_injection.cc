#include "runtime/fault_injection.h"

namespace eddy::runtime {

FaultInjection& fault_injection() {
  static FaultInjection hooks;
  return hooks;
}

}  // namespace eddy::runtime
