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

struct ModelConfig {
  std::string architecture;  // general.architecture, e.g. "llama"
  uint32_t n_vocab = 0;
  uint32_t dim = 0;  // embedding width
  uint32_t n_layers = 0;
  uint32_t n_heads = 0;
  uint32_t n_kv_heads = 0;  // < n_heads: grouped-query attention
  uint32_t head_dim = 0;
  uint32_t ffn_dim = 0;
  uint32_t context_length = 0;
  uint32_t rope_dim = 0;  // leading dims of each head that RoPE rotates
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_output = false;  // output projection shares token_embd
};

// Row-major F32 matrices; shapes are (rows, cols) with cols the input width.
struct LayerWeights {
  std::vector<float> attn_norm;  // (dim)
  std::vector<float> wq;         // (n_heads * head_dim, dim)
  std::vector<float> wk;         // (n_kv_heads * head_dim, dim)
  std::vector<float> wv;         // (n_kv_heads * head_dim, dim)
  std::vector<float> wo;         // (dim, n_heads * head_dim)
  std::vector<float> ffn_norm;   // (dim)
  std::vector<float> w_gate;     // (ffn_dim, dim)
  std::vector<float> w_up;       // (ffn_dim, dim)
  std::vector<float> w_down;     // (dim, ffn_dim)
};

struct ModelWeights {
  std::vector<float> token_embd;  // (n_vocab, dim)
  std::vector<LayerWeights> layers;
  std::vector<float> output_norm;  // (dim)
  std::vector<float> output;       // (n_vocab, dim); empty when tied to token_embd
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
