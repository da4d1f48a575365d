#pragma once
// `switchyard generate -m MODEL -p PROMPT [-n N] [--temp T] [--seed S] [--threads T]
//  [--ignore-eos] [--stats-json] [--tokenizer TOK]`: runs the embedded engine on one prompt,
// streaming the text to stdout and the speed to stderr. (`--chat` waits for chat templates.)

#include <cstddef>
#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace sy::gateway {

struct GenerateCommandOptions {
  std::string model_path;      // .gguf, or a llama2.c .bin with `tokenizer_path`
  std::string tokenizer_path;  // llama2.c tokenizer.bin (default: tokenizer.bin beside the model)
  std::string prompt;
  size_t max_tokens = 256;
  float temperature = 0.0f;
  float top_p = 1.0f;
  uint32_t top_k = 0;
  uint64_t seed = 0;
  size_t threads = 0;
  bool ignore_eos = false;
  bool stats_json = false;
};

// Loads the model, generates, and returns the process exit code (0 ok, 1 failure). Errors are
// one line on stderr; the prompt never appears in them.
int run_generate(const GenerateCommandOptions& options);

// Registers `generate` under `app`; when it is parsed, its result goes to `exit_code`.
void add_generate_command(CLI::App& app, int& exit_code);

}  // namespace sy::gateway
