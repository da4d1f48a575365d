#pragma once
// `switchyard model quantize IN OUT --type T [--fallback-type T]`: re-encodes a GGUF model's
// matrices; those whose row width does not fit T's block size get the fallback type.

#include <string>

namespace CLI {
class App;
}

namespace sy::gateway {

struct ModelQuantizeOptions {
  std::string input;
  std::string output;
  std::string type;
  std::string fallback_type;  // empty: the quantizer's default for `type`
  bool force = false;         // overwrite an existing OUT
};

int run_model_quantize(const ModelQuantizeOptions& options);

// Registers `quantize` under the `model` command group.
void add_model_quantize_command(CLI::App& model, int& exit_code);

}  // namespace sy::gateway
