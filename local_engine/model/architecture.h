#pragma once
// The architecture registry: one entry per model family, each in its own file (llama.cpp,
// later qwen2.cpp, gemma.cpp). An entry reads its hyper-parameters from GGUF metadata under
// its own prefix ("llama.block_count") and its tensors by llama.cpp's names.

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

// Architecture entries, defined one per file.
Architecture llama_architecture();

}  // namespace sy::engine
