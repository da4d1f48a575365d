#pragma once
// Helpers every kernel test shares: the optimized kernel sets this processor has (each is
// tested against the generic one) and seeded normal random inputs.

#include <random>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

namespace sy::engine::kernels::testing {

inline std::vector<const CpuKernels*> optimized_sets() {
  std::vector<const CpuKernels*> sets;
  if (auto* k = avx2_cpu_kernels()) sets.push_back(k);
  if (auto* k = avx512_cpu_kernels()) sets.push_back(k);
  return sets;
}

inline std::vector<float> random_floats(std::mt19937& rng, size_t n, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace sy::engine::kernels::testing
