#include "cli/model_synth_command.h"

#include <cctype>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/synthetic_model.h"
#include "switchyard/local_engine/tensor_type.h"
#include "switchyard/local_engine/vocabulary.h"

namespace sy::gateway {

namespace {

std::string preset_names() {
  std::string names;
  for (const auto& p : engine::synthetic_presets()) names += (names.empty() ? "" : ", ") + p.name;
  return names;
}

engine::TensorType parse_type(std::string name) {
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (uint32_t id = 0; id < 64; ++id) {
    auto traits = engine::tensor_type_traits(id);
    if (traits && traits->name == name) return static_cast<engine::TensorType>(id);
  }
  throw std::runtime_error("--type " + name + ": unknown tensor type (q8_0, q4_0, q4_k, f16)");
}

engine::Vocabulary load_vocabulary(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw std::runtime_error("--tokenizer " + path.string() + ": no such file");
  }
  if (path.extension() == ".gguf")
    return engine::vocabulary_from_gguf(*engine::GgufFile::open(path));
  return engine::vocabulary_from_tokenizer_json(path);
}

}  // namespace

int run_model_synth(const ModelSynthOptions& options) {
  try {
    auto preset = engine::find_synthetic_preset(options.preset);
    if (!preset) {
      throw std::runtime_error("--like " + options.preset + ": unknown preset (" + preset_names() +
                               ")");
    }
    const engine::TensorType type = parse_type(options.type);
    std::error_code ec;
    if (std::filesystem::exists(options.output, ec) && !options.force) {
      throw std::runtime_error(options.output + " exists (use --force to overwrite it)");
    }
    auto vocabulary = load_vocabulary(options.tokenizer);
    const auto report = engine::write_synthetic_model(
        *preset, std::move(vocabulary),
        {.type = type, .seed = options.seed, .layers = options.layers, .vocab = options.vocab},
        options.output);
    std::printf("wrote %s: %s, %.1fM parameters, %s (%zu matrices in a fallback type), %.1f MiB\n",
                options.output.c_str(), preset->name.c_str(), report.parameters / 1e6,
                std::string(engine::to_string(type)).c_str(), report.fell_back,
                report.file_bytes / (1024.0 * 1024.0));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchyard model synth: %s\n", e.what());
    return 1;
  }
}

void add_model_synth_command(CLI::App& model, int& exit_code) {
  auto options = std::make_shared<ModelSynthOptions>();
  CLI::App* cmd = model.add_subcommand(
      "synth", "Write a model with a published model's shapes and seeded random weights");
  cmd->add_option("--like", options->preset, "Preset: " + preset_names())->required();
  cmd->add_option("--tokenizer", options->tokenizer,
                  "tokenizer.json (or a .gguf whose vocabulary to reuse)")
      ->required();
  cmd->add_option("--type", options->type, "Matrix type: q8_0, q4_0, q4_k, f16, f32")
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "Weight seed")->capture_default_str();
  cmd->add_option("-o,--output", options->output, "Output .gguf")->required();
  cmd->add_option("--layers", options->layers, "Fewer layers than the preset (tests)")
      ->check(CLI::Range(1u, 1024u));
  cmd->add_option("--vocab", options->vocab,
                  "Smaller vocabulary than the preset, at least the tokenizer's (tests)")
      ->check(CLI::Range(1u, 1u << 24));
  cmd->add_flag("--force", options->force, "Overwrite OUT if it exists");
  cmd->callback([options, &exit_code] { exit_code = run_model_synth(*options); });
}

}  // namespace sy::gateway
