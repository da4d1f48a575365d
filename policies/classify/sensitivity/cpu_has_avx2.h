#pragma once
// Whether this CPU runs AVX2, asked once: the scan paths that have an AVX2 loop (digit region
// masks, the name gazetteer, the anchor finder) pick it by this. False off x86-64.

namespace sy::policies::sensitivity_detail {

bool cpu_has_avx2();

}  // namespace sy::policies::sensitivity_detail
