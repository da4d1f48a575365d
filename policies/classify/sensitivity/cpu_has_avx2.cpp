#include "classify/sensitivity/cpu_has_avx2.h"

namespace sy::policies::sensitivity_detail {

bool cpu_has_avx2() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has = [] {
    __builtin_cpu_init();  // safe even if the first scan runs from a static initializer
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
#else
  return false;
#endif
}

}  // namespace sy::policies::sensitivity_detail
