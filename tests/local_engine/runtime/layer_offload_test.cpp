// LlamaCpu::set_layer_offload, the hook partial GPU offload (--gpu-layers) runs through, checked
// on the CPU alone: the offload sees every chunk's rows (tokens, positions, the sequence's
// blocks) and the embeddings, and the pass runs the layers it did not take. An offload that
// takes none leaves the logits bit-identical.

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "local_engine/model/tiny_preset.h"
#include "runtime/llama_cpu.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/synthetic_model.h"

namespace sy::engine {
namespace {

const std::filesystem::path kStories =
    std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K/stories260K.gguf";

TEST(LayerOffload, SeesEveryChunkAndLeavesLogitsUnchangedWhenItTakesNoLayer) {
  auto vocab = vocabulary_from_gguf(*GgufFile::open(kStories));
  const SyntheticPreset preset = testing::tiny_preset("llama", true, 2);
  auto path = std::filesystem::temp_directory_path() / "sy_offload_llama_q8_0.gguf";
  write_synthetic_model(preset, vocab, {.type = TensorType::q8_0, .seed = 5}, path);
  auto model = Model::load(path);
  const std::vector<TokenId> prompt = {3, 99, 250, 7, 401};

  LlamaCpu plain(*model, 16, 1);
  auto want_prompt = plain.forward_batch(prompt, 0);
  const std::vector<float> want(want_prompt.begin(), want_prompt.end());
  auto want_next = plain.forward(42, prompt.size());
  const std::vector<float> want2(want_next.begin(), want_next.end());

  struct Call {
    std::vector<TokenId> tokens;
    std::vector<size_t> positions;
    size_t block_tokens;
    size_t blocks;
    float first_x;
  };
  std::vector<Call> calls;
  LlamaCpu hooked(*model, 16, 1);
  hooked.set_layer_offload([&](std::span<const LlamaCpu::Row> rows, size_t block_tokens, float* x) {
    Call c{{}, {}, block_tokens, rows.front().kv->blocks.size(), x[0]};
    for (const LlamaCpu::Row& r : rows) {
      c.tokens.push_back(r.token);
      c.positions.push_back(r.pos);
    }
    calls.push_back(c);
    return size_t{0};
  });
  auto got = hooked.forward_batch(prompt, 0);
  EXPECT_EQ(std::vector<float>(got.begin(), got.end()), want);
  auto got2 = hooked.forward(42, prompt.size());
  EXPECT_EQ(std::vector<float>(got2.begin(), got2.end()), want2);

  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].tokens, prompt);
  EXPECT_EQ(calls[0].positions, (std::vector<size_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(calls[1].tokens, (std::vector<TokenId>{42}));
  EXPECT_EQ(calls[1].positions, (std::vector<size_t>{5}));
  EXPECT_EQ(calls[0].block_tokens, 64u);  // the private cache's block size (llama_cpu.cpp)
  EXPECT_EQ(calls[0].blocks, 1u);         // 16 positions in one block of 64
  EXPECT_NE(calls[0].first_x, 0.0f);  // the embeddings are in place when it is called
}

}  // namespace
}  // namespace sy::engine
