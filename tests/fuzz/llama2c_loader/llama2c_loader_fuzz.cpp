#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz/fuzz_targets.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/generate.h"
#include "switchyard/local_engine/model.h"

namespace sy::fuzz {

namespace {

// The loader reads paths, so each input goes through two files in a per-process directory,
// removed at exit.
class ScratchDir {
 public:
  ScratchDir()
      : path_(std::filesystem::temp_directory_path() /
              ("switchyard_fuzz_llama2c_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

const std::filesystem::path& scratch_dir() {
  static const ScratchDir dir;
  return dir.path();
}

void write(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
}

}  // namespace

void fuzz_llama2c_loader(std::span<const uint8_t> data) {
  using namespace sy::engine;
  uint32_t checkpoint_size = 0;
  if (data.size() >= 4) std::memcpy(&checkpoint_size, data.data(), 4);
  data = data.subspan(std::min<size_t>(4, data.size()));
  checkpoint_size = static_cast<uint32_t>(std::min<size_t>(checkpoint_size, data.size()));
  const auto checkpoint = scratch_dir() / "model.bin";
  const auto tokenizer = scratch_dir() / "tokenizer.bin";
  write(checkpoint, data.first(checkpoint_size));
  write(tokenizer, data.subspan(checkpoint_size));
  try {
    auto model = Model::load_llama2c(checkpoint, tokenizer);
    GenerateOptions options;
    options.max_tokens = 2;
    options.threads = 1;
    generate(*model, "ab", options);
  } catch (const EngineError&) {
  }
}

}  // namespace sy::fuzz
