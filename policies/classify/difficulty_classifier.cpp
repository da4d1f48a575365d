// DifficultyClassifier: features of a request -> logistic score -> class. See
// difficulty_classifier.h for the contract and difficulty_types.h for the features.

#include "switchyard/policies/classify/difficulty_classifier.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace sy::policies {

namespace {

using backends::ChatRequest;
using backends::ContentPart;
using backends::Message;
using backends::Role;

enum class Cue : uint8_t { math, reasoning, code, constraint, negation };

// Lower-case words that signal each kind of work. Kept short and generic: the weights, not this
// table, decide how much each kind counts.
const std::unordered_map<std::string_view, Cue>& cue_words() {
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

// Two-word cues ("step by step", "at least") counted on the second word.
std::optional<Cue> bigram_cue(std::string_view first, std::string_view second) {
  if (first == "step" && second == "by") return Cue::reasoning;
  if (first == "most" && second == "likely") return Cue::reasoning;
  if (first == "best" && (second == "explains" || second == "describes")) return Cue::reasoning;
  if (first == "at" && (second == "least" || second == "most")) return Cue::constraint;
  if (first == "no" && (second == "more" || second == "longer")) return Cue::constraint;
  return std::nullopt;
}

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_letter(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

// An answer choice starts a line: "A) ...", "(B) ...", "C. ...", "D: ..." with a capital A-J.
// Multiple-choice prompts differ from open questions in how often a small model gets them right.
bool starts_option(std::string_view text, size_t i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  if (i < text.size() && text[i] == '(') {
    return i + 2 < text.size() && text[i + 1] >= 'A' && text[i + 1] <= 'J' && text[i + 2] == ')';
  }
  return i + 2 < text.size() && text[i] >= 'A' && text[i] <= 'J' &&
         (text[i + 1] == ')' || text[i + 1] == '.' || text[i + 1] == ':') && text[i + 2] == ' ';
}

struct TextStats {
  size_t chars = 0;  // everything, scanned or not
  size_t scanned = 0;
  size_t words = 0;
  size_t long_words = 0;
  size_t non_ascii = 0;
  size_t numbers = 0;
  size_t questions = 0;
  size_t math_symbols = 0;
  size_t code_symbols = 0;
  size_t options = 0;
  std::array<size_t, 5> cues{};
};

// One pass over `text` (up to `budget` bytes of it); `budget` shrinks by what was scanned.
void scan(std::string_view text, size_t& budget, TextStats& s) {
  s.chars += text.size();
  const std::string_view part = text.substr(0, std::min(text.size(), budget));
  budget -= part.size();
  s.scanned += part.size();
  const auto& table = cue_words();

  char word[16];  // (15 lower-case letters + NUL) cue words are shorter; longer words only count
  size_t word_len = 0;
  char previous[16] = "";
  size_t i = 0;
  const size_t n = part.size();
  if (starts_option(part, 0)) ++s.options;
  auto end_word = [&] {
    if (word_len == 0) return;
    ++s.words;
    if (word_len >= 9) ++s.long_words;
    if (word_len < sizeof(word)) {
      // A two-word cue wins over its second word alone ("at least" is a constraint, "least"
      // on its own a negation).
      const std::string_view w(word, word_len);
      if (auto cue = bigram_cue(previous, w)) {
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
    if (is_letter(c)) {
      if (word_len + 1 < sizeof(word)) word[word_len] = static_cast<char>(c | 0x20);
      ++word_len;
      if (word_len < sizeof(word)) word[word_len] = '\0';
      ++i;
      continue;
    }
    end_word();
    if (is_digit(c)) {
      ++s.numbers;
      while (i < n && (is_digit(static_cast<unsigned char>(part[i])) ||
                       ((part[i] == '.' || part[i] == ',') && i + 1 < n &&
                        is_digit(static_cast<unsigned char>(part[i + 1]))))) {
        ++i;
      }
      continue;
    }
    if (c == '\n') {
      if (starts_option(part, i + 1)) ++s.options;
    } else if (c >= 0x80) {
      ++s.non_ascii;
    } else if (c == '?') {
      ++s.questions;
    } else if (c == '+' || c == '*' || c == '/' || c == '^' || c == '=' || c == '<' || c == '>' ||
               c == '%') {
      // An operator next to a number ("3 * 4", "x^2", "50%") is arithmetic, not prose.
      size_t before = i, after = i + 1;
      while (before > 0 && part[before - 1] == ' ') --before;
      while (after < n && part[after] == ' ') ++after;
      const bool by_digit =
          (before > 0 && is_digit(static_cast<unsigned char>(part[before - 1]))) ||
          (after < n && is_digit(static_cast<unsigned char>(part[after])));
      if (by_digit) ++s.math_symbols;
    } else if (c == '\\' && i + 1 < n && is_letter(static_cast<unsigned char>(part[i + 1]))) {
      ++s.math_symbols;  // a LaTeX command (\frac, \sum)
    } else if (c == '`' && i + 2 < n && part[i + 1] == '`' && part[i + 2] == '`') {
      s.code_symbols += 3;  // a fence counts as much as a few keywords
      i += 3;
      continue;
    } else if (c == '{' || c == '}' || c == ';') {
      ++s.code_symbols;
    }
    ++i;
  }
  end_word();
}

void scan_message(const Message& m, size_t& budget, TextStats& s) {
  for (const ContentPart& part : m.content) {
    if (part.kind == ContentPart::Kind::text) scan(part.text, budget, s);
  }
  for (const auto& call : m.tool_calls) scan(call.arguments, budget, s);
}

double log1p_count(size_t n) { return std::log1p(static_cast<double>(n)); }

}  // namespace

std::string_view to_string(DifficultyClass difficulty) {
  switch (difficulty) {
    case DifficultyClass::easy:
      return "easy";
    case DifficultyClass::medium:
      return "medium";
    case DifficultyClass::hard:
      return "hard";
  }
  return "easy";
}

std::optional<DifficultyClass> parse_difficulty_class(std::string_view text) {
  if (text == "easy") return DifficultyClass::easy;
  if (text == "medium") return DifficultyClass::medium;
  if (text == "hard") return DifficultyClass::hard;
  return std::nullopt;
}

std::optional<DifficultyFeature> parse_difficulty_feature(std::string_view name) {
  for (size_t i = 0; i < kDifficultyFeatureNames.size(); ++i) {
    if (kDifficultyFeatureNames[i] == name) return static_cast<DifficultyFeature>(i);
  }
  return std::nullopt;
}

DifficultyVector extract_difficulty_features(const ChatRequest& request) {
  // The last user message is scanned first so that its cues are always counted, whatever the
  // length of the history before it.
  size_t last_user = request.messages.size();
  size_t users = 0;
  bool system = false;
  for (size_t i = 0; i < request.messages.size(); ++i) {
    const Role role = request.messages[i].role;
    if (role == Role::user) {
      ++users;
      last_user = i;
    }
    if (role == Role::system || role == Role::developer) system = true;
  }

  size_t budget = kCueScanBytes;
  TextStats all;
  TextStats last;
  if (last_user < request.messages.size()) {
    scan_message(request.messages[last_user], budget, last);
  } else if (!request.prompt.empty()) {
    scan(request.prompt, budget, last);
    users = 1;
  }
  all = last;
  for (size_t i = 0; i < request.messages.size(); ++i) {
    if (i != last_user) scan_message(request.messages[i], budget, all);
  }

  // Words of the last message beyond the scanned part, estimated from its average word length.
  double last_words = static_cast<double>(last.words);
  if (last.scanned > 0 && last.chars > last.scanned) {
    last_words *= static_cast<double>(last.chars) / static_cast<double>(last.scanned);
  }
  const double scanned = std::max<double>(1.0, static_cast<double>(all.scanned));
  const double words = std::max<double>(1.0, static_cast<double>(all.words));
  const auto cue = [&](Cue c) { return all.cues[static_cast<size_t>(c)]; };

  DifficultyVector f{};
  auto set = [&](DifficultyFeature feature, double value) {
    f[static_cast<size_t>(feature)] = value;
  };
  set(DifficultyFeature::log_chars, log1p_count(all.chars));
  set(DifficultyFeature::log_words_last, std::log1p(last_words));
  set(DifficultyFeature::turns, log1p_count(users > 1 ? users - 1 : 0));
  set(DifficultyFeature::system_prompt, system ? 1.0 : 0.0);
  set(DifficultyFeature::math_cues, log1p_count(cue(Cue::math) + all.math_symbols));
  set(DifficultyFeature::numbers, log1p_count(all.numbers));
  set(DifficultyFeature::reasoning_cues, log1p_count(cue(Cue::reasoning)));
  set(DifficultyFeature::code_cues, log1p_count(cue(Cue::code) + all.code_symbols));
  set(DifficultyFeature::constraint_cues, log1p_count(cue(Cue::constraint)));
  set(DifficultyFeature::negation_cues, log1p_count(cue(Cue::negation)));
  set(DifficultyFeature::long_words, static_cast<double>(all.long_words) / words);
  set(DifficultyFeature::non_ascii, static_cast<double>(all.non_ascii) / scanned);
  set(DifficultyFeature::questions, log1p_count(all.questions));
  set(DifficultyFeature::max_tokens,
      std::log1p(static_cast<double>(std::max<int64_t>(0, request.max_tokens.value_or(0)))));
  set(DifficultyFeature::tools, log1p_count(request.tools.size()));
  using Format = backends::ResponseFormat::Type;
  const Format format = request.response_format.type;
  set(DifficultyFeature::structured_output,
      format == Format::json_object || format == Format::json_schema ? 1.0 : 0.0);
  set(DifficultyFeature::options, log1p_count(all.options));
  return f;
}

DifficultyResult DifficultyClassifier::score(const DifficultyVector& features) const {
  DifficultyResult r;
  r.logit = config_.bias;
  r.contributions.reserve(kDifficultyFeatureCount);
  for (size_t i = 0; i < kDifficultyFeatureCount; ++i) {
    const double contribution = config_.weights[i] * features[i];
    r.logit += contribution;
    r.contributions.push_back({static_cast<DifficultyFeature>(i), features[i], contribution});
  }
  std::stable_sort(r.contributions.begin(), r.contributions.end(),
                   [](const DifficultyContribution& a, const DifficultyContribution& b) {
                     return std::abs(a.contribution) > std::abs(b.contribution);
                   });
  r.score = 1.0 / (1.0 + std::exp(-r.logit));
  if (r.score >= config_.hard_threshold) {
    r.difficulty = DifficultyClass::hard;
  } else if (r.score >= config_.medium_threshold) {
    r.difficulty = DifficultyClass::medium;
  } else {
    r.difficulty = DifficultyClass::easy;
  }
  return r;
}

DifficultyResult DifficultyClassifier::classify(const ChatRequest& request) const {
  return score(extract_difficulty_features(request));
}

}  // namespace sy::policies
