#include "model/architecture.h"

#include <array>
#include <cmath>

#include "kernels/cpu/dequantize.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine {

std::span<const Architecture> architectures() {
  static const std::array table = {llama_architecture(), qwen2_architecture(), qwen3_architecture(),
                                   gemma2_architecture(), gemma3_architecture()};
  return table;
}

const Architecture* find_architecture(std::string_view name) {
  for (const Architecture& a : architectures()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

namespace {
std::string shape_string(std::span<const uint64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}
}  // namespace

std::vector<float> load_f32_tensor(const GgufFile& file, std::string_view name,
                                   std::initializer_list<uint64_t> shape, bool shapes_only) {
  const GgufTensor& t = file.tensor(name);
  std::vector<uint64_t> want(shape);
  if (t.shape != want) {
    throw EngineError("tensor " + std::string(name) + ": shape " + shape_string(t.shape) +
                      ", expected " + shape_string(want));
  }
  if (!kernels::can_dequantize(t.type)) {
    throw EngineError("tensor " + std::string(name) + ": type " + std::string(to_string(t.type)) +
                      " is not supported yet");
  }
  if (shapes_only) return {};
  std::vector<float> out(t.n_elements);
  kernels::dequantize(t.type, t.data, out);
  return out;
}

ModelConfig read_common_config(const GgufFile& f) {
  ModelConfig c;
  c.architecture = f.get_string("general.architecture");
  const std::string p = c.architecture + ".";
  c.dim = f.get_u32(p + "embedding_length");
  c.n_layers = f.get_u32(p + "block_count");
  c.n_heads = f.get_u32(p + "attention.head_count");
  c.n_kv_heads = f.get_u32_or(p + "attention.head_count_kv", c.n_heads);
  c.ffn_dim = f.get_u32(p + "feed_forward_length");
  c.context_length = f.get_u32(p + "context_length");
  c.rms_eps = f.get_f32_or(p + "attention.layer_norm_rms_epsilon", 1e-5f);
  c.rope_freq_base = f.get_f32_or(p + "rope.freq_base", 10000.0f);
  if (c.n_heads == 0 || (!f.contains(p + "attention.key_length") && c.dim % c.n_heads != 0)) {
    throw EngineError("metadata key " + p + "attention.head_count: " + std::to_string(c.n_heads) +
                      " does not divide the width " + std::to_string(c.dim));
  }
  c.head_dim = f.get_u32_or(p + "attention.key_length", c.dim / c.n_heads);
  if (f.get_u32_or(p + "attention.value_length", c.head_dim) != c.head_dim) {
    throw EngineError("metadata key " + p +
                      "attention.value_length: differs from the key length (not supported)");
  }
  c.rope_dim = f.get_u32_or(p + "rope.dimension_count", c.head_dim);
  if (c.n_kv_heads == 0 || c.n_heads % c.n_kv_heads != 0) {
    throw EngineError("metadata key " + p +
                      "attention.head_count_kv: " + std::to_string(c.n_kv_heads) +
                      " does not divide the head count " + std::to_string(c.n_heads));
  }
  if (c.head_dim == 0 || c.head_dim > 4096) {
    throw EngineError("metadata key " + p + "attention.key_length: " + std::to_string(c.head_dim) +
                      " is not a plausible head width");
  }
  if (c.rope_dim == 0 || c.rope_dim > c.head_dim || c.rope_dim % 2 != 0) {
    throw EngineError("metadata key " + p + "rope.dimension_count: " + std::to_string(c.rope_dim) +
                      " is not even, positive and at most the head width");
  }
  // Every layer has tensors, so a block count past the tensor count is a lie; checked before
  // anything is sized by it.
  if (c.n_layers > f.tensors().size()) {
    throw EngineError("metadata key " + p + "block_count: " + std::to_string(c.n_layers) +
                      " exceeds the " + std::to_string(f.tensors().size()) +
                      " tensors in the file");
  }
  if (c.n_layers == 0 || c.ffn_dim == 0 || c.context_length == 0) {
    throw EngineError("model " + c.architecture + ": zero layers, FFN width or context");
  }
  if (!(c.rms_eps > 0.0f) || !(c.rope_freq_base > 0.0f) || !std::isfinite(c.rms_eps) ||
      !std::isfinite(c.rope_freq_base)) {
    throw EngineError("model " + c.architecture +
                      ": RMS epsilon and RoPE base must be positive and finite");
  }
  const std::string scaling = f.get_string_or(p + "rope.scaling.type", "none");
  if (scaling == "linear") {
    const float factor = f.get_f32(p + "rope.scaling.factor");
    if (!(factor > 0.0f)) {
      throw EngineError("metadata key " + p + "rope.scaling.factor: must be positive");
    }
    c.rope_freq_scale = 1.0f / factor;
  } else if (scaling != "none") {
    throw EngineError("metadata key " + p + "rope.scaling.type: " + scaling +
                      " is not supported yet (none, linear; Llama 3 uses rope_freqs.weight)");
  }
  c.rope_freq_factors = f.find_tensor("rope_freqs.weight") != nullptr;
  c.rope_freq_base_swa = c.rope_freq_base;
  c.rope_freq_scale_swa = c.rope_freq_scale;
  c.attention_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const GgufTensor& embd = f.tensor("token_embd.weight");
  if (embd.shape.size() != 2) throw EngineError("tensor token_embd.weight: expected 2 dimensions");
  c.n_vocab = static_cast<uint32_t>(embd.shape[1]);
  c.tied_output = f.find_tensor("output.weight") == nullptr;
  return c;
}

void set_sliding_pattern(ModelConfig& c, uint32_t period) {
  c.sliding_layers.assign(c.n_layers, 0);
  for (uint32_t l = 0; l < c.n_layers; ++l) c.sliding_layers[l] = l % period < period - 1;
}

ModelWeights load_standard_weights(const GgufFile& f, const ModelConfig& c, bool shapes_only) {
  const uint64_t q_width = uint64_t{c.n_heads} * c.head_dim;
  const uint64_t kv_width = uint64_t{c.n_kv_heads} * c.head_dim;
  auto load = [&](std::string_view name, std::initializer_list<uint64_t> shape) {
    return load_f32_tensor(f, name, shape, shapes_only);
  };
  ModelWeights w;
  w.token_embd = load("token_embd.weight", {c.dim, c.n_vocab});
  for (uint32_t l = 0; l < c.n_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    LayerWeights layer;
    layer.attn_norm = load(b + "attn_norm.weight", {c.dim});
    layer.wq = load(b + "attn_q.weight", {c.dim, q_width});
    layer.wk = load(b + "attn_k.weight", {c.dim, kv_width});
    layer.wv = load(b + "attn_v.weight", {c.dim, kv_width});
    layer.wo = load(b + "attn_output.weight", {q_width, c.dim});
    layer.ffn_norm = load(b + "ffn_norm.weight", {c.dim});
    layer.w_gate = load(b + "ffn_gate.weight", {c.dim, c.ffn_dim});
    layer.w_up = load(b + "ffn_up.weight", {c.dim, c.ffn_dim});
    layer.w_down = load(b + "ffn_down.weight", {c.ffn_dim, c.dim});
    if (c.qkv_bias) {
      layer.bq = load(b + "attn_q.bias", {q_width});
      layer.bk = load(b + "attn_k.bias", {kv_width});
      layer.bv = load(b + "attn_v.bias", {kv_width});
    }
    if (c.qk_norm) {
      layer.q_norm = load(b + "attn_q_norm.weight", {c.head_dim});
      layer.k_norm = load(b + "attn_k_norm.weight", {c.head_dim});
    }
    if (c.post_norms) {
      layer.attn_post_norm = load(b + "post_attention_norm.weight", {c.dim});
      layer.ffn_post_norm = load(b + "post_ffw_norm.weight", {c.dim});
    }
    w.layers.push_back(std::move(layer));
  }
  w.output_norm = load("output_norm.weight", {c.dim});
  if (!c.tied_output) w.output = load("output.weight", {c.dim, c.n_vocab});
  if (c.rope_freq_factors) w.rope_freqs = load("rope_freqs.weight", {c.rope_dim / 2});
  return w;
}

}  // namespace sy::engine
