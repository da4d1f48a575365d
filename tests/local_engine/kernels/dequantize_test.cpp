#include "kernels/cpu/dequantize.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "switchyard/local_engine/engine_error.h"

namespace sy::engine::kernels {
namespace {

TEST(Fp16, EveryHalfSurvivesARoundTripThroughFloat) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(f))));
      continue;
    }
    EXPECT_EQ(fp32_to_fp16(f), h) << std::hex << h;
  }
}

TEST(Fp16, KnownValuesAndRounding) {
  EXPECT_EQ(fp16_to_fp32(0x3C00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xC000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x7BFF), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie rounds to even
  EXPECT_EQ(fp32_to_fp16(1e6f), 0x7C00);                          // overflow: inf
  EXPECT_EQ(bf16_to_fp32(0x3F80), 1.0f);
}

TEST(Dequantize, Q8_0BlockIsScaleTimesQuants) {
  std::vector<std::byte> block(34);
  uint16_t d = fp32_to_fp16(0.5f);
  std::memcpy(block.data(), &d, 2);
  for (int j = 0; j < 32; ++j) block[2 + j] = static_cast<std::byte>(static_cast<int8_t>(j - 16));
  std::vector<float> out(32);
  dequantize(TensorType::q8_0, block, out);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 0.5f * (j - 16));
}

TEST(Dequantize, Q4_0LowNibblesFirstThenHigh) {
  std::vector<std::byte> block(18);
  uint16_t d = fp32_to_fp16(2.0f);
  std::memcpy(block.data(), &d, 2);
  for (int j = 0; j < 16; ++j) block[2 + j] = static_cast<std::byte>((15 - j) << 4 | j);
  std::vector<float> out(32);
  dequantize(TensorType::q4_0, block, out);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 2.0f * (j - 8));
    EXPECT_EQ(out[j + 16], 2.0f * (15 - j - 8));
  }
}

TEST(Dequantize, RejectsShortDataAndUnsupportedTypes) {
  std::vector<std::byte> data(33);
  std::vector<float> out(32);
  EXPECT_THROW(dequantize(TensorType::q8_0, data, out), EngineError);
  EXPECT_THROW(dequantize(TensorType::q5_k, data, out), EngineError);
  std::vector<float> odd(31);
  EXPECT_THROW(dequantize(TensorType::q8_0, std::vector<std::byte>(68), odd), EngineError);
}

}  // namespace
}  // namespace sy::engine::kernels
