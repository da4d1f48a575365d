#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
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

// A tokenizer.json with a handful of tokens whose merges would cross pre-token boundaries, so
// the ids show how the pre_tokenizer split "I'LL 1234".
std::filesystem::path write_split_tokenizer_json(const nlohmann::json& pre_tokenizer) {
  nlohmann::json vocab;
  const char* tokens[] = {"I", "'",  "L",   "\u0120", "1",   "2", "3",
                          "4", "12", "123", "'L",     "'LL", "LL"};
  for (size_t i = 0; i < std::size(tokens); ++i) vocab[tokens[i]] = i;
  const nlohmann::json doc = {
      {"model",
       {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"1 2", "12 3", "' L", "'L L", "L L"}}}},
      {"pre_tokenizer", pre_tokenizer},
      {"added_tokens", nlohmann::json::array()}};
  auto path = std::filesystem::temp_directory_path() /
              ("sy_split_tokenizer_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << doc.dump();
  return path;
}

nlohmann::json split_then_byte_level(std::vector<std::string> regexes) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& r : regexes) {
    steps.push_back({{"type", "Split"},
                     {"pattern", {{"Regex", r}}},
                     {"behavior", "Isolated"},
                     {"invert", false}});
  }
  steps.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}});
  return {{"type", "Sequence"}, {"pretokenizers", steps}};
}

const std::string kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::vector<TokenId> encode_with(const nlohmann::json& pre_tokenizer, std::string* pre) {
  const auto path = write_split_tokenizer_json(pre_tokenizer);
  auto vocab = vocabulary_from_tokenizer_json(path);
  std::filesystem::remove(path);
  *pre = vocab.pre;
  return Tokenizer::create(std::move(vocab))->encode("I'LL 1234");
}

TEST(TokenizerJson, SplitRegexPreTokenizersMapOntoOurs) {
  std::string pre;
  // Ids: I=0 '=1 L=2 Ġ=3 1..4=4..7 12=8 123=9 'L=10 'LL=11 LL=12.
  EXPECT_EQ(encode_with(split_then_byte_level({kLlama3Regex}), &pre),
            (std::vector<TokenId>{0, 11, 3, 9, 7}));
  EXPECT_EQ(pre, "llama3");
  EXPECT_EQ(encode_with(split_then_byte_level({kQwen2Regex}), &pre),
            (std::vector<TokenId>{0, 11, 3, 4, 5, 6, 7}));
  EXPECT_EQ(pre, "qwen2");
  // Plain ByteLevel (GPT-2's regex): "'" apart, then " 1234" merges as far as the merges go.
  EXPECT_EQ(encode_with({{"type", "ByteLevel"}, {"add_prefix_space", false}}, &pre),
            (std::vector<TokenId>{0, 1, 12, 3, 9, 7}));
  EXPECT_EQ(pre, "gpt2");
}

TEST(TokenizerJson, UnknownSplitRegexIsAClearError) {
  const auto path = write_split_tokenizer_json(split_then_byte_level({"\\w+|[^\\w\\s]+"}));
  try {
    vocabulary_from_tokenizer_json(path);
    ADD_FAILURE() << "expected EngineError";
  } catch (const EngineError& e) {
    EXPECT_NE(std::string(e.what()).find("Split pattern"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sy::engine
