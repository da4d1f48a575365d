// Digit regions (see digit_regions.h): one pass over the bytes with a class table.

#include "classify/sensitivity/digit_regions.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace sy::policies::sensitivity_detail {

namespace {

enum : uint8_t { kOther = 0, kToken = 1, kDigit = 2, kSpace = 4, kUpper = 8 };

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> c{};
  for (int b = 'a'; b <= 'z'; ++b) c[b] = kToken;
  for (int b = 'A'; b <= 'Z'; ++b) c[b] = kToken | kUpper;
  for (int b = '0'; b <= '9'; ++b) c[b] = kToken | kDigit;
  for (char b : std::string_view("_.:-/()+,")) c[static_cast<uint8_t>(b)] = kToken;
  c[' '] = kSpace;
  return c;
}
constexpr std::array<uint8_t, 256> kClass = make_classes();

constexpr size_t kLongToken = 14;
constexpr size_t kBefore = 1;  // tokens that may join before an interesting one
constexpr size_t kAfter = 2;   // and after it

bool is_word(char c) {
  auto u = static_cast<uint8_t>(c);
  return (kClass[u] & (kDigit | kUpper)) || (c >= 'a' && c <= 'z') || c == '_';
}

struct Token {
  size_t begin;
  size_t end;
  bool interesting;
  bool prefix;  // 1-2 letters: a NINO's "AB", a NIE's "X"
  bool suffix;  // one letter (NINO, NIF, NIE) or 2-4 upper-case alphanumerics (IBAN group)
};

// Whether [first, last] of `chain` (token indices) can hold a region-scanned match.
bool qualifies(std::string_view text, const std::vector<Token>& chain, size_t first, size_t last) {
  size_t digits = 0;
  size_t dots = 0;
  bool zero_led = false;
  for (size_t t = first; t <= last; ++t) {
    const Token& tok = chain[t];
    if (tok.end - tok.begin >= kLongToken) return true;
    if (tok.end - tok.begin >= 4 && (kClass[static_cast<uint8_t>(text[tok.begin])] & kUpper) &&
        (kClass[static_cast<uint8_t>(text[tok.begin + 1])] & kUpper) &&
        (kClass[static_cast<uint8_t>(text[tok.begin + 2])] & kDigit) &&
        (kClass[static_cast<uint8_t>(text[tok.begin + 3])] & kDigit)) {
      return true;
    }
    for (size_t i = tok.begin; i < tok.end; ++i) {
      char c = text[i];
      if (kClass[static_cast<uint8_t>(c)] & kDigit) {
        ++digits;
        if (c == '0' && (i == 0 || !is_word(text[i - 1]))) zero_led = true;
      } else if (c == '.') {
        ++dots;
      }
    }
  }
  return digits >= 6 || (digits >= 4 && (zero_led || dots >= 3));
}

void emit_chain(std::string_view text, const std::vector<Token>& chain,
                std::vector<ByteRange>& out) {
  size_t n = chain.size();
  size_t i = 0;
  while (i < n) {
    if (!chain[i].interesting) {
      ++i;
      continue;
    }
    size_t first = i;
    if (first > 0 && chain[first - 1].prefix) --first;
    // Extend over interesting tokens and up to kAfter suffix tokens after each; a prefix token
    // may link to the next interesting one.
    size_t last = i;
    size_t j = i + 1;
    size_t since = 0;  // suffix tokens since the last interesting one
    while (j < n) {
      if (chain[j].interesting) {
        last = j;
        since = 0;
      } else if (chain[j].suffix && since < kAfter) {
        last = j;
        ++since;
      } else if (chain[j].prefix && j + 1 < n && chain[j + 1].interesting) {
        last = j;
      } else {
        break;
      }
      ++j;
    }
    static_assert(kBefore == 1);
    if (qualifies(text, chain, first, last)) {
      out.push_back({chain[first].begin, chain[last].end});
    }
    i = last + 1;
  }
}

}  // namespace

void find_digit_regions(std::string_view text, std::vector<ByteRange>& out) {
  std::vector<Token> chain;
  size_t n = text.size();
  size_t i = 0;
  bool any_interesting = false;
  while (i < n) {
    // Skip to the next token byte, noting whether the gap joins it to the chain.
    size_t gap_begin = i;
    while (i < n && !(kClass[static_cast<uint8_t>(text[i])] & kToken)) ++i;
    if (i >= n) break;
    bool joined = false;
    size_t gap = i - gap_begin;
    if (!chain.empty() && gap >= 1 && gap <= 2) {
      joined = text[gap_begin] == ' ' && text[i - 1] == ' ';
    }
    if (!joined && !chain.empty()) {
      if (any_interesting) emit_chain(text, chain, out);
      chain.clear();
      any_interesting = false;
    }
    size_t begin = i;
    bool digit = false;
    while (i < n) {
      uint8_t c = kClass[static_cast<uint8_t>(text[i])];
      if (!(c & kToken)) break;
      digit |= (c & kDigit) != 0;
      ++i;
    }
    size_t length = i - begin;
    bool interesting = digit || length >= kLongToken;
    any_interesting |= interesting;
    bool letters = !digit;
    bool upper = true;
    for (size_t k = begin; k < i && (letters || upper); ++k) {
      uint8_t c = kClass[static_cast<uint8_t>(text[k])];
      bool letter = (c & kUpper) || (text[k] >= 'a' && text[k] <= 'z');
      letters &= letter;
      upper &= (c & (kUpper | kDigit)) != 0;
    }
    bool prefix = letters && length <= 2;
    bool suffix = (letters && length == 1) || (upper && length <= 4);
    chain.push_back({begin, i, interesting, prefix, suffix});
  }
  if (any_interesting) emit_chain(text, chain, out);
}

}  // namespace sy::policies::sensitivity_detail
