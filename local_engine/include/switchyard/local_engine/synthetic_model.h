#pragma once
// Synthetic models: a published model's real shapes and GGUF metadata with seeded random weights
// (what `switchyard model synth` writes). Right for speed, memory and agreement with another
// engine; they say nothing about answer quality.
//
// Contract: write_synthetic_model is deterministic in (preset, vocabulary, options): every tensor
// is drawn from its own stream keyed by the seed and the tensor's name, so a file with fewer
// layers holds the same first layers. The file carries the metadata llama.cpp's converter
// writes for the family (general.*, <arch>.*, tokenizer.ggml.*), so llama.cpp-based engines load
// it. Throws EngineError when the vocabulary does not fit the preset or a type cannot be written.
// The whole file is built in memory before it is written (about twice its size at the peak).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/tensor_type.h"
#include "switchyard/local_engine/vocabulary.h"

namespace sy::engine {

// Llama 3's long-context RoPE scaling as its config.json states it; the writer turns it into
// rope_freqs.weight as llama.cpp's converter does.
struct Llama3RopeScaling {
  float factor = 0.0f;  // 0: none
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  uint32_t original_context = 8192;
};

struct SyntheticPreset {
  std::string name;          // "smollm2-135m"
  std::string display_name;  // general.name
  // The published hyper-parameters in the engine's terms (architecture, widths, heads, vocab,
  // RoPE, norms, sliding window...). The architecture's flags follow from `architecture`.
  ModelConfig config;
  Llama3RopeScaling llama3_rope;
};

// smollm2-135m, smollm2-360m, smollm2-1.7b, llama3.2-1b, qwen2.5-0.5b, qwen3-0.6b, gemma2-2b,
// gemma3-270m: at least one for every architecture the engine runs.
std::span<const SyntheticPreset> synthetic_presets();
std::optional<SyntheticPreset> find_synthetic_preset(std::string_view name);

struct SyntheticOptions {
  TensorType type = TensorType::q8_0;  // matrices; vectors (norms, biases) stay F32
  // For a matrix whose row width is not a multiple of `type`'s block: Q8_0 if that fits, else
  // F16 (as `model quantize` falls back).
  uint64_t seed = 0;
  uint32_t layers = 0;  // 0: the preset's; fewer for fast tests
  // 0: the preset's vocabulary size; a smaller one (at least the tokenizer's) for fast tests.
  uint32_t vocab = 0;
};

struct SyntheticReport {
  uint64_t parameters = 0;
  size_t fell_back = 0;  // matrices written in the fallback type
  uint64_t file_bytes = 0;
};

// `vocabulary` (from tokenizer.json or a GGUF) is padded with unused "[PAD<id>]" tokens, as
// llama.cpp's converter pads, up to the preset's n_vocab; BOS/EOS it lacks are taken from its
// special tokens by their usual spellings.
SyntheticReport write_synthetic_model(const SyntheticPreset& preset, Vocabulary vocabulary,
                                      const SyntheticOptions& options,
                                      const std::filesystem::path& output);

}  // namespace sy::engine
