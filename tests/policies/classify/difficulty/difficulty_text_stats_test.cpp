// DifficultyTextStats::scan against a reference scanner: the plain first implementation (a
// lower-cased word copy looked up in a std::unordered_map, two-word cues by string compares),
// kept here as the oracle. The fast scanner must give the same counts on every labeled prompt
// and on generated text full of cue words, case changes, word-length edges, punctuation,
// numbers, options, fences and non-ASCII bytes, with and without a scan budget.

#include "classify/difficulty/difficulty_text_stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace sy::policies {
namespace {

using Cue = DifficultyCue;

const std::unordered_map<std::string_view, Cue>& reference_words() {
  static const std::unordered_map<std::string_view, Cue> table = [] {
    std::unordered_map<std::string_view, Cue> t;
    for (std::string_view w :
         {"solve",      "calculate",   "compute",    "equation",   "equations",    "integral",
          "derivative", "probability", "percent",    "percentage", "average",      "ratio",
          "fraction",   "prime",       "sqrt",       "theorem",    "matrix",       "vector",
          "polynomial", "factor",      "multiply",   "divide",     "divided",      "sum",
          "product",    "speed",       "mass",       "velocity",   "acceleration", "area",
          "meters",     "kilometers",  "km",         "kg",         "grams",        "degrees",
          "celsius",    "joules",      "newtons",    "density",    "volts",        "formula",
          "algebra",    "geometry",    "statistics", "expected"}) {
      t.emplace(w, Cue::math);
    }
    for (std::string_view w :
         {"why",        "explain",  "explains",  "prove",     "proof",      "reason",
          "reasoning",  "analyze",  "analyse",   "compare",   "derive",     "justify",
          "evaluate",   "infer",    "deduce",    "implies",   "hypothesis", "conclude",
          "conclusion", "argument", "therefore", "likely",    "cause",      "causes",
          "caused",     "effect",   "predict",   "determine", "tradeoffs",  "critique"}) {
      t.emplace(w, Cue::reasoning);
    }
    for (std::string_view w :
         {"code",   "function", "implement", "python",    "javascript", "typescript", "java",
          "rust",   "golang",   "sql",       "regex",     "algorithm",  "compile",    "debug",
          "bug",    "def",      "return",    "api",       "json",       "script",     "variable",
          "array",  "loop",     "recursion", "recursive", "complexity", "refactor",   "class",
          "struct", "query",    "assert"}) {
      t.emplace(w, Cue::code);
    }
    for (std::string_view w : {"must", "exactly", "only", "without", "format", "ensure", "strictly",
                               "require", "required", "limit", "maximum", "minimum", "constraint",
                               "constraints", "words", "bullet", "table"}) {
      t.emplace(w, Cue::constraint);
    }
    for (std::string_view w : {"not", "except", "least", "never", "none", "neither", "nor",
                               "cannot", "false", "incorrect", "unlike"}) {
      t.emplace(w, Cue::negation);
    }
    return t;
  }();
  return table;
}

std::optional<Cue> reference_pair(std::string_view first, std::string_view second) {
  if (first == "step" && second == "by") return Cue::reasoning;
  if (first == "most" && second == "likely") return Cue::reasoning;
  if (first == "best" && (second == "explains" || second == "describes")) return Cue::reasoning;
  if (first == "at" && (second == "least" || second == "most")) return Cue::constraint;
  if (first == "no" && (second == "more" || second == "longer")) return Cue::constraint;
  return std::nullopt;
}

bool ref_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool ref_letter(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

bool ref_option(std::string_view text, size_t i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  if (i < text.size() && text[i] == '(') {
    return i + 2 < text.size() && text[i + 1] >= 'A' && text[i + 1] <= 'J' && text[i + 2] == ')';
  }
  return i + 2 < text.size() && text[i] >= 'A' && text[i] <= 'J' &&
         (text[i + 1] == ')' || text[i + 1] == '.' || text[i + 1] == ':') && text[i + 2] == ' ';
}

void reference_scan(std::string_view text, size_t& budget, DifficultyTextStats& s) {
  s.chars += text.size();
  const std::string_view part = text.substr(0, std::min(text.size(), budget));
  budget -= part.size();
  s.scanned += part.size();
  const auto& table = reference_words();
  char word[16];
  size_t word_len = 0;
  char previous[16] = "";
  size_t i = 0;
  const size_t n = part.size();
  if (ref_option(part, 0)) ++s.options;
  auto end_word = [&] {
    if (word_len == 0) return;
    ++s.words;
    if (word_len >= 9) ++s.long_words;
    if (word_len < sizeof(word)) {
      const std::string_view w(word, word_len);
      if (auto cue = reference_pair(previous, w)) {
        ++s.cues[static_cast<size_t>(*cue)];
      } else if (auto it = table.find(w); it != table.end()) {
        ++s.cues[static_cast<size_t>(it->second)];
      }
      std::copy(word, word + word_len + 1, previous);
    } else {
      previous[0] = '\0';
    }
    word_len = 0;
  };
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(part[i]);
    if (ref_letter(c)) {
      if (word_len + 1 < sizeof(word)) word[word_len] = static_cast<char>(c | 0x20);
      ++word_len;
      if (word_len < sizeof(word)) word[word_len] = '\0';
      ++i;
      continue;
    }
    end_word();
    if (ref_digit(c)) {
      ++s.numbers;
      while (i < n && (ref_digit(static_cast<unsigned char>(part[i])) ||
                       ((part[i] == '.' || part[i] == ',') && i + 1 < n &&
                        ref_digit(static_cast<unsigned char>(part[i + 1]))))) {
        ++i;
      }
      continue;
    }
    if (c == '\n') {
      if (ref_option(part, i + 1)) ++s.options;
    } else if (c >= 0x80) {
      ++s.non_ascii;
    } else if (c == '?') {
      ++s.questions;
    } else if (c == '+' || c == '*' || c == '/' || c == '^' || c == '=' || c == '<' || c == '>' ||
               c == '%') {
      size_t before = i, after = i + 1;
      while (before > 0 && part[before - 1] == ' ') --before;
      while (after < n && part[after] == ' ') ++after;
      const bool by_digit =
          (before > 0 && ref_digit(static_cast<unsigned char>(part[before - 1]))) ||
          (after < n && ref_digit(static_cast<unsigned char>(part[after])));
      if (by_digit) ++s.math_symbols;
    } else if (c == '\\' && i + 1 < n && ref_letter(static_cast<unsigned char>(part[i + 1]))) {
      ++s.math_symbols;
    } else if (c == '`' && i + 2 < n && part[i + 1] == '`' && part[i + 2] == '`') {
      s.code_symbols += 3;
      i += 3;
      continue;
    } else if (c == '{' || c == '}' || c == ';') {
      ++s.code_symbols;
    }
    ++i;
  }
  end_word();
}

std::string describe(const DifficultyTextStats& s) {
  std::string out =
      "chars " + std::to_string(s.chars) + " scanned " + std::to_string(s.scanned) + " words " +
      std::to_string(s.words) + " long " + std::to_string(s.long_words) + " non_ascii " +
      std::to_string(s.non_ascii) + " numbers " + std::to_string(s.numbers) + " questions " +
      std::to_string(s.questions) + " math " + std::to_string(s.math_symbols) + " code " +
      std::to_string(s.code_symbols) + " options " + std::to_string(s.options) + " cues";
  for (size_t c : s.cues) out += " " + std::to_string(c);
  return out;
}

// Both scanners on `text` with `budget`; equal counts and equal budgets left.
void expect_same(std::string_view text, size_t budget = SIZE_MAX) {
  DifficultyTextStats fast, reference;
  size_t fast_budget = budget, reference_budget = budget;
  fast.scan(text, fast_budget);
  reference_scan(text, reference_budget, reference);
  EXPECT_EQ(fast, reference) << "text: " << text.substr(0, 200) << "\n fast: " << describe(fast)
                             << "\n  ref: " << describe(reference);
  EXPECT_EQ(fast_budget, reference_budget);
}

TEST(DifficultyTextStats, CountsTheDocumentedCues) {
  DifficultyTextStats s;
  size_t budget = SIZE_MAX;
  s.scan("Explain step by step: at least 3 * 4, AT MOST x^2, most likely; no longer ```code```",
         budget);
  // explain; "step by"; "most likely" -> reasoning. "at least", "at most", "no longer" ->
  // constraint (not "least" as a negation). "code" -> code.
  EXPECT_EQ(s.cues[static_cast<size_t>(Cue::reasoning)], 3u);
  EXPECT_EQ(s.cues[static_cast<size_t>(Cue::constraint)], 3u);
  EXPECT_EQ(s.cues[static_cast<size_t>(Cue::negation)], 0u);
  EXPECT_EQ(s.cues[static_cast<size_t>(Cue::code)], 1u);
  EXPECT_EQ(s.code_symbols, 7u);  // two fences and a ';'
  EXPECT_EQ(s.math_symbols, 2u);  // '*' and '^' next to digits
  EXPECT_EQ(s.numbers, 3u);
}

TEST(DifficultyTextStats, SameCountsAsTheReferenceOnEdgeCases) {
  for (std::string_view text : {
           "",
           "a",
           "?",
           "\n",
           "A) x",
           "(B) y",
           "\nC. z",
           "\n  D: w",
           "E)x",
           "K) no",
           "``",
           "```",
           "\\",
           "\\frac{1}{2}",
           "\\1",
           "3*4",
           "x ^ 2",
           "50 %",
           "= 5",
           "5 =",
           "1.5,000.25",
           "1..2",
           "3,",
           "step by",
           "step, by",
           "STEP BY",
           "step\nby",
           "step 4 by",
           "at least",
           "atleast",
           "at  most likely",
           "most likely",
           "best explains",
           "best describes",
           "no more",
           "no longer",
           "no, longer",
           "least",
           "at",
           "no",
           "stepby",
           "by step",
           "acceleration",
           "accelerations",
           "abcdefghijklm",
           "abcdefghijklmno",
           "abcdefghijklmnop at least",
           "abcdefghijklmnopqrstuvwxyz least",
           "at abcdefghijklmnopq least",
           "at abcdefghijklmno least",
           "café prove",
           "中文 solve",
           "\xff\xfe at least",
           "Solve 3 * 4 + x^2 = 20 and compute the integral.",
       }) {
    expect_same(text);
    for (size_t budget : {0, 1, 2, 5, 9}) expect_same(text, budget);
  }
}

TEST(DifficultyTextStats, SameCountsAsTheReferenceOnGeneratedText) {
  const std::vector<std::string> pieces = {
      "solve",
      "Compute",
      "INTEGRAL",
      "why",
      "Explains",
      "describes",
      "step",
      "by",
      "most",
      "likely",
      "best",
      "at",
      "least",
      "no",
      "more",
      "longer",
      "not",
      "neither",
      "python",
      "Assert",
      "must",
      "table",
      "the",
      "of",
      "acceleration",
      "accelerationx",
      "constraints",
      "abcdefghijklmnopqrst",
      "x",
      "km",
      " ",
      " ",
      " ",
      "  ",
      "\n",
      "\t",
      ",",
      ".",
      "?",
      "!",
      ";",
      "{",
      "}",
      "```",
      "`",
      "\\sum",
      "\\",
      "3",
      "42",
      "1.5",
      "2,000",
      "7.",
      "+",
      " * ",
      "^",
      "=",
      "<",
      ">",
      "%",
      "/",
      "A) ",
      "(C)",
      "\nB. ",
      "\nJ: ",
      "é",
      "ß",
      "日本",
      "\x80",
      "-",
      "'",
  };
  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
  for (int t = 0; t < 3000; ++t) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int k = 0; k < n; ++k) text += pieces[pick(rng)];
    expect_same(text);
    expect_same(text, rng() % (text.size() + 1));
    if (HasFailure()) return;
  }
}

TEST(DifficultyTextStats, SameCountsAsTheReferenceOnTheLabeledPrompts) {
  const std::string path =
      std::string(SWITCHYARD_SOURCE_DIR) + "/policies/classify/difficulty/data/labels.jsonl";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::string line;
  size_t texts = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto row = nlohmann::json::parse(line);
    for (const auto& m : row.at("request").at("messages")) {
      expect_same(m.at("content").get<std::string>());
      ++texts;
    }
    if (HasFailure()) return;
  }
  EXPECT_GT(texts, 1000u);
}

}  // namespace
}  // namespace sy::policies
