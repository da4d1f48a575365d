// Payment cards: Luhn (ISO/IEC 7812-1 annex B) plus issuer (IIN) ranges and lengths.

#include <algorithm>
#include <array>
#include <span>
#include <vector>

#include "classify/sensitivity/validators/validators.h"

namespace sy::policies::sensitivity_detail {

bool luhn_valid(std::string_view digits) {
  if (digits.empty()) return false;
  // Every second digit from the right doubled, its digits summed: a table instead of branches.
  static constexpr int kDoubled[10] = {0, 2, 4, 6, 8, 1, 3, 5, 7, 9};
  int sum = 0;
  const size_t n = digits.size();
  for (size_t k = 0; k < n; ++k) {  // k: position from the right
    auto d = static_cast<unsigned>(digits[n - 1 - k] - '0');
    if (d > 9) return false;
    sum += (k & 1) ? kDoubled[d] : static_cast<int>(d);
  }
  return sum % 10 == 0;
}

namespace {

int prefix_value(std::string_view digits, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n && i < digits.size(); ++i) v = v * 10 + (digits[i] - '0');
  return v;
}

struct IssuerRange {
  std::string_view scheme;
  size_t prefix_len;
  int low, high;  // inclusive range of the first prefix_len digits
  size_t min_len, max_len;
};

// Major schemes' published IIN ranges; checked in order, more specific ranges first.
constexpr IssuerRange kIssuers[] = {
    {"amex", 2, 34, 34, 15, 15},         {"amex", 2, 37, 37, 15, 15},
    {"diners", 3, 300, 305, 14, 19},     {"diners", 2, 36, 36, 14, 19},
    {"diners", 2, 38, 39, 14, 19},       {"jcb", 4, 3528, 3589, 16, 19},
    {"visa", 1, 4, 4, 13, 19},  // 13 (legacy), 16, 19
    {"mastercard", 2, 51, 55, 16, 16},   {"mastercard", 4, 2221, 2720, 16, 16},
    {"discover", 4, 6011, 6011, 16, 19}, {"discover", 3, 644, 649, 16, 19},
    {"discover", 2, 65, 65, 16, 19},     {"unionpay", 2, 62, 62, 16, 19},
    {"maestro", 2, 50, 50, 12, 19},      {"maestro", 2, 56, 69, 12, 19},
    {"mir", 4, 2200, 2204, 16, 19},
};

}  // namespace

std::string_view card_issuer(std::string_view digits) {
  for (const IssuerRange& r : kIssuers) {
    if (digits.size() < r.min_len || digits.size() > r.max_len) continue;
    int v = prefix_value(digits, r.prefix_len);
    if (v >= r.low && v <= r.high) return r.scheme;
  }
  return {};
}

std::optional<Hit> validate_payment_card(std::string_view text, size_t begin, size_t end) {
  // Digit groups of the candidate and the separator before each. The leftmost-start match
  // may have swallowed a neighbouring number ("ref 12 4111 1111 1111 1111"), so every run
  // of whole groups is tried, longest first.
  struct Group {
    size_t begin, end;
    char sep_before;
  };
  // On the stack: the pattern allows at most 19 digits, so at most 19 groups (a longer list,
  // from a caller other than the pattern, goes to the heap).
  std::array<Group, 19> small;
  std::vector<Group> large;
  std::span<Group> groups;
  size_t count = 0;
  char sep = 0;
  for (size_t i = begin; i < end;) {
    if (is_digit(text[i])) {
      size_t j = i;
      while (j < end && is_digit(text[j])) ++j;
      if (count < small.size()) {
        small[count] = {i, j, sep};
      } else {
        if (large.empty()) large.assign(small.begin(), small.end());
        large.push_back({i, j, sep});
      }
      ++count;
      i = j;
      sep = 0;
    } else {
      sep = text[i++];
    }
  }
  groups = large.empty() ? std::span<Group>(small.data(), count) : std::span<Group>(large);
  // Digits before each group, so that a run's digit count is one subtraction.
  std::array<size_t, 20> small_before;
  std::vector<size_t> large_before;
  size_t* before = small_before.data();
  if (groups.size() + 1 > small_before.size()) {
    large_before.resize(groups.size() + 1);
    before = large_before.data();
  }
  before[0] = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    before[g + 1] = before[g] + (groups[g].end - groups[g].begin);
  }
  for (size_t count = groups.size(); count > 0; --count) {
    for (size_t first = 0; first + count <= groups.size(); ++first) {
      size_t last = first + count - 1;
      // Runs of the wrong length fail below whatever their digits: counted first, as most
      // runs of a candidate's groups are too short.
      const size_t total = before[last + 1] - before[first];
      if (total < 12 || total > 19) continue;
      // The digits in a stack buffer: cards have at most 19, and this runs for every run of
      // groups of every candidate.
      std::array<char, 19> buffer;
      size_t length = 0;
      bool separators_consistent = true;
      char seen = 0;
      for (size_t g = first; g <= last && length <= buffer.size(); ++g) {
        if (g > first) {
          if (seen == 0) seen = groups[g].sep_before;
          if (groups[g].sep_before != seen) separators_consistent = false;
        }
        size_t n = groups[g].end - groups[g].begin;
        if (length + n > buffer.size()) {
          length = buffer.size() + 1;  // too long for a card
          break;
        }
        std::copy_n(text.data() + groups[g].begin, n, buffer.data() + length);
        length += n;
      }
      if (!separators_consistent || length < 12 || length > 19) continue;
      std::string_view digits(buffer.data(), length);
      if (!luhn_valid(digits)) continue;
      std::string_view scheme = card_issuer(digits);
      if (scheme.empty()) continue;
      if (!standalone(text, groups[first].begin, groups[last].end)) continue;
      if (embedded(text, groups[first].begin, groups[last].end)) continue;
      // One random digit run in ten passes Luhn: a bare run of an unusual length (a 14-digit
      // order id in a Maestro range) counts fully only next to a payment word.
      bool usual = count > 1 || digits.size() == 16 || (scheme == "amex" && digits.size() == 15);
      bool context = has_context(text, groups[first].begin, groups[last].end,
                                 {"card", "credit", "debit", "visa", "mastercard", "amex", "cc",
                                  "pan", "payment", "karte", "tarjeta", "carte"});
      return Hit{groups[first].begin, groups[last].end, (usual || context) ? 0.95 : 0.45};
    }
  }
  return std::nullopt;
}

}  // namespace sy::policies::sensitivity_detail
