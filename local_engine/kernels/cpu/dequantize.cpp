#include "kernels/cpu/dequantize.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/cpu/cpu_kernels.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine::kernels {
namespace {

uint16_t load_u16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

void dequantize_q4_k(const std::byte* p, float* out, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b, p += sizeof(BlockQ4_K), out += kQK) {
    BlockQ4_K block;
    std::memcpy(&block, p, sizeof(block));
    const float d = fp16_to_fp32(block.d), dmin = fp16_to_fp32(block.dmin);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      q4_k_scale_min(block.scales, j, sc, m);
      const float scale = d * sc, offset = dmin * m;
      const uint8_t* run = block.qs + 32 * (j / 2);
      const int shift = (j % 2) * 4;  // even sub-blocks in the low nibbles
      for (int l = 0; l < 32; ++l) {
        out[32 * j + l] = scale * static_cast<float>((run[l] >> shift) & 0x0F) - offset;
      }
    }
  }
}

void dequantize_q6_k(const std::byte* p, float* out, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b, p += sizeof(BlockQ6_K), out += kQK) {
    BlockQ6_K block;
    std::memcpy(&block, p, sizeof(block));
    const float d = fp16_to_fp32(block.d);
    for (int e = 0; e < 256; ++e) {
      const int h = e / 128, g = (e % 128) / 32, l = e % 32;
      const int low = (block.ql[64 * h + 32 * (g & 1) + l] >> (g < 2 ? 0 : 4)) & 0x0F;
      const int high = (block.qh[32 * h + l] >> (2 * g)) & 0x03;
      out[e] = d * static_cast<float>(block.scales[e / 16]) *
               static_cast<float>((low | (high << 4)) - 32);
    }
  }
}

}  // namespace

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = uint32_t(h >> 15) << 31;
  const uint32_t exponent = (h >> 10) & 0x1F;
  const uint32_t mantissa = h & 0x3FF;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in F32.
    float v = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -v : v;
  }
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // inf / NaN
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(bits);
}

uint16_t fp32_to_fp16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) return sign | (abs > 0x7F800000u ? 0x7E00 : 0x7C00);
  if (abs >= 0x477FF000u) return sign | 0x7C00;  // rounds past the largest half: inf
  if (abs < 0x38800000u) {
    // Subnormal half (or zero): value / 2^-24, rounded to nearest even.
    float v = std::bit_cast<float>(abs);
    float scaled = v * 16777216.0f;  // 2^24
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  uint32_t rounded = abs + 0xFFF + ((abs >> 13) & 1);  // round to nearest even on bit 13
  return sign | static_cast<uint16_t>((rounded - (112u << 23)) >> 13);
}

float bf16_to_fp32(uint16_t h) { return std::bit_cast<float>(uint32_t{h} << 16); }

uint16_t fp32_to_bf16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  return static_cast<uint16_t>((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);  // nearest even
}

bool can_dequantize(TensorType type) {
  switch (type) {
    case TensorType::f32:
    case TensorType::f16:
    case TensorType::bf16:
    case TensorType::q8_0:
    case TensorType::q4_0:
    case TensorType::q4_k:
    case TensorType::q6_k:
      return true;
    default:
      return false;
  }
}

void dequantize(TensorType type, std::span<const std::byte> data, std::span<float> out) {
  const auto traits = tensor_type_traits(type);
  const size_t n = out.size();
  if (n % traits.block_size != 0) {
    throw EngineError("dequantize: " + std::to_string(n) + " elements is not a multiple of the " +
                      std::string(traits.name) + " block size");
  }
  if (data.size() < n / traits.block_size * traits.block_bytes) {
    throw EngineError("dequantize: data too small for " + std::to_string(n) + " elements");
  }
  const std::byte* p = data.data();
  switch (type) {
    case TensorType::f32:
      std::memcpy(out.data(), p, n * sizeof(float));
      return;
    case TensorType::f16:
      for (size_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(load_u16(p + 2 * i));
      return;
    case TensorType::bf16:
      for (size_t i = 0; i < n; ++i) out[i] = bf16_to_fp32(load_u16(p + 2 * i));
      return;
    case TensorType::q8_0:
      // Block: f16 scale d, then 32 int8 quants; x = d * q.
      for (size_t b = 0; b < n / 32; ++b, p += 34) {
        const float d = fp16_to_fp32(load_u16(p));
        for (size_t j = 0; j < 32; ++j) {
          out[b * 32 + j] = d * static_cast<float>(static_cast<int8_t>(p[2 + j]));
        }
      }
      return;
    case TensorType::q4_0:
      // Block: f16 scale d, then 16 bytes; low nibbles are elements 0..15, high 16..31; x =
      // d*(q-8).
      for (size_t b = 0; b < n / 32; ++b, p += 18) {
        const float d = fp16_to_fp32(load_u16(p));
        for (size_t j = 0; j < 16; ++j) {
          const uint8_t q = static_cast<uint8_t>(p[2 + j]);
          out[b * 32 + j] = d * static_cast<float>((q & 0x0F) - 8);
          out[b * 32 + j + 16] = d * static_cast<float>((q >> 4) - 8);
        }
      }
      return;
    case TensorType::q4_k:
      dequantize_q4_k(p, out.data(), n / kQK);
      return;
    case TensorType::q6_k:
      dequantize_q6_k(p, out.data(), n / kQK);
      return;
    default:
      throw EngineError("dequantize: tensor type " + std::string(traits.name) +
                        " is not supported yet");
  }
}

}  // namespace sy::engine::kernels
