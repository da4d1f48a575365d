#pragma once
// exp in four float lanes for the generic (baseline x86-64, SSE2) code: the log-softmax behind
// logprobs (sampler.cpp) and the SiLU of the FFN (llama_cpu.cpp) call libm's scalar exp tens of
// thousands of times a token otherwise. 16-byte vectors, so the compiler keeps them in
// registers at the baseline ISA (32-byte ones go through the stack there).

#include <cstdint>
#include <cstring>

namespace sy::engine {

using F32x4 = float __attribute__((vector_size(16)));
using I32x4 = int32_t __attribute__((vector_size(16)));

inline F32x4 splat4(float x) { return F32x4{x, x, x, x}; }

inline F32x4 load4(const float* p) {
  F32x4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline void store4(float* p, F32x4 v) { std::memcpy(p, &v, sizeof(v)); }

// exp(x) lane by lane: x = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, so the reduction is
// exact to float precision), exp(r) by Cephes' degree-6 polynomial (within about 2 ulp of the
// rounded exp), times 2^n built in the exponent bits. x is clamped to [-87, 88] first: below,
// the result is exp(-87) (~1.6e-38) instead of a denormal or 0; above, exp(88) (~1.7e38)
// instead of inf. A NaN lane gives NaN. Every lane is computed alone: a value's exp does not
// depend on its neighbours or on where a loop's tail starts.
[[gnu::always_inline]] inline F32x4 exp4(F32x4 x) {
  const F32x4 lowest = splat4(-87.0f), highest = splat4(88.0f);
  x = x < lowest ? lowest : x;
  x = x > highest ? highest : x;
  const F32x4 round = splat4(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const F32x4 n = (x * 1.44269504088896341f + round) - round;
  F32x4 r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  F32x4 p = splat4(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const F32x4 y = p * r * r + r + 1.0f;
  const I32x4 bits = (__builtin_convertvector(n, I32x4) + 127) << 23;
  F32x4 scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return y * scale;
}

}  // namespace sy::engine
