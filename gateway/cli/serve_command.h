#pragma once
// `switchyard serve [--config F] [--check] [--listen HOST:PORT] [--data-dir DIR]`

#include <string>

namespace sy::gateway {

struct ServeOptions {
  std::string config_path;
  bool check_only = false;
  std::string listen;
  std::string data_dir;
  std::string log_level = "info";
};

int run_serve(const ServeOptions& options);

}  // namespace sy::gateway
