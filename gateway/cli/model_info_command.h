#pragma once
// `switchyard model info MODEL [--tokenizer TOK] [--context N]`: what a model file holds
// (header, metadata, tensor table with types, shapes and bytes) and the memory it needs to run.

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace sy::gateway {

struct ModelInfoOptions {
  std::string model_path;
  std::string tokenizer_path;  // llama2.c checkpoints only
  uint32_t context = 0;        // positions the KV cache is sized for; 0: the model's context
};

int run_model_info(const ModelInfoOptions& options);

// Registers `info` under the `model` command group.
void add_model_info_command(CLI::App& model, int& exit_code);

}  // namespace sy::gateway
