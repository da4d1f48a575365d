// Helpers shared by the validator families.

#include <array>
#include <cmath>
#include <string>

#include "classify/sensitivity/validators/validators.h"

namespace sy::policies::sensitivity_detail {

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string digits_in(std::string_view text, size_t begin, size_t end) {
  // Counted first and written into place: one allocation at most, no per-byte growth check.
  size_t n = 0;
  for (size_t i = begin; i < end; ++i) n += is_digit(text[i]) ? 1 : 0;
  std::string out(n, '0');
  for (size_t i = begin, k = 0; k < n; ++i) {
    if (is_digit(text[i])) out[k++] = text[i];
  }
  return out;
}

// `hay` is already lower-cased; `word` is lower case.
static bool contains_word(std::string_view hay, std::string_view word) {
  if (word.empty() || hay.size() < word.size()) return false;
  for (size_t i = hay.find(word); i != std::string_view::npos; i = hay.find(word, i + 1)) {
    // Whole words only: "sin" must not fire inside "using".
    bool left_ok = i == 0 || !is_alnum(hay[i - 1]);
    bool right_ok = i + word.size() == hay.size() || !is_alnum(hay[i + word.size()]);
    if (left_ok && right_ok) return true;
  }
  return false;
}

bool has_context(std::string_view text, size_t begin, size_t end,
                 std::initializer_list<std::string_view> keywords, size_t window, size_t after) {
  size_t from = begin > window ? begin - window : 0;
  size_t behind = std::min(after, text.size() - end);
  // Both sides lower-cased once, not once per keyword and offset (this was ~8% of a scan's
  // instructions on digit-dense text).
  std::array<char, 256> small;
  std::string large;
  size_t n = (begin - from) + behind;
  char* lowered = small.data();
  if (n > small.size()) {
    large.resize(n);
    lowered = large.data();
  }
  for (size_t i = from; i < begin; ++i) *lowered++ = lower(text[i]);
  for (size_t i = end; i < end + behind; ++i) *lowered++ = lower(text[i]);
  lowered -= n;
  std::string_view before_view(lowered, begin - from);
  std::string_view behind_view(lowered + (begin - from), behind);
  for (std::string_view k : keywords) {
    if (contains_word(before_view, k) || contains_word(behind_view, k)) return true;
  }
  return false;
}

double shannon_entropy(std::string_view s) {
  if (s.empty()) return 0.0;
  std::array<size_t, 256> counts{};
  for (unsigned char c : s) ++counts[c];
  double h = 0.0;
  for (size_t n : counts) {
    if (n == 0) continue;
    double p = static_cast<double>(n) / static_cast<double>(s.size());
    h -= p * std::log2(p);
  }
  return h;
}

bool standalone(std::string_view text, size_t begin, size_t end) {
  bool left_ok = begin == 0 || !is_word_byte(text[begin - 1]);
  bool right_ok = end >= text.size() || !is_word_byte(text[end]);
  return left_ok && right_ok;
}

bool embedded(std::string_view text, size_t begin, size_t end) {
  auto joiner = [](char c) { return c == '-' || c == '.' || c == '/' || c == '_'; };
  bool left = begin >= 2 && joiner(text[begin - 1]) && is_alnum(text[begin - 2]);
  bool right = end + 1 < text.size() && joiner(text[end]) && is_alnum(text[end + 1]);
  return left || right;
}

std::optional<Hit> accept(std::string_view, size_t begin, size_t end) {
  return Hit{begin, end, 0.95};
}

}  // namespace sy::policies::sensitivity_detail
