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
#include "runtime/kv_cache.h"
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
  // gpu_layers below the model's layer count makes a partial offload: only layers
  // [0, gpu_layers) go to the device, and the object serves a LlamaCpu through run_layers
  // (LlamaCpu::set_layer_offload) instead of forward*.
  static constexpr size_t kAllLayers = SIZE_MAX;
  LlamaCuda(const Model& model, size_t max_positions, int device = 0,
            size_t max_step_tokens = LlamaCpu::kPrefillChunk, size_t gpu_layers = kAllLayers);

  // Serving: block ids come from `cache` (F16, made for this model; it must outlive this object),
  // whose host storage stays unused: the keys and values live in a device pool of as many
  // blocks. Sequences reach at most max_positions positions (the attention scratch).
  // forward and forward_batch throw EngineError on an object made this way.
  LlamaCuda(const Model& model, KvCache& cache, size_t max_step_tokens, size_t max_positions,
            int device = 0);

  // Same contract as LlamaCpu::forward_step, except that logits agree with the CPU's within the
  // gpu tests' bound rather than bit for bit.
  std::span<const float> forward_step(std::span<const BatchSequence> batch);

  // Device bytes the model (or its first gpu_layers layers) needs: weights as stored, the F16 KV
  // cache for max_positions, and the step buffers. The constructor compares it with the
  // device's free memory.
  static size_t device_bytes_needed(const Model& model, size_t max_positions,
                                    size_t max_step_tokens, size_t gpu_layers = kAllLayers);

  // LlamaCpu::LayerOffload for a partial offload: runs this object's layers on the chunk's rows
  // (their block ids below max_positions' worth of blocks of block_tokens = 16, as LlamaCpu's
  // own cache has), x (rows, dim) in and out through the host; returns the layer count.
  size_t run_layers(std::span<const LlamaCpu::Row> rows, size_t block_tokens, float* x);
  size_t gpu_layers() const { return layers_.size(); }

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
  // Both constructors end here: device checks, budget, uploads, buffers for `blocks` KV blocks.
  void init(int device, size_t blocks);
  void matmul(const Matrix& w, const float* d_x, size_t n, float* d_out);
  // One step's rows, in order: token, position, offset of its sequence's table in tables_.
  struct Row {
    int32_t token;
    int32_t pos;
    uint32_t table_offset;
  };
  // Runs rows_[begin, begin + n) (embedded here, or already in bx_) through this object's
  // layers; leaves their hidden states in bx_.
  void forward_rows(size_t begin, size_t n, bool embed);
  void upload_tables();

  const Model& model_;
  const ModelConfig& c_;
  size_t max_positions_;
  size_t max_step_tokens_;
  size_t block_tokens_;
  int device_ = 0;        // made current at every step: the current device is per host thread
  size_t gpu_layers_;     // layers on the device; the rest (partial offload) on the CPU
  bool full_ = true;      // every layer here: embedding, output and forward* too
  size_t kv_blocks_ = 0;  // blocks of the device cache
  KvCache* cache_ = nullptr;  // serving mode's block bookkeeping; null for the own sequence
  KvSequence own_seq_;        // forward / forward_batch's sequence: block i is block id i
  Matrix token_embd_, output_;
  bool output_is_embd_ = false;
  std::vector<Layer> layers_;
  cuda::DeviceBuffer output_norm_, inv_freq_, inv_freq_swa_;  // (dim), (rope_dim / 2) x2
  cuda::DeviceBuffer kv_storage_;  // F16, KvCache's block layout, identity block table
  cuda::PagedKv kv_;
  // Step inputs: (max_step_tokens) token ids, positions, table offsets; (blocks) block ids of
  // the step's sequences, one table after another.
  cuda::DeviceBuffer tokens_, positions_, table_offsets_, table_;
  std::vector<Row> rows_;           // (step tokens)
  std::vector<size_t> logit_rows_;  // indices into rows_ wanting logits
  std::vector<uint32_t> tables_;    // (blocks of the step's sequences)
  // (max_step_tokens, width) activations.
  cuda::DeviceBuffer bx_, bxb_, bq_, bk_, bv_, batt_, bgate_, bup_;
  cuda::DeviceBuffer scores_;            // (max_step_tokens, n_heads, max_positions)
  size_t max_logit_rows_ = 0;            // rows final_ and logits_d_ hold
  cuda::DeviceBuffer final_, logits_d_;  // (logit rows, dim), (logit rows, n_vocab)
  std::vector<float> logits_;            // (logit rows, n_vocab) on the host
};

}  // namespace sy::engine
