// Every committed seed (tests/fuzz/<target>/corpus/*) through its fuzz target in the normal
// build: no crash, and only the documented clean rejection (EngineError, caught by the target).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_targets.h"

namespace sy::fuzz {
namespace {

std::vector<std::filesystem::path> corpus_of(const std::string& target) {
  std::vector<std::filesystem::path> files;
  const auto dir = std::filesystem::path(SWITCHYARD_FUZZ_DIR) / target / "corpus";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  return files;
}

void replay(const std::string& target, const std::function<void(std::span<const uint8_t>)>& run) {
  const auto files = corpus_of(target);
  ASSERT_FALSE(files.empty()) << "no corpus for " << target;
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    std::ifstream in(file, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    EXPECT_NO_THROW(run(bytes));
    // Every prefix as well: truncation is the commonest damage a real file suffers.
    for (size_t cut = 0; cut < bytes.size(); cut += 1 + bytes.size() / 64) {
      EXPECT_NO_THROW(run(std::span<const uint8_t>(bytes).first(cut)));
    }
  }
}

TEST(FuzzCorpus, GgufReaderAcceptsOrRejectsEverySeedCleanly) {
  replay("gguf_reader", fuzz_gguf_reader);
}

TEST(FuzzCorpus, Llama2cLoaderAcceptsOrRejectsEverySeedCleanly) {
  replay("llama2c_loader", fuzz_llama2c_loader);
}

TEST(FuzzCorpus, TokenizerHandlesEverySeed) {
  if (!std::filesystem::exists(SWITCHYARD_MODELS_DIR "/vocab")) {
    GTEST_SKIP() << "no vocabularies in " SWITCHYARD_MODELS_DIR;
  }
  replay("tokenizer", fuzz_tokenizer);
}

}  // namespace
}  // namespace sy::fuzz
