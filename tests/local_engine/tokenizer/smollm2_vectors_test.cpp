// SmolLM2's tokenizer.json through our loader and BPE against Hugging Face's own tokenizer
// (tests/fixtures/tokenizer/smollm2_vectors.json, written by gen_smollm2_vectors.mjs).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "node_fixture.h"
#include "switchyard/local_engine/tokenizer.h"
#include "vocab_vectors.h"

namespace sy::engine {
namespace {

using testing::models_dir;
using testing::read_all;

struct SmolVectors {
  std::vector<std::string> corpus;
  std::vector<std::vector<TokenId>> with_special;
  std::vector<std::vector<TokenId>> without_special;
};

SmolVectors load() {
  const auto doc = nlohmann::json::parse(
      read_all(std::filesystem::path(SWITCHYARD_FIXTURES_DIR) / "tokenizer/smollm2_vectors.json"));
  SmolVectors v;
  v.corpus = doc.at("corpus").get<std::vector<std::string>>();
  v.with_special = doc.at("with_special").get<std::vector<std::vector<TokenId>>>();
  v.without_special = doc.at("without_special").get<std::vector<std::vector<TokenId>>>();
  return v;
}

class SmolLm2Vectors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tokenizer_ = Tokenizer::create(vocabulary_from_tokenizer_json(
                                       models_dir() / "smollm2-135m-instruct/tokenizer.json"))
                     .release();
    vectors_ = new SmolVectors(load());
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete vectors_;
  }
  static const Tokenizer* tokenizer_;
  static const SmolVectors* vectors_;
};
const Tokenizer* SmolLm2Vectors::tokenizer_ = nullptr;
const SmolVectors* SmolLm2Vectors::vectors_ = nullptr;

TEST_F(SmolLm2Vectors, FixtureCoversTheCorpus) {
  ASSERT_GE(vectors_->corpus.size(), 70u);
  ASSERT_EQ(vectors_->with_special.size(), vectors_->corpus.size());
  ASSERT_EQ(vectors_->without_special.size(), vectors_->corpus.size());
}

TEST_F(SmolLm2Vectors, EncodeWithSpecialTokensMatchesHuggingFace) {
  for (size_t i = 0; i < vectors_->corpus.size(); ++i) {
    const std::string& text = vectors_->corpus[i];
    auto ids = tokenizer_->encode(text, {.add_special = true, .parse_special = true});
    EXPECT_EQ(ids, vectors_->with_special[i]) << "text: [" << text << "]";
    EXPECT_EQ(tokenizer_->decode(ids, /*special=*/true), text);
  }
}

TEST_F(SmolLm2Vectors, EncodeWithoutSpecialTokensMatchesHuggingFace) {
  for (size_t i = 0; i < vectors_->corpus.size(); ++i) {
    const std::string& text = vectors_->corpus[i];
    auto ids = tokenizer_->encode(text, {.add_special = false, .parse_special = false});
    EXPECT_EQ(ids, vectors_->without_special[i]) << "text: [" << text << "]";
    EXPECT_EQ(tokenizer_->decode(ids), text);
  }
}

TEST(SmolLm2VectorsFixture, IsWhatTheGeneratorWritesToday) {
  auto fresh = testing::regenerate_fixture("tests/fixtures/tokenizer/gen_smollm2_vectors.mjs",
                                           "@huggingface/tokenizers");
  if (!fresh) GTEST_SKIP() << "node or @huggingface/tokenizers not installed";
  EXPECT_EQ(*fresh, read_all(std::filesystem::path(SWITCHYARD_FIXTURES_DIR) /
                             "tokenizer/smollm2_vectors.json"))
      << "run: node tests/fixtures/tokenizer/gen_smollm2_vectors.mjs";
}

}  // namespace
}  // namespace sy::engine
