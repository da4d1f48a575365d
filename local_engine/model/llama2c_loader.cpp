// llama2.c checkpoints: a header of seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size — negative when the classifier is separate — and seq_len), then F32 weights in a
// fixed order. The RoPE tables it stores are skipped: we compute them.

#include <cmath>
#include <fstream>

#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/model.h"

namespace sy::engine {
namespace {

class FloatReader {
 public:
  FloatReader(std::ifstream& in, uint64_t floats_left) : in_(in), left_(floats_left) {}
  std::vector<float> take(uint64_t n, const char* what) {
    if (n > left_) throw EngineError(std::string("truncated in ") + what);
    std::vector<float> v(n);
    if (!in_.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * 4))) {
      throw EngineError(std::string("truncated in ") + what);
    }
    left_ -= n;
    return v;
  }
  void skip(uint64_t n) {
    if (n > left_) throw EngineError("truncated in the RoPE tables");
    in_.seekg(static_cast<std::streamoff>(n * 4), std::ios::cur);
    left_ -= n;
  }

 private:
  std::ifstream& in_;
  uint64_t left_;
};

// Splits a (n_layers * per_layer) block into one vector per layer.
void split_layers(const std::vector<float>& all, uint64_t per_layer,
                  std::vector<LayerWeights>& layers, std::vector<float> LayerWeights::*field) {
  for (size_t l = 0; l < layers.size(); ++l) {
    layers[l].*field =
        std::vector<float>(all.begin() + l * per_layer, all.begin() + (l + 1) * per_layer);
  }
}

}  // namespace

std::unique_ptr<Model> Model::load_llama2c(const std::filesystem::path& checkpoint,
                                           const std::filesystem::path& tokenizer_path) {
  try {
    std::ifstream in(checkpoint, std::ios::binary);
    if (!in) throw EngineError("cannot open");
    int32_t h[7];
    if (!in.read(reinterpret_cast<char*>(h), sizeof(h))) throw EngineError("truncated header");
    for (int i = 0; i < 7; ++i) {
      if (i != 5 && (h[i] <= 0 || h[i] > (1 << 20))) throw EngineError("implausible header");
    }
    if (h[5] == 0 || h[5] < -(1 << 20) || h[5] > (1 << 20)) {
      throw EngineError("implausible vocabulary size");
    }
    ModelConfig c;
    c.architecture = "llama";
    c.dim = h[0];
    c.ffn_dim = h[1];
    c.n_layers = h[2];
    c.n_heads = h[3];
    c.n_kv_heads = h[4];
    c.tied_output = h[5] > 0;
    c.n_vocab = static_cast<uint32_t>(h[5] > 0 ? h[5] : -h[5]);
    c.context_length = h[6];
    if (c.dim % c.n_heads != 0 || c.n_heads % c.n_kv_heads != 0) {
      throw EngineError("head counts do not divide the width");
    }
    c.head_dim = c.dim / c.n_heads;
    c.rope_dim = c.head_dim;
    c.attention_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));

    const uint64_t file_size = std::filesystem::file_size(checkpoint);
    FloatReader r(in, (file_size - sizeof(h)) / 4);
    const uint64_t L = c.n_layers, D = c.dim, F = c.ffn_dim, V = c.n_vocab;
    const uint64_t q = uint64_t{c.n_heads} * c.head_dim, kv = uint64_t{c.n_kv_heads} * c.head_dim;
    ModelWeights w;
    w.layers.resize(L);
    w.token_embd = r.take(V * D, "token_embedding_table");
    split_layers(r.take(L * D, "rms_att_weight"), D, w.layers, &LayerWeights::attn_norm);
    split_layers(r.take(L * q * D, "wq"), q * D, w.layers, &LayerWeights::wq);
    split_layers(r.take(L * kv * D, "wk"), kv * D, w.layers, &LayerWeights::wk);
    split_layers(r.take(L * kv * D, "wv"), kv * D, w.layers, &LayerWeights::wv);
    split_layers(r.take(L * D * q, "wo"), D * q, w.layers, &LayerWeights::wo);
    split_layers(r.take(L * D, "rms_ffn_weight"), D, w.layers, &LayerWeights::ffn_norm);
    split_layers(r.take(L * F * D, "w1"), F * D, w.layers, &LayerWeights::w_gate);
    split_layers(r.take(L * D * F, "w2"), D * F, w.layers, &LayerWeights::w_down);
    split_layers(r.take(L * F * D, "w3"), F * D, w.layers, &LayerWeights::w_up);
    w.output_norm = r.take(D, "rms_final_weight");
    r.skip(uint64_t{c.context_length} * c.head_dim);  // freq_cis_real and freq_cis_imag
    if (!c.tied_output) w.output = r.take(V * D, "wcls");

    auto tokenizer = Tokenizer::create(vocabulary_from_llama2c(tokenizer_path, V));
    return std::make_unique<Model>(std::move(c), std::move(w), std::move(tokenizer));
  } catch (const EngineError& e) {
    throw EngineError("loading model " + checkpoint.string() + ": " + e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    throw EngineError("loading model " + checkpoint.string() + ": " + e.what());
  }
}

}  // namespace sy::engine
