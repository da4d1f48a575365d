#include "cli/model_loading.h"

#include <sys/resource.h>

#include <stdexcept>
#include <system_error>

#include "switchyard/local_engine/model.h"

namespace sy::gateway {

std::filesystem::path llama2c_tokenizer_path(const std::filesystem::path& checkpoint,
                                             const std::string& explicit_tokenizer) {
  std::error_code ec;
  if (!explicit_tokenizer.empty()) {
    if (!std::filesystem::is_regular_file(explicit_tokenizer, ec)) {
      throw std::runtime_error("tokenizer " + explicit_tokenizer + ": no such file");
    }
    return explicit_tokenizer;
  }
  auto beside = checkpoint.parent_path() / "tokenizer.bin";
  if (!std::filesystem::is_regular_file(beside, ec)) {
    throw std::runtime_error(checkpoint.string() +
                             ": a llama2.c checkpoint needs its tokenizer: pass --tokenizer "
                             "TOKENIZER.bin (no tokenizer.bin beside it)");
  }
  return beside;
}

std::unique_ptr<engine::Model> load_cli_model(const std::string& path,
                                              const std::string& tokenizer) {
  std::filesystem::path model_path(path);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model_path, ec)) {
    throw std::runtime_error("model " + path + ": no such file");
  }
  if (model_path.extension() == ".bin") {
    return engine::Model::load_llama2c(model_path, llama2c_tokenizer_path(model_path, tokenizer));
  }
  return engine::Model::load_gguf(model_path);
}

double peak_rss_mib() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0.0;
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

}  // namespace sy::gateway
