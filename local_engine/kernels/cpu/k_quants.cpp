// Quantization to ggml's K-quant super-blocks (Q4_K, Q6_K weights; Q8_K activations). Written
// for clarity, not speed: weights are quantized once per file, activations once per matvec.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"

namespace sy::engine::kernels {
namespace {

// Round to nearest (ties to even) without a libm call: adding 1.5 * 2^23 leaves the rounded
// integer in the low mantissa bits. Exact for |v| < 2^22; callers clamp the result to a few
// dozen levels, so larger inputs are clamped first.
int nearest(float v) {
  v = std::clamp(v, -4194303.0f, 4194303.0f);
  const float shifted = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, 4);
  return (bits & 0x007FFFFF) - 0x00400000;
}

// x ~ scale * L - min with L in [0, nmax], scale >= 0, min >= 0 (so the sub-block's range always
// covers zero, as ggml's Q4_K does). Tries the plain min..max range and a few stretched or shrunk
// ones; for each, rounds, refits (scale, min) to those levels by least squares and keeps the fit
// with the least squared error (computed in closed form from the sums).
void fit_scale_min(const float* x, int n, int nmax, float& scale, float& min) {
  float lo = 0.0f, hi = x[0];
  double sx = 0, sx2 = 0;
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sx += x[i];
    sx2 += double(x[i]) * x[i];
  }
  // The plain range, kept unless a fit does better.
  scale = (hi - lo) / static_cast<float>(nmax);
  min = -lo;
  if (hi <= lo) return;  // constant non-positive block: only the min is needed
  double best = INFINITY;
  for (int step = -10; step <= 10; ++step) {
    const float iscale = (static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / (hi - lo);
    double sl = 0, sl2 = 0, sxl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest(iscale * (x[i] - lo)), 0, nmax);
      sl += l;
      sl2 += double(l) * l;
      sxl += double(x[i]) * l;
    }
    const double det = n * sl2 - sl * sl;
    if (det <= 0) continue;
    double s = (n * sxl - sl * sx) / det;
    double b = (sl2 * sx - sl * sxl) / det;  // x ~ s * l + b
    if (b > 0) {                             // the offset must not be positive: refit through zero
      b = 0;
      s = sxl / sl2;
    }
    if (s <= 0) continue;
    // sum (s*l + b - x)^2 expanded.
    const double err = sx2 + s * s * sl2 + n * b * b - 2 * s * sxl - 2 * b * sx + 2 * s * b * sl;
    if (err < best) {
      best = err;
      scale = static_cast<float>(s);
      min = static_cast<float>(-b);
    }
  }
}

// x ~ scale * L with L in [-nmax, nmax - 1]: the value of largest magnitude maps to -nmax (the
// scale carries its sign), then a few neighbouring scales are tried, each refit by least squares
// to its levels; the fit with the least squared error wins.
float fit_symmetric_scale(const float* x, int n, int nmax) {
  float amax = 0.0f, vmax = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      vmax = x[i];
    }
  }
  if (amax == 0.0f) return 0.0f;
  float scale = vmax / static_cast<float>(-nmax);
  double best_gain = -1;  // error = sum x^2 - (sum x*l)^2 / sum l^2: maximize the second term
  for (int step = -8; step <= 8; ++step) {
    const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / vmax;
    double sxl = 0, sl2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest(iscale * x[i]), -nmax, nmax - 1);
      sxl += double(x[i]) * l;
      sl2 += double(l) * l;
    }
    if (sl2 == 0) continue;
    if (sxl * sxl / sl2 > best_gain) {
      best_gain = sxl * sxl / sl2;
      scale = static_cast<float>(sxl / sl2);
    }
  }
  return scale;
}

}  // namespace

void q4_k_scale_min(const uint8_t* q, int j, uint8_t& scale, uint8_t& min) {
  if (j < 4) {
    scale = q[j] & 63;
    min = q[j + 4] & 63;
  } else {
    scale = static_cast<uint8_t>((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
    min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

void quantize_row_q8_k(const float* x, BlockQ8_K* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0;
    for (size_t j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    BlockQ8_K& out = y[b];
    if (amax == 0.0f) {
      std::memset(&out, 0, sizeof(out));
      continue;
    }
    const float iscale = 127.0f / amax;
    for (size_t j = 0; j < kQK; ++j) {
      out.qs[j] = static_cast<int8_t>(std::clamp(nearest(iscale * x[j]), -127, 127));
    }
    for (size_t k = 0; k < 16; ++k) {
      int sum = 0;
      for (size_t j = 0; j < 16; ++j) sum += out.qs[16 * k + j];
      out.bsums[k] = static_cast<int16_t>(sum);
    }
    out.d = 1.0f / iscale;
  }
}

void quantize_row_q4_k(const float* x, BlockQ4_K* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK) {
    float scales[8], mins[8];  // per sub-block of 32
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; ++j) {
      fit_scale_min(x + 32 * j, 32, 15, scales[j], mins[j]);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    BlockQ4_K& out = y[b];
    out.d = fp32_to_fp16(max_scale / 63.0f);
    out.dmin = fp32_to_fp16(max_min / 63.0f);
    // Quantize the scales and mins against the fp16 values the reader will see.
    const float d = fp16_to_fp32(out.d), dmin = fp16_to_fp32(out.dmin);
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; ++j) {
      ls[j] = static_cast<uint8_t>(d > 0 ? std::clamp(nearest(scales[j] / d), 0, 63) : 0);
      lm[j] = static_cast<uint8_t>(dmin > 0 ? std::clamp(nearest(mins[j] / dmin), 0, 63) : 0);
    }
    for (int j = 0; j < 4; ++j) {
      out.scales[j] = static_cast<uint8_t>(ls[j] | ((ls[j + 4] >> 4) << 6));
      out.scales[j + 4] = static_cast<uint8_t>(lm[j] | ((lm[j + 4] >> 4) << 6));
      out.scales[j + 8] = static_cast<uint8_t>((ls[j + 4] & 0x0F) | ((lm[j + 4] & 0x0F) << 4));
    }
    uint8_t levels[kQK];  // (256) in [0, 15]
    for (int j = 0; j < 8; ++j) {
      const float s = d * ls[j], m = dmin * lm[j];
      for (int i = 0; i < 32; ++i) {
        levels[32 * j + i] =
            static_cast<uint8_t>(s > 0 ? std::clamp(nearest((x[32 * j + i] + m) / s), 0, 15) : 0);
      }
    }
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        out.qs[32 * c + l] =
            static_cast<uint8_t>(levels[64 * c + l] | (levels[64 * c + 32 + l] << 4));
      }
    }
  }
}

void quantize_row_q6_k(const float* x, BlockQ6_K* y, size_t n) {
  for (size_t b = 0; b < n / kQK; ++b, x += kQK) {
    float scales[16];  // per sub-block of 16, signed
    float max_scale = 0;
    for (int k = 0; k < 16; ++k) {
      scales[k] = fit_symmetric_scale(x + 16 * k, 16, 32);
      if (std::fabs(scales[k]) > std::fabs(max_scale)) max_scale = scales[k];
    }
    BlockQ6_K& out = y[b];
    // The largest sub-block scale maps to -128, as the sub-block values do to -32.
    out.d = fp32_to_fp16(max_scale / -128.0f);
    const float d = fp16_to_fp32(out.d);
    int8_t levels[kQK];  // (256) in [-32, 31]
    for (int k = 0; k < 16; ++k) {
      const int sc = d != 0.0f ? std::clamp(nearest(scales[k] / d), -128, 127) : 0;
      out.scales[k] = static_cast<int8_t>(sc);
      const float s = d * static_cast<float>(sc);
      for (int i = 0; i < 16; ++i) {
        levels[16 * k + i] =
            static_cast<int8_t>(s != 0.0f ? std::clamp(nearest(x[16 * k + i] / s), -32, 31) : 0);
      }
    }
    for (int h = 0; h < 2; ++h) {
      const int8_t* lv = levels + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int q0 = lv[l] + 32, q1 = lv[l + 32] + 32, q2 = lv[l + 64] + 32, q3 = lv[l + 96] + 32;
        out.ql[64 * h + l] = static_cast<uint8_t>((q0 & 0x0F) | ((q2 & 0x0F) << 4));
        out.ql[64 * h + 32 + l] = static_cast<uint8_t>((q1 & 0x0F) | ((q3 & 0x0F) << 4));
        out.qh[32 * h + l] = static_cast<uint8_t>((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) |
                                                  ((q3 >> 4) << 6));
      }
    }
  }
}

}  // namespace sy::engine::kernels
