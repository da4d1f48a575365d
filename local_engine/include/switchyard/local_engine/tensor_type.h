#pragma once
// ggml tensor element types as stored in GGUF files (the numeric values are the on-disk ids).

#include <cstdint>
#include <optional>
#include <string_view>

namespace sy::engine {

enum class TensorType : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  bf16 = 30,
};

// Elements per block and bytes per block; a row's width must be a multiple of block_size.
struct TensorTypeTraits {
  std::string_view name;
  uint32_t block_size = 0;
  uint32_t block_bytes = 0;
};

// nullopt for ids this engine does not know (they are rejected when a file is opened).
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t type_id);
TensorTypeTraits tensor_type_traits(TensorType type);
std::string_view to_string(TensorType type);
// llama.cpp's `general.file_type` for a model whose matrices are mostly `type` (0, all F32, for
// types that have no such id).
uint32_t gguf_file_type(TensorType type);

}  // namespace sy::engine
