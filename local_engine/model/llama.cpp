// The Llama family (Llama 2/3, SmolLM, Mistral-style): RMSNorm, RoPE on adjacent pairs (GGUF
// converters permute Q/K so this holds for HF checkpoints too), grouped-query attention, SwiGLU,
// tied or separate output projection. Llama 3's long-context RoPE scaling arrives as
// rope_freqs.weight (one divisor per frequency, computed by the converter), linear scaling as
// rope.scaling.type/factor; read_common_config handles both.

#include "model/architecture.h"

namespace sy::engine {
namespace {

ModelConfig read_llama_config(const GgufFile& f) {
  ModelConfig c = read_common_config(f);
  c.rope_style = RopeStyle::adjacent_pairs;
  c.activation = FfnActivation::silu;
  return c;
}

}  // namespace

Architecture llama_architecture() { return {"llama", &read_llama_config, &load_standard_weights}; }

}  // namespace sy::engine
