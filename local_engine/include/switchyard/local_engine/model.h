#pragma once
// A loaded model: hyper-parameters, weights and tokenizer.
//
// Contract: load functions throw EngineError with context ("loading model <path>: tensor
// blk.3.attn_q.weight: shape [64, 32], expected [64, 64]"); a loaded Model is immutable and
// may be shared by any number of inference sessions on any threads.
//
// GGUF weights stay in the mapped file, used in place by the CPU pass; the F32 copy the
// reference pass needs is made only when weights() is first called. llama2.c checkpoints are
// read into F32 at load and always run on the reference pass.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "switchyard/local_engine/tokenizer.h"

namespace sy::engine {

// How RoPE pairs the values of a head: llama.cpp's "norm" rotates adjacent pairs (v[2i],
// v[2i+1]) (Llama GGUFs have Q/K permuted so this holds); "neox" rotates v[i] with
// v[i + rope_dim/2] (Qwen2/3, Gemma: their GGUFs keep the HF layout).
enum class RopeStyle : uint8_t { adjacent_pairs, halves };

// The gate activation of the gated FFN: down(act(gate(x)) * up(x)).
enum class FfnActivation : uint8_t { silu, gelu_tanh };

struct ModelConfig {
  std::string architecture;  // general.architecture, e.g. "llama"
  uint32_t n_vocab = 0;
  uint32_t dim = 0;  // embedding width
  uint32_t n_layers = 0;
  uint32_t n_heads = 0;
  uint32_t n_kv_heads = 0;  // < n_heads: grouped-query attention
  uint32_t head_dim = 0;    // may differ from dim / n_heads (Qwen3, Gemma)
  uint32_t ffn_dim = 0;
  uint32_t context_length = 0;
  uint32_t rope_dim = 0;  // leading dims of each head that RoPE rotates
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_output = false;  // output projection shares token_embd

  RopeStyle rope_style = RopeStyle::adjacent_pairs;
  // Linear RoPE scaling (rope.scaling.type "linear"): positions are multiplied by this.
  float rope_freq_scale = 1.0f;
  // Llama 3 scaling: rope_freqs.weight holds one divisor per rotated pair (ModelWeights).
  bool rope_freq_factors = false;
  float embedding_scale = 1.0f;  // Gemma multiplies the token embedding by sqrt(dim)
  float attention_scale = 0.0f;  // factor on q.k; set by every architecture (1/sqrt(head_dim))
  float attn_softcap = 0.0f;     // > 0: scores become cap * tanh(scores / cap) (Gemma 2)
  float final_softcap = 0.0f;    // > 0: the same on the output logits (Gemma 2)
  // Sliding-window attention: a layer marked in sliding_layers sees only the last
  // sliding_window positions (itself included) and uses rope_freq_base_swa.
  uint32_t sliding_window = 0;
  std::vector<uint8_t> sliding_layers;  // (n_layers) 1 = sliding window; empty: none
  float rope_freq_base_swa = 10000.0f;
  float rope_freq_scale_swa = 1.0f;  // Gemma 3 scales only its global layers
  FfnActivation activation = FfnActivation::silu;
  bool qkv_bias = false;    // Qwen2: biases on the Q, K and V projections
  bool qk_norm = false;     // Qwen3, Gemma 3: per-head RMSNorm of q and k before RoPE
  bool post_norms = false;  // Gemma 2/3: RMSNorm of the attention and FFN outputs

  bool is_sliding(size_t layer) const {
    return sliding_window > 0 && layer < sliding_layers.size() && sliding_layers[layer] != 0;
  }
};

// Row-major F32 matrices; shapes are (rows, cols) with cols the input width. Optional parts are
// empty when the architecture has none.
struct LayerWeights {
  std::vector<float> attn_norm;                      // (dim)
  std::vector<float> wq;                             // (n_heads * head_dim, dim)
  std::vector<float> wk;                             // (n_kv_heads * head_dim, dim)
  std::vector<float> wv;                             // (n_kv_heads * head_dim, dim)
  std::vector<float> wo;                             // (dim, n_heads * head_dim)
  std::vector<float> ffn_norm;                       // (dim)
  std::vector<float> w_gate;                         // (ffn_dim, dim)
  std::vector<float> w_up;                           // (ffn_dim, dim)
  std::vector<float> w_down;                         // (dim, ffn_dim)
  std::vector<float> bq, bk, bv;                     // (q width), (kv width) x2: qkv_bias
  std::vector<float> q_norm, k_norm;                 // (head_dim) each: qk_norm
  std::vector<float> attn_post_norm, ffn_post_norm;  // (dim) each: post_norms
};

struct ModelWeights {
  std::vector<float> token_embd;  // (n_vocab, dim)
  std::vector<LayerWeights> layers;
  std::vector<float> output_norm;  // (dim)
  std::vector<float> output;       // (n_vocab, dim); empty when tied to token_embd
  std::vector<float> rope_freqs;   // (rope_dim / 2) divisors of the RoPE frequencies, or empty
};

class GgufFile;

class Model {
 public:
  // GGUF: architecture from general.architecture, tokenizer from its metadata.
  static std::unique_ptr<Model> load_gguf(const std::filesystem::path& path);
  // llama2.c checkpoint (.bin) with its tokenizer.bin.
  static std::unique_ptr<Model> load_llama2c(const std::filesystem::path& checkpoint,
                                             const std::filesystem::path& tokenizer);
  // By extension: .gguf, or .bin with `tokenizer` naming the llama2.c tokenizer.
  static std::unique_ptr<Model> load(const std::filesystem::path& path,
                                     const std::filesystem::path& tokenizer = {});

  // Weights already in F32 (llama2.c checkpoints).
  Model(ModelConfig config, ModelWeights weights, std::unique_ptr<Tokenizer> tokenizer);
  // Weights in a mapped file; the F32 copy for the reference pass is made by `load_f32` on first
  // use of weights() only.
  Model(ModelConfig config, std::shared_ptr<const GgufFile> file,
        std::function<ModelWeights()> load_f32, std::unique_ptr<Tokenizer> tokenizer);

  const ModelConfig& config() const { return config_; }
  // F32 weights for the reference pass; made on first call (thread-safe), may throw EngineError.
  const ModelWeights& weights() const;
  bool f32_weights_loaded() const { return weights_loaded_.load(); }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  // The mapped GGUF file the model came from; nullptr for llama2.c checkpoints.
  const GgufFile* file() const { return file_.get(); }
  // token_embd or output, whichever the output projection uses.
  const std::vector<float>& output_weights() const {
    return config_.tied_output ? weights().token_embd : weights().output;
  }

 private:
  ModelConfig config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::shared_ptr<const GgufFile> file_;
  std::function<ModelWeights()> load_f32_;
  mutable std::once_flag weights_once_;
  mutable std::atomic<bool> weights_loaded_{false};
  mutable ModelWeights weights_;
};

}  // namespace sy::engine
