#include "cli/model_quantize_command.h"

#include <cctype>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "switchyard/local_engine/quantize.h"
#include "switchyard/local_engine/tensor_type.h"

namespace sy::gateway {

namespace {

// Tensor type by its ggml name, any case ("Q8_0", "q4_0", "f16"). Which of them the quantizer
// can write is its own business: it rejects the others with a message that lists them.
engine::TensorType parse_tensor_type(std::string name, const char* flag) {
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (uint32_t id = 0; id < 64; ++id) {
    auto traits = engine::tensor_type_traits(id);
    if (traits && traits->name == name) return static_cast<engine::TensorType>(id);
  }
  throw std::runtime_error(std::string(flag) + " " + name +
                           ": unknown tensor type (e.g. f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)");
}

}  // namespace

int run_model_quantize(const ModelQuantizeOptions& options) {
  try {
    engine::QuantizeOptions quantize;
    quantize.type = parse_tensor_type(options.type, "--type");
    if (!options.fallback_type.empty()) {
      quantize.fallback = parse_tensor_type(options.fallback_type, "--fallback-type");
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(options.input, ec)) {
      throw std::runtime_error(options.input + ": no such file");
    }
    if (std::filesystem::exists(options.output, ec)) {
      // The input stays mapped while the output is written: writing over it would corrupt it.
      if (std::filesystem::equivalent(options.input, options.output, ec)) {
        throw std::runtime_error("OUT must not be IN");
      }
      if (!options.force) {
        throw std::runtime_error(options.output + " exists (use --force to overwrite it)");
      }
    }
    const auto report = engine::quantize_gguf(options.input, options.output, quantize);
    std::printf(
        "wrote %s: %zu matrices %s, %zu %s (width not a multiple of the block), %zu "
        "vectors kept f32\n",
        options.output.c_str(), report.converted,
        std::string(engine::to_string(quantize.type)).c_str(), report.fell_back,
        std::string(
            engine::to_string(quantize.fallback.value_or(engine::default_fallback(quantize.type))))
            .c_str(),
        report.kept);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchyard model quantize: %s\n", e.what());
    return 1;
  }
}

void add_model_quantize_command(CLI::App& model, int& exit_code) {
  auto options = std::make_shared<ModelQuantizeOptions>();
  CLI::App* cmd = model.add_subcommand("quantize", "Re-encode a GGUF model's weights");
  cmd->add_option("input", options->input, "Input .gguf")->required();
  cmd->add_option("output", options->output, "Output .gguf")->required();
  cmd->add_option("--type", options->type, "Target type: f32, f16, bf16, q8_0, q4_0, q4_k, q6_k")
      ->required();
  cmd->add_option("--fallback-type", options->fallback_type,
                  "Type for matrices whose width does not fit --type's block (default: q8_0 "
                  "for q4_k/q6_k, f16 otherwise)");
  cmd->add_flag("--force", options->force, "Overwrite OUT if it exists");
  cmd->callback([options, &exit_code] { exit_code = run_model_quantize(*options); });
}

}  // namespace sy::gateway
