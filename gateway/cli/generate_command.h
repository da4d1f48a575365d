#pragma once
// `switchyard generate -m MODEL -p PROMPT [--chat [--system S] [--chat-template FAMILY]] [-n N]
//  [--temp T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--frequency-penalty F]
//  [--presence-penalty P] [--stop S]... [--seed S] [--threads T] [--device cpu|cuda]
//  [--gpu-layers all|N] [--ignore-eos] [--stats-json]
//  [--tokenizer TOK] [--json-schema FILE | --json]`: runs the embedded engine on one prompt,
// streaming the text to stdout and the speed to stderr. With --chat the prompt is one user turn
// rendered by the model's chat template (or the named family when the model has none). With
// --json-schema the output is constrained to the schema's instances, with --json to any JSON
// object; generation then stops when the value is complete.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace sy::gateway {

struct GenerateCommandOptions {
  std::string model_path;      // .gguf, or a llama2.c .bin with `tokenizer_path`
  std::string tokenizer_path;  // llama2.c tokenizer.bin (default: tokenizer.bin beside the model)
  std::string prompt;
  bool chat = false;           // render `prompt` as a user turn with the chat template
  std::string system;          // --chat: an optional system turn before it
  std::string chat_template;   // --chat: family when the model has no template (chatml, plain...)
  size_t max_tokens = 256;
  float temperature = 0.0f;
  float top_p = 1.0f;
  uint32_t top_k = 0;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  std::vector<std::string> stop;
  uint64_t seed = 0;
  size_t threads = 0;
  std::string device = "cpu";      // cpu | cuda
  std::string gpu_layers = "all";  // with cuda: all, or how many leading layers on the GPU
  bool ignore_eos = false;
  bool stats_json = false;
  std::string json_schema_path;  // constrain the output to this JSON Schema's instances
  bool json = false;             // constrain the output to any JSON object
};

// Loads the model, generates, and returns the process exit code (0 ok, 1 failure). Errors are
// one line on stderr; the prompt never appears in them.
int run_generate(const GenerateCommandOptions& options);

// Registers `generate` under `app`; when it is parsed, its result goes to `exit_code`.
void add_generate_command(CLI::App& app, int& exit_code);

}  // namespace sy::gateway
