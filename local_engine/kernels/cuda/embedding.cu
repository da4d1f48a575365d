// Embedding lookup (cuda_api.h, embed): one block per token, the row dequantized element-wise.

#include "kernels/cuda/cuda_check.h"

namespace sy::engine::cuda {
namespace {

template <WeightType T>
__global__ void embed_kernel(const uint8_t* table, size_t dim, const int32_t* tokens, float scale,
                             float* out) {
  const uint8_t* row = table + static_cast<size_t>(tokens[blockIdx.x]) * row_bytes(T, dim);
  float* o = out + size_t{blockIdx.x} * dim;
  for (size_t i = threadIdx.x; i < dim; i += blockDim.x) o[i] = dequant_at<T>(row, i) * scale;
}

template <WeightType T>
Status run(const void* table, size_t dim, const int32_t* tokens, size_t n, float scale,
           float* out) {
  embed_kernel<T><<<static_cast<unsigned>(n), 256>>>(static_cast<const uint8_t*>(table), dim,
                                                     tokens, scale, out);
  return check_launch("embed");
}

}  // namespace

// Token ids are checked against the vocabulary by the caller (LlamaCuda) before they are
// uploaded: the kernel trusts them.
Status embed(WeightType t, const void* d_table, size_t dim, const int32_t* d_tokens, size_t n,
             float scale, float* d_out) {
  if (n == 0) return {};
  if (Status s = check_grid(n, "embed"); !s.ok()) return s;
  if (dim % static_cast<size_t>(block_elements(t)) != 0) {
    return {"CUDA embed: width does not fit the table's blocks"};
  }
  switch (t) {
    case WeightType::f32:
      return run<WeightType::f32>(d_table, dim, d_tokens, n, scale, d_out);
    case WeightType::f16:
      return run<WeightType::f16>(d_table, dim, d_tokens, n, scale, d_out);
    case WeightType::bf16:
      return run<WeightType::bf16>(d_table, dim, d_tokens, n, scale, d_out);
    case WeightType::q8_0:
      return run<WeightType::q8_0>(d_table, dim, d_tokens, n, scale, d_out);
    case WeightType::q4_0:
      return run<WeightType::q4_0>(d_table, dim, d_tokens, n, scale, d_out);
    case WeightType::q4_k:
      return run<WeightType::q4_k>(d_table, dim, d_tokens, n, scale, d_out);
    case WeightType::q6_k:
      return run<WeightType::q6_k>(d_table, dim, d_tokens, n, scale, d_out);
  }
  return {"CUDA embed: unknown weight type"};
}

}  // namespace sy::engine::cuda
