// Qwen2 / Qwen2.5: the Llama block with biases on the Q, K and V projections, and RoPE over the
// two halves of each head (llama.cpp's "neox" style: the converter does not permute Q/K).

#include "model/architecture.h"

namespace sy::engine {
namespace {

ModelConfig read_qwen2_config(const GgufFile& f) {
  ModelConfig c = read_common_config(f);
  c.rope_style = RopeStyle::halves;
  c.activation = FfnActivation::silu;
  c.qkv_bias = true;
  return c;
}

}  // namespace

Architecture qwen2_architecture() { return {"qwen2", &read_qwen2_config, &load_standard_weights}; }

}  // namespace sy::engine
