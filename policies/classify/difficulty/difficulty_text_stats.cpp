// DifficultyTextStats::scan: one pass over the text with a byte-class table, and one lookup per
// word in a small open-addressed table keyed by a hash computed while the word is read (no
// copy, no lower-casing buffer, no std::hash): the per-word hash-map lookup was a third of a
// 2 KB routing decision's instructions.

#include "classify/difficulty/difficulty_text_stats.h"

#include <algorithm>
#include <array>
#include <cstdlib>

namespace sy::policies {

namespace {

constexpr uint8_t kNoCue = 0xff;

// Two-word cues: the first word's role, and on the second word a bit per first role it
// completes. "step by", "most likely", "best explains|describes" are reasoning; "at
// least|most", "no more|longer" constraints. The pair counts instead of the second word alone.
enum FirstWord : uint8_t { kNotFirst = 0, kStep = 1, kMost = 2, kBest = 3, kAt = 4, kNo = 5 };

DifficultyCue pair_cue(uint8_t first) {
  return first == kAt || first == kNo ? DifficultyCue::constraint : DifficultyCue::reasoning;
}

// Lower-case words that signal each kind of work. Kept short and generic: the weights, not this
// table, decide how much each kind counts.
constexpr std::string_view kMathWords[] = {
    "solve",        "calculate", "compute",    "equation",   "equations",  "integral", "derivative",
    "probability",  "percent",   "percentage", "average",    "ratio",      "fraction", "prime",
    "sqrt",         "theorem",   "matrix",     "vector",     "polynomial", "factor",   "multiply",
    "divide",       "divided",   "sum",        "product",    "speed",      "mass",     "velocity",
    "acceleration", "area",      "meters",     "kilometers", "km",         "kg",       "grams",
    "degrees",      "celsius",   "joules",     "newtons",    "density",    "volts",    "formula",
    "algebra",      "geometry",  "statistics", "expected"};
constexpr std::string_view kReasoningWords[] = {
    "why",        "explain",  "explains",  "prove",     "proof",      "reason",
    "reasoning",  "analyze",  "analyse",   "compare",   "derive",     "justify",
    "evaluate",   "infer",    "deduce",    "implies",   "hypothesis", "conclude",
    "conclusion", "argument", "therefore", "likely",    "cause",      "causes",
    "caused",     "effect",   "predict",   "determine", "tradeoffs",  "critique"};
constexpr std::string_view kCodeWords[] = {
    "code",   "function", "implement", "python",    "javascript", "typescript", "java",
    "rust",   "golang",   "sql",       "regex",     "algorithm",  "compile",    "debug",
    "bug",    "def",      "return",    "api",       "json",       "script",     "variable",
    "array",  "loop",     "recursion", "recursive", "complexity", "refactor",   "class",
    "struct", "query",    "assert"};
constexpr std::string_view kConstraintWords[] = {
    "must",       "exactly",     "only",     "without", "format",  "ensure",
    "strictly",   "require",     "required", "limit",   "maximum", "minimum",
    "constraint", "constraints", "words",    "bullet",  "table"};
constexpr std::string_view kNegationWords[] = {"not",   "except",    "least", "never",
                                               "none",  "neither",   "nor",   "cannot",
                                               "false", "incorrect", "unlike"};

constexpr size_t kMaxWordLetters = 12;  // the longest vocabulary word ("acceleration")

uint32_t step_hash(uint32_t h, unsigned char lower) { return h * 33 + lower; }

// A vocabulary word: its letters, its cue (kNoCue for words only in two-word cues) and its
// two-word roles. 512 slots for about 140 words: most lookups end at the first slot.
struct Slot {
  uint32_t hash = 0;
  uint8_t letters = 0;  // 0: empty slot
  uint8_t cue = kNoCue;
  uint8_t first = kNotFirst;  // FirstWord
  uint8_t completes = 0;      // bit per FirstWord
  std::array<char, kMaxWordLetters> word{};
};

class Vocabulary {
 public:
  Vocabulary() {
    auto add_all = [&](const auto& words, DifficultyCue cue) {
      for (std::string_view w : words) slot_for(w).cue = static_cast<uint8_t>(cue);
    };
    add_all(kMathWords, DifficultyCue::math);
    add_all(kReasoningWords, DifficultyCue::reasoning);
    add_all(kCodeWords, DifficultyCue::code);
    add_all(kConstraintWords, DifficultyCue::constraint);
    add_all(kNegationWords, DifficultyCue::negation);
    slot_for("step").first = kStep;
    slot_for("most").first = kMost;
    slot_for("best").first = kBest;
    slot_for("at").first = kAt;
    slot_for("no").first = kNo;
    slot_for("by").completes |= 1u << kStep;
    slot_for("likely").completes |= 1u << kMost;
    slot_for("explains").completes |= 1u << kBest;
    slot_for("describes").completes |= 1u << kBest;
    slot_for("least").completes |= 1u << kAt;
    slot_for("most").completes |= 1u << kAt;
    slot_for("more").completes |= 1u << kNo;
    slot_for("longer").completes |= 1u << kNo;
  }

  // The slot of the word `letters` (ASCII letters, any case; at most kMaxWordLetters) whose
  // step_hash over its lower-cased letters is `hash`, or nullptr.
  const Slot* find(uint32_t hash, const unsigned char* letters, size_t n) const {
    for (uint32_t i = index(hash);; i = (i + 1) & kMask) {
      const Slot& s = slots_[i];
      if (s.letters == 0) return nullptr;
      if (s.hash == hash && s.letters == n && same_word(s, letters, n)) return &s;
    }
  }

 private:
  static constexpr uint32_t kBits = 9;
  static constexpr uint32_t kMask = (1u << kBits) - 1;

  static uint32_t index(uint32_t hash) { return (hash * 0x9E3779B1u) >> (32 - kBits); }

  static bool same_word(const Slot& s, const unsigned char* letters, size_t n) {
    for (size_t k = 0; k < n; ++k) {
      if (static_cast<char>(letters[k] | 0x20) != s.word[k]) return false;
    }
    return true;
  }

  // The slot holding `w` (inserted if new; an existing word keeps its cue, as a word listed
  // twice keeps its first list).
  Slot& slot_for(std::string_view w) {
    if (w.empty() || w.size() > kMaxWordLetters) std::abort();  // raise kMaxWordLetters
    uint32_t hash = 0;
    for (char c : w) hash = step_hash(hash, static_cast<unsigned char>(c));
    for (uint32_t i = index(hash);; i = (i + 1) & kMask) {
      Slot& s = slots_[i];
      if (s.letters == 0) {
        s.hash = hash;
        s.letters = static_cast<uint8_t>(w.size());
        std::copy(w.begin(), w.end(), s.word.begin());
        return s;
      }
      if (std::string_view(s.word.data(), s.letters) == w) return s;
    }
  }

  std::array<Slot, 1u << kBits> slots_{};
};

const Vocabulary& vocabulary() {
  static const Vocabulary v;
  return v;
}

// What each byte starts.
enum ByteClass : uint8_t {
  kOther,
  kLetter,      // A-Z a-z
  kDigit,       // 0-9
  kNewline,     // an option may start the next line
  kHigh,        // >= 0x80: non-ASCII
  kQuestion,    // '?'
  kOperator,    // + * / ^ = < > %: arithmetic when next to a digit
  kBackslash,   // a LaTeX command when a letter follows
  kBacktick,    // a code fence when three
  kCodeSymbol,  // { } ;
};

constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = kLetter;
  for (int c = '0'; c <= '9'; ++c) t[c] = kDigit;
  for (int c = 0x80; c < 0x100; ++c) t[c] = kHigh;
  t['\n'] = kNewline;
  t['?'] = kQuestion;
  for (unsigned char c : {'+', '*', '/', '^', '=', '<', '>', '%'}) t[c] = kOperator;
  t['\\'] = kBackslash;
  t['`'] = kBacktick;
  t['{'] = t['}'] = t[';'] = kCodeSymbol;
  return t;
}();

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

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

}  // namespace

void DifficultyTextStats::scan(std::string_view text, size_t& budget) {
  chars += text.size();
  const std::string_view part = text.substr(0, std::min(text.size(), budget));
  budget -= part.size();
  scanned += part.size();
  const auto* p = reinterpret_cast<const unsigned char*>(part.data());
  const size_t n = part.size();
  const Vocabulary& vocab = vocabulary();

  uint8_t previous_first = kNotFirst;  // the word before: first word of a two-word cue?
  if (starts_option(part, 0)) ++options;
  size_t i = 0;
  while (i < n) {
    switch (kByteClass[p[i]]) {
      case kLetter: {
        const size_t start = i;
        uint32_t hash = 0;
        do {
          hash = step_hash(hash, p[i] | 0x20);
          ++i;
        } while (i < n && kByteClass[p[i]] == kLetter);
        const size_t letters = i - start;
        ++words;
        if (letters >= 9) ++long_words;
        uint8_t first = kNotFirst;
        if (letters <= kMaxWordLetters) {
          if (const Slot* w = vocab.find(hash, p + start, letters)) {
            if (previous_first != kNotFirst && ((w->completes >> previous_first) & 1u)) {
              ++cues[static_cast<size_t>(pair_cue(previous_first))];
            } else if (w->cue != kNoCue) {
              ++cues[w->cue];
            }
            first = w->first;
          }
        }
        previous_first = first;
        continue;
      }
      case kDigit:
        ++numbers;
        while (i < n && (is_digit(p[i]) ||
                         ((p[i] == '.' || p[i] == ',') && i + 1 < n && is_digit(p[i + 1])))) {
          ++i;
        }
        continue;
      case kNewline:
        if (starts_option(part, i + 1)) ++options;
        break;
      case kHigh:
        ++non_ascii;
        break;
      case kQuestion:
        ++questions;
        break;
      case kOperator: {
        // An operator next to a number ("3 * 4", "x^2", "50%") is arithmetic, not prose.
        size_t before = i, after = i + 1;
        while (before > 0 && p[before - 1] == ' ') --before;
        while (after < n && p[after] == ' ') ++after;
        if ((before > 0 && is_digit(p[before - 1])) || (after < n && is_digit(p[after]))) {
          ++math_symbols;
        }
        break;
      }
      case kBackslash:
        if (i + 1 < n && kByteClass[p[i + 1]] == kLetter) ++math_symbols;  // \frac, \sum
        break;
      case kBacktick:
        if (i + 2 < n && p[i + 1] == '`' && p[i + 2] == '`') {
          code_symbols += 3;  // a fence counts as much as a few keywords
          i += 3;
          continue;
        }
        break;
      case kCodeSymbol:
        ++code_symbols;
        break;
      default:
        break;
    }
    ++i;
  }
}

}  // namespace sy::policies
