#pragma once
// Re-encodes the weights of a GGUF model (what `switchyard model quantize` runs).
//
// Matrices (2+ dimensions) are converted to `type`; one whose row width does not fit the type's
// block size (32; 256 for Q4_K and Q6_K) gets `fallback` instead (F32 if that does not fit
// either), as llama.cpp does. The default fallback loses no more precision than `type`: Q8_0 for
// the K-quants (llama.cpp picks Q5_0/Q8_0, and this engine has no Q5_0), F16 otherwise.
// Vectors (norms, biases) stay F32. Metadata is copied, general.file_type updated. Throws
// EngineError naming the tensor on failure. The whole output is built in memory before writing.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <vector>

#include "switchyard/local_engine/tensor_type.h"

namespace sy::engine {

struct QuantizeOptions {
  TensorType type = TensorType::q8_0;  // f32, f16, bf16, q8_0, q4_0, q4_k or q6_k
  std::optional<TensorType> fallback;  // nullopt: default_fallback(type)
};

// The fallback used when QuantizeOptions::fallback is unset.
TensorType default_fallback(TensorType type);

struct QuantizeReport {
  size_t converted = 0;  // matrices in `type`
  size_t fell_back = 0;  // matrices in the fallback type
  size_t kept = 0;       // vectors left as they were (F32)
};

QuantizeReport quantize_gguf(const std::filesystem::path& input,
                             const std::filesystem::path& output, const QuantizeOptions& options);

// Encodes `values` (a whole number of `type`'s blocks) as `type`: the per-tensor step of
// quantize_gguf, for writers that make tensors themselves (`model synth`). Throws EngineError
// when this engine cannot write `type` yet.
std::vector<std::byte> quantize_values(TensorType type, const std::vector<float>& values);

}  // namespace sy::engine
