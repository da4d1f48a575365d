#include <gtest/gtest.h>

#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/tokenizer.h"
#include "vocab_vectors.h"

namespace sy::engine {
namespace {

using testing::load_vocab_cases;
using testing::models_dir;

void expect_vectors_pass(const std::string& name) {
  auto path = models_dir() / "vocab" / name;
  auto file = GgufFile::open(path);
  auto tokenizer = Tokenizer::from_gguf(*file);
  auto cases = load_vocab_cases(path);
  ASSERT_EQ(cases.size(), 46u);
  for (const auto& c : cases) {
    auto ids = tokenizer->encode(c.text, {.add_special = false, .parse_special = true});
    EXPECT_EQ(ids, c.ids) << name << " text: [" << c.text << "]";
    // SentencePiece with byte fallback is lossless once the prefix space is dropped.
    EXPECT_EQ(tokenizer->decode(ids), c.text) << name;
  }
}

TEST(SpmTokenizer, MatchesLlamaSpmVectors) { expect_vectors_pass("ggml-vocab-llama-spm.gguf"); }

TEST(SpmTokenizer, MatchesPhi3Vectors) { expect_vectors_pass("ggml-vocab-phi-3.gguf"); }

TEST(SpmTokenizer, AddsBosAndParsesControlTokensOnlyWhenAsked) {
  auto file = GgufFile::open(models_dir() / "vocab/ggml-vocab-llama-spm.gguf");
  auto tok = Tokenizer::from_gguf(*file);
  auto with_bos = tok->encode("Hello world");
  ASSERT_FALSE(with_bos.empty());
  EXPECT_EQ(with_bos.front(), 1);
  EXPECT_EQ(tok->encode(""), std::vector<TokenId>{1});
  EXPECT_TRUE(tok->encode("", {.add_special = false}).empty());
  auto parsed = tok->encode("a</s>", {.add_special = false, .parse_special = true});
  EXPECT_EQ(parsed.back(), 2);
  auto literal = tok->encode("a</s>", {.add_special = false, .parse_special = false});
  EXPECT_NE(literal.back(), 2);
  EXPECT_GT(literal.size(), 2u);
}

TEST(SpmTokenizer, Llama2cTokenizerMatchesGgufVocabulary) {
  auto file = GgufFile::open(models_dir() / "stories260K/stories260K.gguf");
  auto from_gguf = Tokenizer::from_gguf(*file);
  auto from_bin =
      Tokenizer::create(vocabulary_from_llama2c(models_dir() / "stories260K/tok512.bin", 512));
  ASSERT_EQ(from_bin->size(), 512u);
  for (std::string text : {"Once upon a time, there was a little girl named Lily.",
                           "\"Lily, let's go!\"\nShe said: ümlaut 🦙  two  spaces"}) {
    auto a = from_gguf->encode(text);
    EXPECT_EQ(a, from_bin->encode(text)) << text;
    EXPECT_EQ(from_gguf->decode(a), text);
  }
}

TEST(Utf8StreamDecoder, HoldsIncompleteCharactersUntilTheyComplete) {
  auto file = GgufFile::open(models_dir() / "stories260K/stories260K.gguf");
  auto tok = Tokenizer::from_gguf(*file);
  const std::string text = "Hi 🦙 é";
  auto ids = tok->encode(text, {.add_special = false});
  Utf8StreamDecoder stream(*tok);
  std::string joined;
  for (TokenId id : ids) {
    std::string part = stream.push(id);
    // Every emitted chunk is whole UTF-8: it never ends inside a character.
    if (!part.empty()) {
      unsigned char last = static_cast<unsigned char>(part.back());
      EXPECT_TRUE(last < 0x80 || (last & 0xC0) == 0x80) << "chunk ends in a lead byte";
    }
    joined += part;
  }
  joined += stream.finish();
  EXPECT_EQ(joined, text);
}

TEST(Tokenizer, RejectsUnknownModelAndBadMetadata) {
  Vocabulary v;
  v.model = "wordpiece";
  v.tokens = {"a"};
  EXPECT_THROW(Tokenizer::create(v), EngineError);
  EXPECT_THROW(vocabulary_from_llama2c(models_dir() / "stories260K/tok512.bin", 100000),
               EngineError);
}

}  // namespace
}  // namespace sy::engine

namespace sy::engine {
namespace {

// Regression: a UTF-8 lead byte without continuation bytes used to swallow the escaped space
// after it, and decode gave back U+2581's bytes instead of the space.
TEST(SpmTokenizer, StrayLeadByteDoesNotSwallowTheFollowingSpace) {
  auto tok = Tokenizer::create(
      vocabulary_from_llama2c(testing::models_dir() / "stories260K/tok512.bin", 512));
  for (std::string text : {"F\xe4u <y", "a\xf0 b", "\xc3 \xc3"}) {
    EXPECT_EQ(tok->decode(tok->encode(text)), text);
  }
}

}  // namespace
}  // namespace sy::engine
