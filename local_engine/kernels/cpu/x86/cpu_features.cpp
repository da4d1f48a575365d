// cpuid-based choice of kernel sets. Compiled without ISA flags so it runs on any x86-64.

#include "kernels/cpu/cpu_kernels.h"

namespace sy::engine::kernels {

#if defined(__x86_64__)
extern const CpuKernels kAvx2Kernels;
extern const CpuKernels kAvx512Kernels;

const CpuKernels* avx2_cpu_kernels() {
  __builtin_cpu_init();
  const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok ? &kAvx2Kernels : nullptr;
}

const CpuKernels* avx512_cpu_kernels() {
  __builtin_cpu_init();
  const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
                  __builtin_cpu_supports("fma");
  return ok ? &kAvx512Kernels : nullptr;
}
#else
const CpuKernels* avx2_cpu_kernels() { return nullptr; }
const CpuKernels* avx512_cpu_kernels() { return nullptr; }
#endif

}  // namespace sy::engine::kernels
