#pragma once
// How the CLI verbs find a model and its tokenizer from command-line paths.

#include <filesystem>
#include <memory>
#include <string>

namespace sy::engine {
class Model;
class Tokenizer;
}  // namespace sy::engine

namespace sy::gateway {

// A llama2.c checkpoint names no tokenizer: `explicit_tokenizer` when given, else
// `tokenizer.bin` beside the checkpoint. Throws std::runtime_error when neither exists.
std::filesystem::path llama2c_tokenizer_path(const std::filesystem::path& checkpoint,
                                             const std::string& explicit_tokenizer);

// .gguf or llama2.c .bin (+ tokenizer). Throws (EngineError or std::runtime_error) with a
// message that names the file.
std::unique_ptr<engine::Model> load_cli_model(const std::string& path,
                                              const std::string& tokenizer);

// Peak resident set size of this process in MiB (getrusage).
double peak_rss_mib();

}  // namespace sy::gateway
