// LlamaCpu regroups its Q8_0 / Q4_0 matrices at load (kernels/cpu/row_groups.h) into memory of
// its own, dropping the mapped file's pages: the file's bytes, which the GGUF writer and the
// CUDA path read, must stay the original layout, and two passes over one model (each with its
// own groups) must agree bit for bit with each other and across thread counts.

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "runtime/llama_cpu.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/quantize.h"

namespace sy::engine {
namespace {

const std::filesystem::path kStories = std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K";

TEST(LlamaCpuGroups, RegroupingLeavesTheFileBytesAndGivesStableLogits) {
  for (TensorType type : {TensorType::q8_0, TensorType::q4_0}) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("sy_groups_" + std::string(to_string(type)) + ".gguf");
    quantize_gguf(kStories / "stories260K.gguf", path, {.type = type});
    auto model = Model::load(path);
    ASSERT_TRUE(model->file()->is_mapped());
    std::vector<std::vector<std::byte>> before;
    for (const GgufTensor& t : model->file()->tensors()) {
      before.emplace_back(t.data.begin(), t.data.end());
    }
    LlamaCpu one(*model, 16, 1);
    LlamaCpu two(*model, 16, 2);
    const auto tokens = model->tokenizer().encode("Once upon a time, there was a dog.");
    for (size_t pos = 0; pos < tokens.size(); ++pos) {
      const auto a = one.forward(tokens[pos], pos);
      const std::vector<float> first(a.begin(), a.end());
      const auto b = two.forward(tokens[pos], pos);
      ASSERT_EQ(std::memcmp(first.data(), b.data(), first.size() * sizeof(float)), 0)
          << to_string(type) << " pos " << pos;
    }
    size_t i = 0;
    for (const GgufTensor& t : model->file()->tensors()) {
      ASSERT_EQ(std::memcmp(before[i].data(), t.data.data(), before[i].size()), 0)
          << to_string(type) << " " << t.name;
      ++i;
    }
    std::filesystem::remove(path);
  }
}

}  // namespace
}  // namespace sy::engine
