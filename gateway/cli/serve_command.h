#pragma once
// `switchyard serve [--config F] [--check] [--listen HOST:PORT] [--data-dir DIR] [--model F]`
// With no config it serves one local model (cli/default_model.h).

#include <string>

namespace sy::gateway {

struct ServeOptions {
  std::string config_path;
  bool check_only = false;
  std::string listen;
  std::string data_dir;
  std::string model_path;  // no config: the GGUF to serve (else found as default_model.h says)
  std::string log_level = "info";
};

int run_serve(const ServeOptions& options);

}  // namespace sy::gateway
