#pragma once
// `switchyard model pull URL|NAME [-o DIR] [--name FILE] [--sha256 HEX] [--force]`: resumable
// download of a model file with a SHA-256 check and, on a terminal, a progress bar.
//
// A NAME is one of known_models.h (URL and SHA-256 recorded in the repo), written by default to
// the data directory's models/, where `switchyard serve` without a config looks.

#include <string>

namespace CLI {
class App;
}

namespace sy::gateway {

struct ModelPullOptions {
  std::string source;  // http(s) URL, or a name from known_models.h
  std::string output_dir;  // "": "." for a URL, the data directory's models/ for a name
  std::string data_dir;    // "": default_data_dir()
  std::string file_name;  // default: the URL's last path segment
  std::string sha256;     // 64 hex digits; empty: reported, not checked
  bool force = false;     // replace an existing file of that name
  int max_attempts = 5;
};

int run_model_pull(const ModelPullOptions& options);

// Registers `pull` under the `model` command group.
void add_model_pull_command(CLI::App& model, int& exit_code);

}  // namespace sy::gateway
