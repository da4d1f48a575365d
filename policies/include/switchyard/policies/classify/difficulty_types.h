#pragma once
// The difficulty estimate's vocabulary: classes, the named features it is computed from, and
// the weights a policy file may set (`difficulty:` section, policy_loader.h). The classifier
// itself is classify/difficulty_classifier.h.
//
// score = 1 / (1 + exp(-(bias + sum_i weight_i * feature_i))), in [0, 1];
// class = hard if score >= hard_threshold, medium if score >= medium_threshold, else easy.
// Each feature's contribution is weight_i * feature_i (logit units), so an explanation can show
// which cues pushed a request towards the frontier model.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sy::policies {

enum class DifficultyClass : uint8_t { easy, medium, hard };
std::string_view to_string(DifficultyClass difficulty);
std::optional<DifficultyClass> parse_difficulty_class(std::string_view text);

// Every feature is cheap to compute from the request alone (no model, no tokenizer). Counts are
// log1p'd so that one weight fits short and long prompts alike.
enum class DifficultyFeature : uint8_t {
  log_chars,          // log1p(characters of all message text)
  log_words_last,     // log1p(words of the last user message)
  turns,              // log1p(user turns before the last one)
  system_prompt,      // 1 when a system/developer message is present
  math_cues,          // log1p(maths words, operators between numbers, LaTeX, units)
  numbers,            // log1p(numeric tokens)
  reasoning_cues,     // log1p("why", "explain", "prove", "step by step", "most likely", ...)
  code_cues,          // log1p(code fences, keywords, braces/semicolons, "implement", ...)
  constraint_cues,    // log1p("must", "exactly", "at least", "only", "format", ...)
  negation_cues,      // log1p("not", "except", "least", "never", ...)
  long_words,         // share of words of 9+ letters (technical vocabulary)
  non_ascii,          // share of non-ASCII bytes (a rough language signal)
  questions,          // log1p('?' count)
  max_tokens,         // log1p(requested max output tokens; 0 when unset)
  tools,              // log1p(tool definitions)
  structured_output,  // 1 when a JSON object/schema response is requested
  options,            // log1p(enumerated answer choices: lines that start "A)", "(B)", "C.")
};
inline constexpr size_t kDifficultyFeatureCount = 17;
inline constexpr std::array<std::string_view, kDifficultyFeatureCount> kDifficultyFeatureNames = {
    "log_chars",       "log_words_last", "turns",          "system_prompt",
    "math_cues",       "numbers",        "reasoning_cues", "code_cues",
    "constraint_cues", "negation_cues",  "long_words",     "non_ascii",
    "questions",       "max_tokens",     "tools",          "structured_output",
    "options"};
std::optional<DifficultyFeature> parse_difficulty_feature(std::string_view name);

using DifficultyVector = std::array<double, kDifficultyFeatureCount>;

struct DifficultyConfig {
  double bias = 0;
  DifficultyVector weights{};
  double medium_threshold = 0.5;  // score >= this: medium
  double hard_threshold = 0.75;   // score >= this: hard (>= medium_threshold)

  // The shipped weights and thresholds, fitted by scripts/fit_difficulty.py on the fitting split
  // of policies/classify/difficulty/data/ (difficulty_default_weights.cpp is its output).
  static DifficultyConfig defaults();
};

}  // namespace sy::policies
