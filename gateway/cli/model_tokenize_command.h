#pragma once
// `switchyard model tokenize -m MODEL|TOKENIZER_JSON [--no-bos] [--special] [--file F] [TEXT]`:
// prints the token ids of TEXT (or of file F's bytes) as one JSON array line on stdout.

#include <string>

namespace CLI {
class App;
}

namespace sy::gateway {

struct ModelTokenizeOptions {
  std::string model_path;      // .gguf (vocab-only is enough), tokenizer.json, or llama2.c .bin
  std::string tokenizer_path;  // llama2.c tokenizer.bin for a .bin
  std::string text;
  std::string text_file;
  bool no_bos = false;         // add no special tokens (BOS/EOS)
  bool parse_special = false;  // text spelling a control token becomes that token
};

int run_model_tokenize(const ModelTokenizeOptions& options, bool text_given);

// Registers `tokenize` under the `model` command group.
void add_model_tokenize_command(CLI::App& model, int& exit_code);

}  // namespace sy::gateway
