#pragma once
// DifficultyTextStats: the counts the difficulty features are computed from, gathered in one
// pass over a piece of request text (difficulty_classifier.cpp turns them into features).
//
// Contract of scan(): words are maximal runs of ASCII letters; a word of at most 15 letters is
// looked up (lower-cased) in the cue vocabulary, and a two-word cue ("step by", "at least",
// "most likely", "best explains", "no more"...) counts instead of its second word. Numbers are
// digit runs (with inner '.' or ','), options are lines starting "A) ", "(B)", "C. ", "D: ".
// Only the first `budget` bytes are scanned and `budget` shrinks by what was; `chars` counts
// everything. Private to the policies library; tests check it against a reference scanner.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sy::policies {

enum class DifficultyCue : uint8_t { math, reasoning, code, constraint, negation };
inline constexpr size_t kDifficultyCueKinds = 5;

struct DifficultyTextStats {
  size_t chars = 0;  // everything, scanned or not
  size_t scanned = 0;
  size_t words = 0;
  size_t long_words = 0;  // words of 9+ letters
  size_t non_ascii = 0;   // bytes >= 0x80
  size_t numbers = 0;
  size_t questions = 0;
  size_t math_symbols = 0;  // operators next to a digit, LaTeX commands
  size_t code_symbols = 0;  // braces, semicolons, code fences (3 each)
  size_t options = 0;
  std::array<size_t, kDifficultyCueKinds> cues{};  // by DifficultyCue

  // Adds the counts of `text` (its first `budget` bytes for everything but `chars`).
  void scan(std::string_view text, size_t& budget);

  bool operator==(const DifficultyTextStats&) const = default;
};

}  // namespace sy::policies
