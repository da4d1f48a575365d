#pragma once
// The model `switchyard serve` serves when it has no config, found in this order:
//   1. --model PATH;
//   2. the data directory's models/ (the first .gguf by name);
//   3. ../shared/models/stories260K/stories260K.gguf relative to the working directory
//      (development checkouts and CI have it);
// else the message says how to fetch one (`switchyard model pull stories260K`).

#include <expected>
#include <filesystem>
#include <string>

#include "switchyard/gateway/config.h"

namespace sy::gateway {

std::expected<std::filesystem::path, std::string> find_default_model(
    const std::string& model_option, const std::filesystem::path& data_dir,
    const std::filesystem::path& working_dir = std::filesystem::current_path());

// `base` (the embedded default) plus one local backend "local" serving `model` under its file
// name without extension, and the alias "default" for it. A model without a chat template is
// prompted with the `plain` layout. Throws ConfigError when it does not fit in memory.
ConfigPtr default_model_config(const GatewayConfig& base, const std::filesystem::path& model);

}  // namespace sy::gateway
