#include "cli/model_tokenize_command.h"

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/model_loading.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/tokenizer.h"

namespace sy::gateway {

namespace {

// Text files larger than this are refused rather than read whole.
constexpr std::uintmax_t kMaxTextFileBytes = 256ull * 1024 * 1024;

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw std::runtime_error("--file " + path + ": " + ec.message());
  if (size > kMaxTextFileBytes) {
    throw std::runtime_error("--file " + path + ": larger than " +
                             std::to_string(kMaxTextFileBytes) + " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  std::string text(size, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(size))) {
    throw std::runtime_error("--file " + path + ": cannot read");
  }
  return text;
}

// The tokenizer alone where the file allows it: a GGUF's vocabulary (no weights touched) or a
// tokenizer.json; a llama2.c checkpoint is loaded whole because its vocabulary size lives there.
struct LoadedTokenizer {
  std::unique_ptr<engine::Model> model;
  std::unique_ptr<engine::Tokenizer> own;
  const engine::Tokenizer& get() const { return model ? model->tokenizer() : *own; }
};

LoadedTokenizer load_tokenizer(const ModelTokenizeOptions& options) {
  const std::filesystem::path path(options.model_path);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw std::runtime_error(options.model_path + ": no such file");
  }
  LoadedTokenizer loaded;
  if (path.extension() == ".json") {
    loaded.own = engine::Tokenizer::create(engine::vocabulary_from_tokenizer_json(path));
  } else if (path.extension() == ".bin") {
    loaded.model = load_cli_model(options.model_path, options.tokenizer_path);
  } else {
    loaded.own = engine::Tokenizer::from_gguf(*engine::GgufFile::open(path));
  }
  return loaded;
}

}  // namespace

int run_model_tokenize(const ModelTokenizeOptions& options, bool text_given) {
  try {
    if (text_given == !options.text_file.empty()) {
      throw std::runtime_error("give the text either as an argument or with --file, not both");
    }
    const std::string text = text_given ? options.text : read_text_file(options.text_file);
    const auto tokenizer = load_tokenizer(options);
    const auto ids = tokenizer.get().encode(
        text, {.add_special = !options.no_bos, .parse_special = options.parse_special});
    std::string line = "[";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i > 0) line += ',';
      line += std::to_string(ids[i]);
    }
    line += "]\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchyard model tokenize: %s\n", e.what());
    return 1;
  }
}

void add_model_tokenize_command(CLI::App& model, int& exit_code) {
  auto options = std::make_shared<ModelTokenizeOptions>();
  CLI::App* cmd = model.add_subcommand("tokenize", "Print the token ids of a text as JSON");
  cmd->add_option("-m,--model", options->model_path, "Model .gguf, tokenizer.json or .bin")
      ->required();
  cmd->add_option("--tokenizer", options->tokenizer_path, "llama2.c tokenizer.bin for a .bin");
  CLI::Option* text = cmd->add_option("text", options->text, "Text to tokenize");
  cmd->add_option("-f,--file", options->text_file, "Read the text from this file instead");
  cmd->add_flag("--no-bos", options->no_bos, "Add no special tokens (BOS/EOS)");
  cmd->add_flag("--special", options->parse_special,
                "Text spelling a control token (e.g. <|im_start|>) becomes that token");
  cmd->callback(
      [options, text, &exit_code] { exit_code = run_model_tokenize(*options, text->count() > 0); });
}

}  // namespace sy::gateway
