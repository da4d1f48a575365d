// Gemma 3 (text): Gemma 2's block (sqrt(dim) embedding scale, GELU-tanh gated FFN, pre and post
// norms, stored (1 + w) norm weights) with QK-norm instead of attention soft-capping, and two
// RoPE bases: five of every six layers use a sliding window and RoPE base 10000
// (rope.freq_base_swa when the file has it), the sixth attends globally with rope.freq_base and
// any linear rope scaling. No final soft-cap unless the file sets one.

#include <cmath>

#include "model/architecture.h"

namespace sy::engine {
namespace {

ModelConfig read_gemma3_config(const GgufFile& f) {
  ModelConfig c = read_common_config(f);
  const std::string p = c.architecture + ".";
  c.rope_style = RopeStyle::halves;
  c.activation = FfnActivation::gelu_tanh;
  c.post_norms = true;
  c.qk_norm = true;
  c.embedding_scale = std::sqrt(static_cast<float>(c.dim));
  c.final_softcap = f.get_f32_or(p + "final_logit_softcapping", 0.0f);
  c.sliding_window = f.get_u32_or(p + "attention.sliding_window", 0);
  if (c.sliding_window > 0) set_sliding_pattern(c, 6);
  c.rope_freq_base_swa = f.get_f32_or(p + "rope.freq_base_swa", 10000.0f);
  c.rope_freq_scale_swa = 1.0f;
  if (c.n_layers == 62) c.attention_scale = 1.0f / std::sqrt(float(c.dim) / float(c.n_heads));
  return c;
}

}  // namespace

Architecture gemma3_architecture() {
  return {"gemma3", &read_gemma3_config, &load_standard_weights};
}

}  // namespace sy::engine
