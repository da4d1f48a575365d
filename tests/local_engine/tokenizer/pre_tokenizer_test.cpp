// Splits worked out by hand from the published patterns, for the cases where token ids on the
// GPT-2 vocabulary (llama_cpp_vectors_test) cannot tell two splits apart.

#include "tokenizer/pre_tokenizer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sy::engine {
namespace {

std::vector<std::string> split(std::string_view pre, std::string_view text) {
  auto pieces = PreTokenizer::for_name(pre).split(text);
  return {pieces.begin(), pieces.end()};
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizer, Llama3GroupsDigitsByThreeAndKeepsNewlineRunsApart) {
  EXPECT_EQ(
      split("llama-bpe", "Hello  world's 1234567\n\n  x!!\n"),
      (Pieces{"Hello", " ", " world", "'s", " ", "123", "456", "7", "\n\n", " ", " x", "!!\n"}));
  // Contractions in any case; GPT-2's pattern only knows lower case.
  EXPECT_EQ(split("llama3", "I'LL GO"), (Pieces{"I", "'LL", " GO"}));
  EXPECT_EQ(split("gpt-2", "I'LL GO"), (Pieces{"I", "'", "LL", " GO"}));
  // A combining mark is not a letter: it starts a new piece.
  EXPECT_EQ(split("llama3", " नमस्ते"), (Pieces{" नमस", "्त", "े"}));
}

TEST(PreTokenizer, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(split("qwen2", "x 2024!"), (Pieces{"x", " ", "2", "0", "2", "4", "!"}));
  EXPECT_EQ(split("deepseek-r1-qwen", "a1b"), (Pieces{"a", "1", "b"}));
}

TEST(PreTokenizer, DeepSeekV3KeepsMarksWithLettersAndSplitsSymbols) {
  EXPECT_EQ(split("deepseek-v3", "€uro 12345 東京は晴れ नमस्ते a+b"),
            (Pieces{"€", "uro", " ", "123", "45", " ", "東京は晴れ", " नमस्ते", " a", "+b"}));
}

TEST(PreTokenizer, DeepSeekLlmUsesItsOwnLetterAndPunctuationLists) {
  EXPECT_EQ(split("deepseek-llm", "Hello, 世界! 42  \n"),
            (Pieces{"Hello", ",", " ", "世界", "!", " ", "42", "  ", "\n"}));
  // Ω (U+2126) and K (Kelvin, U+212A) are in its letter list (NFC would fold them away), and
  // its "CJK" stage spans U+0800..U+4E00, which takes K away from its space again.
  EXPECT_EQ(split("deepseek-llm", "5\u2126 \u212A"), (Pieces{"5", "\u2126", " ", "\u212A"}));
  // Its punctuation stage's ASCII range ':-~' holds the ASCII letters, so a later stage cuts a
  // mixed-script word that the letter stage kept whole.
  EXPECT_EQ(split("deepseek-llm", "ab\u03A9c"), (Pieces{"ab", "\u03A9", "c"}));
}

TEST(PreTokenizer, PoroCutsAtItsStopCharacters) {
  EXPECT_EQ(split("poro-chat", "Hei, maailma! (a|b) 1.5…ok"),
            (Pieces{"Hei", ",", " maailma", "! (", "a", "|", "b", ")", " 1", ".", "5", "…", "ok"}));
  EXPECT_EQ(split("viking", "ab12"), (Pieces{"ab", "1", "2"}));
}

TEST(PreTokenizer, EveryVariantKeepsEveryByteOfRandomInput) {
  std::mt19937 rng(7);
  const std::string alphabet[] = {"a",    "Z",        " ",      "  ",    "\n", "\r\n",
                                  "\t",   "1",        "23",     "'s",    "!",  "`",
                                  "~",    "東",       "ह",      "्",      "é",  "\xF0\x9F\xA6\x99",
                                  "\xff", "\xe2\x82", "\u3000", "\u00a0"};
  for (std::string_view name : PreTokenizer::known_names()) {
    auto pre = PreTokenizer::for_name(name);
    for (int round = 0; round < 50; ++round) {
      std::string text;
      for (int i = rng() % 40; i > 0; --i) text += alphabet[rng() % std::size(alphabet)];
      std::string joined;
      for (auto piece : pre.split(text)) {
        EXPECT_FALSE(piece.empty()) << name;
        joined += piece;
      }
      EXPECT_EQ(joined, text) << name;
    }
  }
}

TEST(PreTokenizer, LongWhitespaceRunsStayFast) {
  // \s+$ and the (?!\S) look-ahead must not go quadratic on long runs.
  const std::string text = std::string(200000, ' ') + "x" + std::string(200000, '\n');
  for (std::string_view name : {"deepseek-llm", "llama3", "qwen2", "deepseek-v3", "gpt-2"}) {
    std::string joined;
    for (auto piece : PreTokenizer::for_name(name).split(text)) joined += piece;
    EXPECT_EQ(joined.size(), text.size()) << name;
  }
}

}  // namespace
}  // namespace sy::engine
