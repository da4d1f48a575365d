// Gemma 2: the token embedding is scaled by sqrt(dim); GELU (tanh approximation) gated FFN;
// RMSNorm after the attention and FFN outputs as well as before; soft-capped attention scores
// and output logits (cap * tanh(x / cap)); every even layer attends through a sliding window.
// RMSNorm weights are used as stored: Gemma computes x * (1 + w), and llama.cpp's converter
// writes 1 + w into the GGUF, so the file already holds the effective weights.

#include <cmath>

#include "model/architecture.h"

namespace sy::engine {
namespace {

ModelConfig read_gemma2_config(const GgufFile& f) {
  ModelConfig c = read_common_config(f);
  const std::string p = c.architecture + ".";
  c.rope_style = RopeStyle::halves;
  c.activation = FfnActivation::gelu_tanh;
  c.post_norms = true;
  c.embedding_scale = std::sqrt(static_cast<float>(c.dim));
  // Defaults are Gemma 2's published values, as llama.cpp assumes when the keys are absent.
  c.attn_softcap = f.get_f32_or(p + "attn_logit_softcapping", 50.0f);
  c.final_softcap = f.get_f32_or(p + "final_logit_softcapping", 30.0f);
  c.sliding_window = f.get_u32_or(p + "attention.sliding_window", 4096);
  set_sliding_pattern(c, 2);
  // The 27B model scales queries by 1/sqrt(dim / n_heads) (query_pre_attn_scalar), not by the
  // head width; llama.cpp recognizes it by its 46 layers.
  if (c.n_layers == 46) c.attention_scale = 1.0f / std::sqrt(float(c.dim) / float(c.n_heads));
  return c;
}

}  // namespace

Architecture gemma2_architecture() {
  return {"gemma2", &read_gemma2_config, &load_standard_weights};
}

}  // namespace sy::engine
