#pragma once
// CPU dot-product kernels, op x ISA (STYLE.md): a generic C++ version of every op always exists;
// an ISA file overrides the ops it speeds up. select_cpu_kernels() picks the best set the
// processor supports (cpuid) once; callers keep the returned table, there is no global state.
//
// Quantized dots take activations already quantized to Q8_0 (quantize_row_q8_0), as llama.cpp's
// formats call for: Q8_0 x Q8_0 and Q4_0 x Q8_0 are integer dots scaled per block.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sy::engine::kernels {

// ggml block layouts, bit exact (34 and 18 bytes).
struct BlockQ8_0 {
  uint16_t d;  // fp16 scale
  int8_t qs[32];
};
struct BlockQ4_0 {
  uint16_t d;      // fp16 scale
  uint8_t qs[16];  // element j in the low nibble of byte j, element j+16 in its high nibble
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18);

struct CpuKernels {
  std::string_view isa;  // "generic", "avx2", "avx512"
  float (*dot_f32)(const float* a, const float* b, size_t n);
  float (*dot_f16_f32)(const uint16_t* a, const float* b, size_t n);
  float (*dot_q8_0_q8_0)(const BlockQ8_0* w, const BlockQ8_0* x, size_t n_blocks);
  float (*dot_q4_0_q8_0)(const BlockQ4_0* w, const BlockQ8_0* x, size_t n_blocks);
};

// x (n, a multiple of 32) -> n/32 blocks, ggml's reference rounding.
void quantize_row_q8_0(const float* x, BlockQ8_0* y, size_t n);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, size_t n);

const CpuKernels& generic_cpu_kernels();
// nullptr when this processor (or the build) lacks the ISA.
const CpuKernels* avx2_cpu_kernels();
const CpuKernels* avx512_cpu_kernels();
// The fastest set available here.
const CpuKernels& select_cpu_kernels();

}  // namespace sy::engine::kernels
