// Qwen3 (dense): no QKV bias, but QK-norm: each head of q and k goes through an RMSNorm with its
// own (head_dim) weight before RoPE. Heads are wider than dim / n_heads
// (qwen3.attention.key_length), RoPE over halves as in Qwen2.

#include "model/architecture.h"

namespace sy::engine {
namespace {

ModelConfig read_qwen3_config(const GgufFile& f) {
  ModelConfig c = read_common_config(f);
  c.rope_style = RopeStyle::halves;
  c.activation = FfnActivation::silu;
  c.qk_norm = true;
  return c;
}

}  // namespace

Architecture qwen3_architecture() { return {"qwen3", &read_qwen3_config, &load_standard_weights}; }

}  // namespace sy::engine
