#pragma once
// IEEE half and bfloat16 conversions, host and device, bit for bit the CPU path's
// (kernels/cpu/dequantize.cpp: fp16_to_fp32, fp32_to_fp16 round to nearest even, bf16_to_fp32).
// Written on the bits rather than with cuda_fp16.h so that the host tests exercise exactly what
// the device runs.

#include <cstdint>
#include <cstring>

#include "kernels/cuda/hd.h"

namespace sy::engine::cuda {

SY_HD float bits_to_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

SY_HD uint32_t float_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

SY_HD float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h >> 15) << 31;
  const uint32_t exponent = (h >> 10) & 0x1F;
  const uint32_t mantissa = h & 0x3FF;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in F32 (2^-24 is a power of two).
    const float v = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exponent == 0x1F) return bits_to_float(sign | 0x7F800000u | (mantissa << 13));
  return bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// Rounds to nearest even; NaN stays a (quiet) NaN, overflow becomes infinity.
SY_HD uint16_t float_to_half(float f) {
  const uint32_t x = float_to_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) return sign | (abs > 0x7F800000u ? 0x7E00 : 0x7C00);
  if (abs >= 0x477FF000u) return sign | 0x7C00;
  if (abs < 0x38800000u) {
    // Subnormal half (or zero): value * 2^24 (exact), rounded to the nearest even integer. The
    // value is below 2^10 here, so adding and subtracting 2^23 rounds it in the default mode.
    const float scaled = bits_to_float(abs) * 16777216.0f;
    const float rounded = (scaled + 8388608.0f) - 8388608.0f;
    return sign | static_cast<uint16_t>(rounded);
  }
  const uint32_t rounded = abs + 0xFFF + ((abs >> 13) & 1);
  return sign | static_cast<uint16_t>((rounded - (112u << 23)) >> 13);
}

SY_HD float bf16_to_float(uint16_t h) { return bits_to_float(uint32_t{h} << 16); }

}  // namespace sy::engine::cuda
