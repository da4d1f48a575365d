#include <gtest/gtest.h>

#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/tokenizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "vocab_vectors.h"

namespace sy::engine {
namespace {

using testing::load_vocab_cases;
using testing::models_dir;

class BpeVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(BpeVectors, EncodeMatchesLlamaCppAndDecodeIsLossless) {
  auto path = models_dir() / "vocab" / (std::string("ggml-vocab-") + GetParam() + ".gguf");
  auto file = GgufFile::open(path);
  auto tokenizer = Tokenizer::from_gguf(*file);
  auto cases = load_vocab_cases(path);
  ASSERT_EQ(cases.size(), 46u);
  for (const auto& c : cases) {
    auto ids = tokenizer->encode(c.text, {.add_special = false, .parse_special = true});
    EXPECT_EQ(ids, c.ids) << GetParam() << " text: [" << c.text << "]";
    EXPECT_EQ(tokenizer->decode(ids), c.text) << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, BpeVectors,
                         ::testing::Values("gpt-2", "starcoder", "refact", "mpt", "falcon",
                                           "deepseek-coder", "deepseek-llm"));

TEST(PreTokenizer, PiecesConcatenateToTheInputEvenForInvalidUtf8) {
  auto pre = PreTokenizer::for_name("gpt-2");
  std::string text = "Hello  world's 123\xff\xfe \n\n tabs\t\tend";
  std::string joined;
  for (auto piece : pre.split(text)) joined += piece;
  EXPECT_EQ(joined, text);
  auto pieces = pre.split("it's  ok");
  std::vector<std::string> got(pieces.begin(), pieces.end());
  EXPECT_EQ(got, (std::vector<std::string>{"it", "'s", " ", " ok"}));
}

TEST(PreTokenizer, UnknownNameIsAClearError) {
  EXPECT_THROW(PreTokenizer::for_name("no-such-pre"), EngineError);
}

}  // namespace
}  // namespace sy::engine
