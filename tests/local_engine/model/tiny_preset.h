#pragma once
// A tiny synthetic model of any architecture family, for the engine's model tests: widths
// chosen awkward for F32 (dim 72, FFN 100, heads of 12 or 20), multiples of 32 for Q8_0
// (`block_friendly`), with each family's distinctive features switched on.

#include <cstdint>
#include <string>

#include "switchyard/local_engine/synthetic_model.h"

namespace sy::engine::testing {

inline SyntheticPreset tiny_preset(const std::string& architecture, bool block_friendly,
                                   uint32_t n_layers = 7) {
  SyntheticPreset p;
  p.name = "tiny-" + architecture;
  p.display_name = p.name;
  ModelConfig& c = p.config;
  c.architecture = architecture;
  c.n_vocab = 603;
  c.dim = block_friendly ? 64 : 72;
  // With 7 layers, Gemma 3 has layers 0-4 and 6 sliding, 5 global; Gemma 2 even layers sliding.
  c.n_layers = n_layers;
  c.n_heads = 6;
  c.n_kv_heads = architecture == "gemma3" ? 1 : 2;
  // Qwen3 and Gemma heads are wider than dim / n_heads, as in the real models.
  const bool wide_heads = architecture == "qwen3" || architecture.starts_with("gemma");
  c.head_dim = block_friendly ? (wide_heads ? 32 : 16) : (wide_heads ? 20 : 12);
  c.rope_dim = c.head_dim;
  c.ffn_dim = block_friendly ? 96 : 100;
  c.context_length = 256;
  c.rope_freq_base = 10000.0f;
  c.rms_eps = 1e-6f;
  c.tied_output = architecture != "llama";
  if (architecture.starts_with("gemma")) c.sliding_window = 5;
  if (architecture == "gemma2") {
    c.attn_softcap = 0.5f;  // small enough to bite on these scores
    c.final_softcap = 0.25f;
  }
  return p;
}

}  // namespace sy::engine::testing
