// Token ids llama.cpp gives (tests/fixtures/tokenizer/llama_cpp_vectors.json, written by
// gen_llama_cpp_vectors.mjs through node-llama-cpp) for vocabularies that ship without vectors,
// and for the GPT-2 vocabulary relabelled with each tokenizer.ggml.pre variant.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/tokenizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "vocab_vectors.h"

namespace sy::engine {
namespace {

using testing::models_dir;
using testing::read_all;

struct VectorSet {
  std::string vocab;
  std::string pre;  // empty: as the file says
  std::vector<std::vector<TokenId>> ids;
};

struct Vectors {
  std::vector<std::string> corpus;
  std::vector<VectorSet> sets;
};

const Vectors& vectors() {
  static const Vectors v = [] {
    const auto doc = nlohmann::json::parse(read_all(std::filesystem::path(SWITCHYARD_FIXTURES_DIR) /
                                                    "tokenizer/llama_cpp_vectors.json"));
    Vectors out;
    out.corpus = doc.at("corpus").get<std::vector<std::string>>();
    for (const auto& s : doc.at("sets")) {
      out.sets.push_back({s.at("vocab").get<std::string>(),
                          s.at("pre").is_null() ? "" : s.at("pre").get<std::string>(),
                          s.at("ids").get<std::vector<std::vector<TokenId>>>()});
    }
    return out;
  }();
  return v;
}

void expect_set_matches(const VectorSet& set) {
  auto file = GgufFile::open(models_dir() / "vocab" / set.vocab);
  Vocabulary vocab = vocabulary_from_gguf(*file);
  if (!set.pre.empty()) vocab.pre = set.pre;
  auto tokenizer = Tokenizer::create(std::move(vocab));
  const auto& corpus = vectors().corpus;
  ASSERT_EQ(set.ids.size(), corpus.size());
  const std::string label = set.vocab + (set.pre.empty() ? "" : " as " + set.pre);
  for (size_t i = 0; i < corpus.size(); ++i) {
    auto ids = tokenizer->encode(corpus[i], {.add_special = false, .parse_special = true});
    EXPECT_EQ(ids, set.ids[i]) << label << " text: [" << corpus[i] << "]";
    // Lossless where every byte has a token and no control token text is involved.
    if (corpus[i].find("<") == std::string::npos && corpus[i].find("[INST]") == std::string::npos) {
      EXPECT_EQ(tokenizer->decode(ids), corpus[i]) << label;
    }
  }
}

TEST(LlamaCppVectors, GptNeoXWithoutPreMatchesLlamaCppDefault) {
  for (const auto& s : vectors().sets) {
    if (s.vocab == "ggml-vocab-gpt-neox.gguf") expect_set_matches(s);
  }
}

TEST(LlamaCppVectors, BaichuanSentencePieceMatchesLlamaCpp) {
  for (const auto& s : vectors().sets) {
    if (s.vocab == "ggml-vocab-baichuan.gguf") expect_set_matches(s);
  }
}

TEST(LlamaCppVectors, EveryPreTokenizerVariantMatchesLlamaCppOnGpt2Vocabulary) {
  size_t checked = 0;
  for (const auto& s : vectors().sets) {
    if (s.pre.empty()) continue;
    SCOPED_TRACE(s.pre);
    expect_set_matches(s);
    ++checked;
  }
  // Every name we accept is in the fixture, so none goes unchecked.
  for (std::string_view name : PreTokenizer::known_names()) {
    if (name == "gpt2" || name == "llama-v3" || name == "phi-2") continue;  // aliases of ours
    bool found = false;
    for (const auto& s : vectors().sets) found |= s.pre == name;
    EXPECT_TRUE(found) << name << " has no llama.cpp vectors";
  }
  EXPECT_GE(checked, 25u);
}

}  // namespace
}  // namespace sy::engine
