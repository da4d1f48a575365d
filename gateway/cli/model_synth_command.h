#pragma once
// `switchyard model synth --like PRESET --tokenizer TOKENIZER --type T --seed S -o OUT.gguf
// [--layers N] [--vocab N] [--force]`: writes a synthetic model with a published model's shapes
// and GGUF metadata, seeded random weights and the given tokenizer (tokenizer.json, or a GGUF's
// vocabulary) padded to the preset's vocabulary size. --layers and --vocab shrink it for tests.

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace sy::gateway {

struct ModelSynthOptions {
  std::string preset;
  std::string tokenizer;
  std::string type = "q8_0";
  uint64_t seed = 0;
  std::string output;
  uint32_t layers = 0;  // 0: the preset's
  uint32_t vocab = 0;   // 0: the preset's
  bool force = false;   // overwrite an existing OUT
};

int run_model_synth(const ModelSynthOptions& options);

// Registers `synth` under the `model` command group.
void add_model_synth_command(CLI::App& model, int& exit_code);

}  // namespace sy::gateway
