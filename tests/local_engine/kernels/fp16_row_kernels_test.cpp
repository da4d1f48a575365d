// fp32_to_fp16_row of every kernel set that has one against the scalar fp32_to_fp16, bit for
// bit: a sweep over the whole float bit space (every exponent, subnormal halves, overflow),
// exact ties between neighbouring halves, NaNs with payloads of either sign, and lengths that
// leave a tail.

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "local_engine/kernels/kernel_test_support.h"

namespace sy::engine::kernels {
namespace {

std::vector<float> awkward_floats() {
  std::vector<float> v;
  for (uint64_t i = 0; i < (uint64_t{1} << 32); i += 4099) {
    v.push_back(std::bit_cast<float>(static_cast<uint32_t>(i)));
  }
  // Halfway between neighbouring halves (exact in float): the round-to-even cases.
  for (uint32_t h = 0; h < 0x7C00; h += 7) {
    for (uint32_t sign : {0u, 0x8000u}) {
      const float lo = fp16_to_fp32(static_cast<uint16_t>(h | sign));
      const float hi = fp16_to_fp32(static_cast<uint16_t>((h + 1) | sign));
      v.push_back((lo + hi) / 2);
    }
  }
  for (uint32_t bits : {0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0xFF80ABCDu, 0x7FFFFFFFu,
                        0x7F800000u, 0xFF800000u, 0x477FEFFFu, 0x477FF000u, 0x38800000u,
                        0x387FFFFFu, 0x33000000u, 0x33000001u, 0x80000000u, 0u}) {
    v.push_back(std::bit_cast<float>(bits));
  }
  return v;
}

TEST(Fp16RowKernels, RowConversionEqualsTheScalarOneBitForBit) {
  const std::vector<float> x = awkward_floats();
  size_t sets = 0;
  for (const CpuKernels* set : testing::optimized_sets()) {
    if (set->fp32_to_fp16_row == nullptr) continue;
    ++sets;
    for (size_t n : {x.size(), x.size() - 5, size_t{15}, size_t{1}}) {
      std::vector<uint16_t> got(n + 1, 0xABCD);
      set->fp32_to_fp16_row(x.data(), got.data(), n);
      size_t mismatches = 0;
      for (size_t i = 0; i < n; ++i) {
        if (got[i] != fp32_to_fp16(x[i]) && ++mismatches <= 5) {
          ADD_FAILURE() << set->isa << " bits " << std::hex << std::bit_cast<uint32_t>(x[i]) << ": "
                        << got[i] << " vs " << fp32_to_fp16(x[i]);
        }
      }
      EXPECT_EQ(mismatches, 0u) << set->isa << " n=" << n;
      EXPECT_EQ(got[n], 0xABCD) << set->isa << " wrote past n=" << n;
    }
  }
  if (sets == 0) GTEST_SKIP() << "no kernel set on this machine has fp32_to_fp16_row";
}

}  // namespace
}  // namespace sy::engine::kernels
