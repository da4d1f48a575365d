// The Llama family (Llama 2/3, SmolLM, Mistral-style): RMSNorm, RoPE on adjacent pairs (GGUF
// converters permute Q/K so this holds for HF checkpoints too), grouped-query attention, SwiGLU,
// tied or separate output projection.

#include "model/architecture.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine {
namespace {

ModelConfig read_llama_config(const GgufFile& f) {
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
  if (c.n_heads == 0 || c.dim % c.n_heads != 0) {
    throw EngineError("metadata key " + p + "attention.head_count: " + std::to_string(c.n_heads) +
                      " does not divide the width " + std::to_string(c.dim));
  }
  c.head_dim = f.get_u32_or(p + "attention.key_length", c.dim / c.n_heads);
  c.rope_dim = f.get_u32_or(p + "rope.dimension_count", c.head_dim);
  if (c.n_kv_heads == 0 || c.n_heads % c.n_kv_heads != 0) {
    throw EngineError("metadata key " + p +
                      "attention.head_count_kv: " + std::to_string(c.n_kv_heads) +
                      " does not divide the head count " + std::to_string(c.n_heads));
  }
  if (c.rope_dim > c.head_dim || c.rope_dim % 2 != 0) {
    throw EngineError("metadata key " + p + "rope.dimension_count: " + std::to_string(c.rope_dim) +
                      " is not even and at most the head width");
  }
  if (c.n_layers == 0 || c.ffn_dim == 0 || c.context_length == 0) {
    throw EngineError("model " + c.architecture + ": zero layers, FFN width or context");
  }
  if (f.contains(p + "rope.scaling.type") && f.get_string(p + "rope.scaling.type") != "none") {
    throw EngineError("metadata key " + p + "rope.scaling.type: rope scaling is not supported yet");
  }
  const GgufTensor& embd = f.tensor("token_embd.weight");
  if (embd.shape.size() != 2) throw EngineError("tensor token_embd.weight: expected 2 dimensions");
  c.n_vocab = static_cast<uint32_t>(embd.shape[1]);
  c.tied_output = f.find_tensor("output.weight") == nullptr;
  return c;
}

ModelWeights load_llama_weights(const GgufFile& f, const ModelConfig& c, bool shapes_only) {
  const uint64_t q_width = uint64_t{c.n_heads} * c.head_dim;
  const uint64_t kv_width = uint64_t{c.n_kv_heads} * c.head_dim;
  ModelWeights w;
  w.token_embd = load_f32_tensor(f, "token_embd.weight", {c.dim, c.n_vocab}, shapes_only);
  for (uint32_t l = 0; l < c.n_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    LayerWeights layer;
    layer.attn_norm = load_f32_tensor(f, b + "attn_norm.weight", {c.dim}, shapes_only);
    layer.wq = load_f32_tensor(f, b + "attn_q.weight", {c.dim, q_width}, shapes_only);
    layer.wk = load_f32_tensor(f, b + "attn_k.weight", {c.dim, kv_width}, shapes_only);
    layer.wv = load_f32_tensor(f, b + "attn_v.weight", {c.dim, kv_width}, shapes_only);
    layer.wo = load_f32_tensor(f, b + "attn_output.weight", {q_width, c.dim}, shapes_only);
    layer.ffn_norm = load_f32_tensor(f, b + "ffn_norm.weight", {c.dim}, shapes_only);
    layer.w_gate = load_f32_tensor(f, b + "ffn_gate.weight", {c.dim, c.ffn_dim}, shapes_only);
    layer.w_up = load_f32_tensor(f, b + "ffn_up.weight", {c.dim, c.ffn_dim}, shapes_only);
    layer.w_down = load_f32_tensor(f, b + "ffn_down.weight", {c.ffn_dim, c.dim}, shapes_only);
    w.layers.push_back(std::move(layer));
  }
  w.output_norm = load_f32_tensor(f, "output_norm.weight", {c.dim}, shapes_only);
  if (!c.tied_output)
    w.output = load_f32_tensor(f, "output.weight", {c.dim, c.n_vocab}, shapes_only);
  return w;
}

}  // namespace

Architecture llama_architecture() { return {"llama", &read_llama_config, &load_llama_weights}; }

}  // namespace sy::engine
