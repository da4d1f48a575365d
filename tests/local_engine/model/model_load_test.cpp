#include "switchyard/local_engine/model.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/generate.h"
#include "switchyard/local_engine/gguf_file.h"

namespace sy::engine {
namespace {

const std::filesystem::path kStories = std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K";

// Copies stories260K.gguf, letting `edit` change metadata and tensors on the way.
std::filesystem::path rewritten(const std::string& name,
                                const std::function<void(GgufWriter&, const GgufTensor&)>& edit,
                                const std::function<void(GgufWriter&)>& meta = {}) {
  auto src = GgufFile::open(kStories / "stories260K.gguf");
  GgufWriter w;
  for (const auto& [k, v] : src->metadata()) w.set(k, v);
  if (meta) meta(w);
  for (const auto& t : src->tensors()) edit(w, t);
  auto path = std::filesystem::temp_directory_path() / ("sy_model_test_" + name + ".gguf");
  w.write(path);
  return path;
}

std::string load_error(const std::filesystem::path& path) {
  try {
    Model::load(path);
  } catch (const EngineError& e) {
    return e.what();
  }
  return "";
}

TEST(Model, ReadsLlamaHyperParametersFromGguf) {
  auto model = Model::load(kStories / "stories260K.gguf");
  const ModelConfig& c = model->config();
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.dim, 64u);
  EXPECT_EQ(c.n_layers, 5u);
  EXPECT_EQ(c.n_heads, 8u);
  EXPECT_EQ(c.n_kv_heads, 4u);
  EXPECT_EQ(c.head_dim, 8u);
  EXPECT_EQ(c.ffn_dim, 172u);
  EXPECT_EQ(c.n_vocab, 512u);
  EXPECT_FALSE(c.tied_output);
  EXPECT_EQ(model->tokenizer().size(), 512u);
}

// GGUF v2 has v3's layout for little-endian files (v3 added big-endian ones): the same model with
// version 2 in its header loads and generates the very same tokens.
TEST(Model, GgufVersion2LoadsAndGeneratesAsVersion3) {
  std::ifstream in(kStories / "stories260K.gguf", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 8u);
  const uint32_t two = 2;
  std::memcpy(bytes.data() + 4, &two, sizeof(two));  // after the magic
  const auto path = std::filesystem::temp_directory_path() / "sy_model_test_v2.gguf";
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  auto v2 = Model::load(path);
  auto v3 = Model::load(kStories / "stories260K.gguf");
  ASSERT_NE(v2->file(), nullptr);
  EXPECT_EQ(v2->file()->version(), 2u);
  EXPECT_EQ(v3->file()->version(), 3u);
  GenerateOptions options;
  options.max_tokens = 24;
  options.threads = 1;
  const GenerateResult a = generate(*v2, "Once upon a time", options);
  const GenerateResult b = generate(*v3, "Once upon a time", options);
  EXPECT_EQ(a.tokens.size(), 24u);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.logprobs, b.logprobs);
  std::filesystem::remove(path);
}

TEST(Model, Llama2cCheckpointHasTheSameWeightsAsTheGguf) {
  auto bin = Model::load(kStories / "stories260K.bin", kStories / "tok512.bin");
  auto gguf = Model::load(kStories / "stories260K.gguf");
  EXPECT_EQ(bin->config().context_length, 512u);
  EXPECT_EQ(bin->weights().token_embd, gguf->weights().token_embd);
  EXPECT_EQ(bin->weights().layers[3].wk, gguf->weights().layers[3].wk);
  EXPECT_EQ(bin->weights().layers[4].w_down, gguf->weights().layers[4].w_down);
  EXPECT_EQ(bin->output_weights(), gguf->output_weights());
}

TEST(Model, BadTensorShapeNamesTheTensor) {
  auto path = rewritten("shape", [](GgufWriter& w, const GgufTensor& t) {
    if (t.name == "blk.3.attn_q.weight") {
      w.add_tensor(t.name, t.type, {64, 32}, t.data.subspan(0, t.n_bytes / 2));
    } else {
      w.add_tensor(t.name, t.type, t.shape, t.data);
    }
  });
  std::string err = load_error(path);
  EXPECT_NE(err.find("loading model"), std::string::npos) << err;
  EXPECT_NE(err.find("tensor blk.3.attn_q.weight: shape [64, 32], expected [64, 64]"),
            std::string::npos)
      << err;
  std::filesystem::remove(path);
}

TEST(Model, MissingTensorAndUnknownArchitectureAreClearErrors) {
  auto missing = rewritten("missing", [](GgufWriter& w, const GgufTensor& t) {
    if (t.name != "blk.1.ffn_up.weight") w.add_tensor(t.name, t.type, t.shape, t.data);
  });
  EXPECT_NE(load_error(missing).find("tensor blk.1.ffn_up.weight: missing"), std::string::npos);
  auto arch = rewritten(
      "arch",
      [](GgufWriter& w, const GgufTensor& t) { w.add_tensor(t.name, t.type, t.shape, t.data); },
      [](GgufWriter& w) { w.set("general.architecture", GgufValue::string("mamba")); });
  EXPECT_NE(load_error(arch).find("architecture mamba is not supported"), std::string::npos);
  auto heads = rewritten(
      "heads",
      [](GgufWriter& w, const GgufTensor& t) { w.add_tensor(t.name, t.type, t.shape, t.data); },
      [](GgufWriter& w) { w.set("llama.attention.head_count_kv", GgufValue::u32(3)); });
  EXPECT_NE(load_error(heads).find("llama.attention.head_count_kv"), std::string::npos);
  for (auto& p : {missing, arch, heads}) std::filesystem::remove(p);
}

TEST(Model, TruncatedLlama2cCheckpointIsAClearError) {
  auto path = std::filesystem::temp_directory_path() / "sy_model_test_truncated.bin";
  std::filesystem::copy_file(kStories / "stories260K.bin", path,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(path, 5000);
  try {
    Model::load(path, kStories / "tok512.bin");
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sy::engine

namespace sy::engine {
namespace {

TEST(Model, HostileLlama2cHeaderFailsWithoutAllocating) {
  auto path = std::filesystem::temp_directory_path() / "sy_model_test_hostile.bin";
  {
    // Plausible-looking but huge dimensions in a 28-byte file: must fail on size, not allocate.
    const int32_t header[7] = {1 << 20, 1 << 20, 1 << 20, 1 << 10, 1 << 10, 1 << 20, 1 << 20};
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(header), sizeof(header));
  }
  EXPECT_THROW(Model::load(path, kStories / "tok512.bin"), EngineError);
  {
    const int32_t header[7] = {64, 172, 5, 0, 4, 512, 512};  // zero heads
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(header), sizeof(header));
  }
  EXPECT_THROW(Model::load(path, kStories / "tok512.bin"), EngineError);
  std::filesystem::remove(path);
}

TEST(Model, InconsistentTokenizerMetadataNamesTheKey) {
  auto path = rewritten(
      "scores",
      [](GgufWriter& w, const GgufTensor& t) { w.add_tensor(t.name, t.type, t.shape, t.data); },
      [](GgufWriter& w) {
        w.set("tokenizer.ggml.scores", GgufValue::f32_array({0.0f, 1.0f}));
      });
  EXPECT_NE(load_error(path).find("tokenizer.ggml.scores: 2 scores for 512 tokens"),
            std::string::npos)
      << load_error(path);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sy::engine

namespace sy::engine {
namespace {

TEST(Model, BlockCountBeyondTheTensorsIsRejectedBeforeAnythingIsSized) {
  auto path = rewritten(
      "layers",
      [](GgufWriter& w, const GgufTensor& t) { w.add_tensor(t.name, t.type, t.shape, t.data); },
      [](GgufWriter& w) { w.set("llama.block_count", GgufValue::u32(4000000000u)); });
  std::string err = load_error(path);
  EXPECT_NE(err.find("llama.block_count: 4000000000 exceeds"), std::string::npos) << err;
  std::filesystem::remove(path);
}

TEST(Model, UnsupportedRopeScalingNamesTheKey) {
  auto path = rewritten(
      "yarn",
      [](GgufWriter& w, const GgufTensor& t) { w.add_tensor(t.name, t.type, t.shape, t.data); },
      [](GgufWriter& w) { w.set("llama.rope.scaling.type", GgufValue::string("yarn")); });
  std::string err = load_error(path);
  EXPECT_NE(err.find("llama.rope.scaling.type: yarn is not supported"), std::string::npos) << err;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sy::engine

namespace sy::engine {
namespace {

// Hostile numbers that would load and then compute nonsense (an infinite RoPE base, no rotated
// dimensions, a byte-level BPE vocabulary without merges) are refused, naming the key.
TEST(Model, ImplausibleRopeAndTokenizerMetadataAreRefused) {
  auto with = [](const char* name, std::function<void(GgufWriter&)> meta) {
    return rewritten(
        name,
        [](GgufWriter& w, const GgufTensor& t) { w.add_tensor(t.name, t.type, t.shape, t.data); },
        std::move(meta));
  };
  struct Case {
    const char* name;
    std::function<void(GgufWriter&)> meta;
    const char* expected;
  };
  const Case cases[] = {
      {"inf_base",
       [](GgufWriter& w) {
         w.set("llama.rope.freq_base", GgufValue::f32(std::numeric_limits<float>::infinity()));
       },
       "RoPE base must be positive and finite"},
      {"rope_dim0", [](GgufWriter& w) { w.set("llama.rope.dimension_count", GgufValue::u32(0)); },
       "llama.rope.dimension_count: 0 is not even, positive"},
      {"no_merges", [](GgufWriter& w) { w.set("tokenizer.ggml.model", GgufValue::string("gpt2")); },
       "tokenizer.ggml.merges: a gpt2 (byte-level BPE) vocabulary needs its merges"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto path = with(c.name, c.meta);
    const std::string err = load_error(path);
    EXPECT_NE(err.find(c.expected), std::string::npos) << err;
    std::filesystem::remove(path);
  }
}

}  // namespace
}  // namespace sy::engine
