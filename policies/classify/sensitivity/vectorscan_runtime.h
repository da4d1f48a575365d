#pragma once
// Which of vectorscan's builds scans and the platform its databases are compiled for, chosen
// once for the process (vectorscan_runtime.cpp says why the AVX-512 build is avoided). Private
// to the sensitivity classifier and its benchmarks: it names vectorscan's types.

#include <hs.h>

namespace sy::policies::sensitivity_detail {

struct VectorscanRuntime {
  decltype(&hs_scan) scan = hs_scan;  // hs_scan, or the avx2 build's entry point
  bool avx512_avoided = false;
  hs_platform_info_t platform{};
  // The platform to compile databases for: AVX2 at most where AVX-512 is avoided, else null
  // (the host's).
  const hs_platform_info_t* target() const { return avx512_avoided ? &platform : nullptr; }
};

const VectorscanRuntime& vectorscan_runtime();

}  // namespace sy::policies::sensitivity_detail
