#pragma once
// The GPU forward pass: LlamaCpu's computation (every architecture of model/architecture.h) with
// the weights uploaded once to one CUDA device in their GGUF formats (F32, F16, BF16, Q8_0,
// Q4_0, Q4_K, Q6_K; dequantized as the kernels read them) and an F16 paged KV cache on the
// device. Activations stay on the device through a step; only the logits come back for sampling.
//
// Results match LlamaCpu within the bounds the gpu tests state, not bit for bit: the GPU keeps
// activations in F32 where the CPU quantizes them to Q8_0/Q8_K, and sums in another order.
//
// Errors: the constructor throws EngineError when the build has no CUDA, when no GPU is present
// ("no CUDA device"), for a weight type the kernels lack, or when the model, its KV cache and the
// step buffers do not fit the device's free memory (checked before anything is uploaded). A
// CUDA failure during a step becomes an EngineError naming the operation. Not thread-safe.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/cuda/device_buffer.h"
#include "runtime/llama_cpu.h"
#include "switchyard/local_engine/model.h"

namespace sy::engine {

struct CudaDeviceSummary {
  bool found = false;  // a CUDA device is present (and the build has CUDA)
  std::string text;    // "NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB free", or why there is none
};
// The first CUDA device, or why there is none: for `--device cuda` messages and the benchmark.
CudaDeviceSummary describe_cuda_device();

class LlamaCuda {
 public:
  // `model` must come from a GGUF file and outlive this object; positions 0 .. max_positions - 1
  // get KV blocks on the device; steps run at most max_step_tokens tokens through the layers at
  // once (larger ones in chunks).
  LlamaCuda(const Model& model, size_t max_positions, int device = 0,
            size_t max_step_tokens = LlamaCpu::kPrefillChunk);

  // Device bytes the model needs: weights as stored, the F16 KV cache for max_positions, and
  // the step buffers. The constructor compares it with the device's free memory.
  static size_t device_bytes_needed(const Model& model, size_t max_positions,
                                    size_t max_step_tokens);

  // Same contracts as LlamaCpu::forward / forward_batch.
  std::span<const float> forward(TokenId token, size_t pos);
  std::span<const float> forward_batch(std::span<const TokenId> tokens, size_t start_pos);

 private:
  struct Matrix {
    cuda::WeightType type = cuda::WeightType::f32;
    cuda::DeviceBuffer data;
    size_t rows = 0, cols = 0;
  };
  struct Layer {
    Matrix wq, wk, wv, wo, w_gate, w_up, w_down;
    // F32 copies; the optional ones are empty buffers when absent.
    cuda::DeviceBuffer attn_norm, ffn_norm, bq, bk, bv, q_norm, k_norm, attn_post_norm,
        ffn_post_norm;
  };
  Matrix upload_matrix(std::string_view name, size_t rows, size_t cols);
  cuda::DeviceBuffer upload_vector(std::string_view name, size_t n);
  cuda::DeviceBuffer upload_floats(const std::vector<float>& v, std::string_view what);
  void matmul(const Matrix& w, const float* d_x, size_t n, float* d_out);
  // Runs tokens [begin, begin + n) of the step at positions start_pos + begin ...; leaves
  // their final hidden states in bx_.
  void forward_chunk(std::span<const TokenId> tokens, size_t start_pos);

  const Model& model_;
  const ModelConfig& c_;
  size_t max_positions_;
  size_t max_step_tokens_;
  Matrix token_embd_, output_;
  bool output_is_embd_ = false;
  std::vector<Layer> layers_;
  cuda::DeviceBuffer output_norm_, inv_freq_, inv_freq_swa_;  // (dim), (rope_dim / 2) x2
  cuda::DeviceBuffer kv_storage_;  // F16, KvCache's block layout, identity block table
  cuda::PagedKv kv_;
  // Step inputs: (max_step_tokens) token ids, positions, table offsets; (blocks) block ids.
  cuda::DeviceBuffer tokens_, positions_, table_offsets_, table_;
  // (max_step_tokens, width) activations.
  cuda::DeviceBuffer bx_, bxb_, bq_, bk_, bv_, batt_, bgate_, bup_;
  cuda::DeviceBuffer scores_;            // (max_step_tokens, n_heads, max_positions)
  cuda::DeviceBuffer final_, logits_d_;  // (1, dim), (1, n_vocab)
  std::vector<float> logits_;            // (n_vocab) on the host
  size_t length_ = 0;                    // positions stored so far
};

}  // namespace sy::engine
