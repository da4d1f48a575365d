// Not the AVX-512 code: Debian's libvectorscan 5.4.9 is a "fat runtime" whose hs_scan picks,
// by cpuid, one of four builds of the whole scanner (core2, corei7, avx2, avx512). The avx512
// build misses matches: its single-byte accelerator (vermicelli, used by the engines to skip
// to the next byte that can start or continue a match) checks the last partial 64-byte block
// of a range by loading the 64 bytes that end at the range's end but testing only the first
// (end % 64) of them, so a stop byte at distance dist <= end % 64 from the end with
// dist + end % 64 <= 64 is skipped. Whether a match is found thus depends on where the text
// lies in memory (e.g. /0\d/ on 100 'x', " 01" and k spaces, k = 1..30: missed at 900 of
// 1920 alignments; the national-phone pattern's "001-2047" in bench/RESULTS.md, 47 of 64).
// The core2, corei7 and avx2 builds find every one. No compile flag or platform avoids it
// (the dispatcher picks the avx512 build for any database), and a fixed buffer alignment
// cannot either (engines also accelerate over sub-ranges that end anywhere). So where the
// library exports its avx2 build's entry point (every x86-64 fat-runtime build does), scans
// call it directly and databases are compiled for AVX2 at most, which is what that build
// runs; elsewhere hs_scan as before (tests/policies/classify/sensitivity/
// scan_database_test.cpp checks every database at all 64 alignments).

#include "classify/sensitivity/vectorscan_runtime.h"

// The avx2 build's hs_scan in an x86-64 fat-runtime libhs (same signature and contract as
// hs_scan); weak, so a library without it links and leaves it null.
extern "C" hs_error_t avx2_hs_scan(const hs_database_t* db, const char* data, unsigned length,
                                   unsigned flags, hs_scratch_t* scratch,
                                   match_event_handler on_event, void* context)
    __attribute__((weak));

namespace sy::policies::sensitivity_detail {

const VectorscanRuntime& vectorscan_runtime() {
  static const VectorscanRuntime chosen = [] {
    VectorscanRuntime r;
    if (hs_populate_platform(&r.platform) != HS_SUCCESS) return r;
    if ((r.platform.cpu_features & HS_CPU_FEATURES_AVX512) && avx2_hs_scan != nullptr) {
      r.scan = avx2_hs_scan;
      r.avx512_avoided = true;
      r.platform.cpu_features &= ~(HS_CPU_FEATURES_AVX512 | HS_CPU_FEATURES_AVX512VBMI);
    }
    return r;
  }();
  return chosen;
}

}  // namespace sy::policies::sensitivity_detail
