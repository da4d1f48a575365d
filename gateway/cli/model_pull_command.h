#pragma once
// `switchyard model pull URL [-o DIR] [--name FILE] [--sha256 HEX] [--force]`: resumable
// download of a model file with a SHA-256 check and, on a terminal, a progress bar.
//
// There is no catalog of model NAMEs: no hub is reachable from here to keep one honest, so a
// name that is not a URL is a clear error asking for the URL (and its sha256).

#include <string>

namespace CLI {
class App;
}

namespace sy::gateway {

struct ModelPullOptions {
  std::string source;  // http(s) URL
  std::string output_dir = ".";
  std::string file_name;  // default: the URL's last path segment
  std::string sha256;     // 64 hex digits; empty: reported, not checked
  bool force = false;     // replace an existing file of that name
  int max_attempts = 5;
};

int run_model_pull(const ModelPullOptions& options);

// Registers `pull` under the `model` command group.
void add_model_pull_command(CLI::App& model, int& exit_code);

}  // namespace sy::gateway
