#include "micro_dollars.h"

#include <limits>

namespace sy::gateway {

std::optional<int64_t> parse_micro_dollars(std::string_view text) {
  constexpr int kFractionDigits = 6;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 10;
  if (text.starts_with('+')) text.remove_prefix(1);
  int64_t whole = 0;
  size_t i = 0;
  size_t whole_digits = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++whole_digits) {
    whole = whole * 10 + (text[i] - '0');
    if (whole > kMax / 1'000'000) return std::nullopt;
  }
  int64_t fraction = 0;
  int fraction_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    size_t digits_after_point = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits_after_point) {
      if (fraction_digits < kFractionDigits) {
        fraction = fraction * 10 + (text[i] - '0');
        ++fraction_digits;
      } else if (text[i] != '0') {
        return std::nullopt;  // finer than a micro-dollar: refuse rather than round
      }
    }
    if (digits_after_point == 0 && whole_digits == 0) return std::nullopt;
  } else if (whole_digits == 0) {
    return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  for (; fraction_digits < kFractionDigits; ++fraction_digits) fraction *= 10;
  return whole * 1'000'000 + fraction;
}

}  // namespace sy::gateway
