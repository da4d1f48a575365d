#pragma once
// Generic (scalar) conversion of ggml tensor data to F32: the reference every optimized kernel is
// checked against. Layouts are ggml's, bit for bit.

#include <cstddef>
#include <cstdint>
#include <span>

#include "switchyard/local_engine/tensor_type.h"

namespace sy::engine::kernels {

float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);  // round to nearest even
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);  // round to nearest even; NaN stays NaN

// Whether dequantize() handles `type`.
bool can_dequantize(TensorType type);

// Converts `out.size()` elements (a multiple of the type's block size) from `data`.
// Throws EngineError for unsupported types or a `data` span too small.
void dequantize(TensorType type, std::span<const std::byte> data, std::span<float> out);

}  // namespace sy::engine::kernels
