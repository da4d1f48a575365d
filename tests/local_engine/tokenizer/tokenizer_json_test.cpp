#include <gtest/gtest.h>

#include <random>

#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/tokenizer.h"
#include "vocab_vectors.h"

namespace sy::engine {
namespace {

using testing::models_dir;

const std::filesystem::path kSmolLm = models_dir() / "smollm2-135m-instruct/tokenizer.json";

TokenId id_of(const Tokenizer& t, std::string_view token) {
  const auto& tokens = t.vocabulary().tokens;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] == token) return static_cast<TokenId>(i);
  }
  return -1;
}

TEST(TokenizerJson, LoadsSmolLm2Vocabulary) {
  auto vocab = vocabulary_from_tokenizer_json(kSmolLm);
  EXPECT_EQ(vocab.size(), 49152u);
  EXPECT_EQ(vocab.merges.size(), 48900u);
  EXPECT_EQ(vocab.pre, "smollm");
  EXPECT_EQ(vocab.tokens[1], "<|im_start|>");
  EXPECT_EQ(vocab.kinds[1], TokenKind::control);
}

TEST(TokenizerJson, EncodesWordsDigitsAndChatMarkup) {
  auto tok = Tokenizer::create(vocabulary_from_tokenizer_json(kSmolLm));
  // Whole common words are single tokens; the space belongs to the following word (Ġ).
  EXPECT_EQ(tok->encode("Hello world"),
            (std::vector<TokenId>{id_of(*tok, "Hello"), id_of(*tok, "Ġworld")}));
  // Digits are split one by one before byte-level BPE.
  auto digits = tok->encode("12345");
  ASSERT_EQ(digits.size(), 5u);
  EXPECT_EQ(digits[0], id_of(*tok, "1"));
  auto chat = tok->encode("<|im_start|>user\nHi<|im_end|>", {.parse_special = true});
  EXPECT_EQ(chat.front(), 1);
  EXPECT_EQ(chat.back(), 2);
  auto literal = tok->encode("<|im_start|>", {.parse_special = false});
  EXPECT_GT(literal.size(), 1u);
}

TEST(TokenizerJson, DecodeInvertsEncodeOnVariedText) {
  auto tok = Tokenizer::create(vocabulary_from_tokenizer_json(kSmolLm));
  for (std::string text : {"Grüße aus Köln! ¿Qué tal? 東京は晴れ。 🦙🦙 emoji",
                           "def f(x):\n\treturn x  *  2  # comment\n\n\n",
                           "   leading and trailing   ", "3.14159 + 2e10 = ?", ""}) {
    EXPECT_EQ(tok->decode(tok->encode(text)), text);
  }
}

TEST(TokenizerJson, RandomBytesRoundTripThroughBpeAndSpm) {
  // GPT-2's vocabulary holds all 256 byte characters, so byte-level BPE is lossless on any input.
  auto gpt2_file = GgufFile::open(models_dir() / "vocab/ggml-vocab-gpt-2.gguf");
  auto bpe = Tokenizer::from_gguf(*gpt2_file);
  auto spm =
      Tokenizer::create(vocabulary_from_llama2c(models_dir() / "stories260K/tok512.bin", 512));
  auto smol = Tokenizer::create(vocabulary_from_tokenizer_json(kSmolLm));
  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    std::string text(rng() % 64, '\0');
    for (auto& c : text) c = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : 32 + rng() % 95);
    EXPECT_EQ(bpe->decode(bpe->encode(text)), text);
    EXPECT_EQ(spm->decode(spm->encode(text)), text);
    // SmolLM2's alphabet lacks some control bytes: they are dropped, never a bad id.
    for (TokenId id : smol->encode(text)) {
      EXPECT_GE(id, 0);
      EXPECT_LT(static_cast<size_t>(id), smol->size());
    }
  }
}

TEST(TokenizerJson, MissingOrMalformedFileIsAClearError) {
  EXPECT_THROW(vocabulary_from_tokenizer_json(models_dir() / "absent.json"), EngineError);
  auto path = std::filesystem::temp_directory_path() / "sy_bad_tokenizer.json";
  {
    std::ofstream out(path);
    out << "{\"model\": {\"type\": \"WordPiece\"}}";
  }
  try {
    vocabulary_from_tokenizer_json(path);
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("WordPiece"), std::string::npos);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sy::engine
