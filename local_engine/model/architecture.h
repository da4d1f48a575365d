#pragma once
// The architecture registry: one entry per model family, each in its own file (llama.cpp,
// qwen2.cpp, qwen3.cpp, gemma2.cpp, gemma3.cpp). An entry reads its hyper-parameters from GGUF
// metadata under its own prefix ("llama.block_count", the keys llama.cpp reads) and its tensors
// by llama.cpp's names. What the families share (the key names, the tensor set, checks) lives in
// architecture.cpp; a family file says what makes it different.

#include <initializer_list>
#include <span>
#include <string_view>

#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"

namespace sy::engine {

struct Architecture {
  std::string_view name;  // general.architecture
  ModelConfig (*read_config)(const GgufFile& file);
  // With shapes_only, checks every tensor's presence, shape and type and returns empty vectors
  // (done at load time, so a bad file fails then, not at first use).
  ModelWeights (*load_weights)(const GgufFile& file, const ModelConfig& config, bool shapes_only);
};

// Every family this engine runs; a constant table, not a mutable registry.
std::span<const Architecture> architectures();
// nullptr when the family is unknown.
const Architecture* find_architecture(std::string_view name);

// Shared by the entries: the tensor `name`, checked to have `shape` (ggml order) and converted
// to F32. Throws EngineError "tensor <name>: ..." when missing, misshapen or of an unsupported
// type.
std::vector<float> load_f32_tensor(const GgufFile& file, std::string_view name,
                                   std::initializer_list<uint64_t> shape, bool shapes_only);

// The hyper-parameters every family stores the same way under "<arch>.": widths, head counts,
// context, RMSNorm epsilon, RoPE base/dimensions/linear scaling, rope_freqs.weight, tied output.
// Validates them (head counts divide, RoPE fits the head) and sets attention_scale to
// 1/sqrt(head_dim). Throws EngineError naming the key.
ModelConfig read_common_config(const GgufFile& file);

// Marks layers as llama.cpp's "swa pattern" does: within every `period` layers all but the last
// use the sliding window (period 2: even layers; period 6: five of six).
void set_sliding_pattern(ModelConfig& config, uint32_t period);

// Loads the tensors `config` calls for: the Llama set, plus biases (qkv_bias), attn_q_norm /
// attn_k_norm (qk_norm), post_attention_norm / post_ffw_norm (post_norms) and rope_freqs.
ModelWeights load_standard_weights(const GgufFile& file, const ModelConfig& config,
                                   bool shapes_only);

// Architecture entries, defined one per file.
Architecture llama_architecture();
Architecture qwen2_architecture();
Architecture qwen3_architecture();
Architecture gemma2_architecture();
Architecture gemma3_architecture();

}  // namespace sy::engine
