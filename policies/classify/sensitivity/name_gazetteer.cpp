// NameGazetteer (see name_gazetteer.h).

#include "classify/sensitivity/name_gazetteer.h"

#include <algorithm>
#include <bit>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sy::policies::sensitivity_detail {

namespace {

// vectorscan's \b without UCP: word bytes are ASCII letters, digits and '_'.
bool word_byte(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool upper(char c) { return c >= 'A' && c <= 'Z'; }
bool lower(char c) { return c >= 'a' && c <= 'z'; }

}  // namespace

NameGazetteer::NameGazetteer(std::string_view alternation) {
  for (size_t from = 0; from <= alternation.size();) {
    size_t bar = std::min(alternation.find('|', from), alternation.size());
    if (bar > from) names_.emplace_back(alternation.substr(from, bar - from));
    from = bar + 1;
  }
  for (const std::string& name : names_) {
    set_.insert(name);
    last_byte_[static_cast<unsigned char>(name.back())] = true;
    if (std::find(lengths_.begin(), lengths_.end(), name.size()) == lengths_.end()) {
      lengths_.push_back(name.size());
    }
  }
  std::sort(lengths_.rbegin(), lengths_.rend());
}

void NameGazetteer::find(std::string_view text, unsigned id, std::vector<PatternMatch>& out) const {
  const size_t n = text.size();
  if (n < 5) return;
  // At `p` (a space with " Xyy" from it): the longest name ending at `p` that starts at a
  // word boundary.
  auto at_space = [&](size_t p) {
    if (p == 0 || !last_byte_[static_cast<unsigned char>(text[p - 1])]) return;
    for (size_t length : lengths_) {  // longest first: the leftmost start
      if (length > p) continue;
      size_t begin = p - length;
      if (begin > 0 && word_byte(text[begin - 1])) continue;
      if (!set_.contains(text.substr(begin, length))) continue;
      out.push_back({id, begin, p + 4});
      return;
    }
  };
  const size_t last = n - 4;  // the last position " Xyy" can start at
  size_t p = 0;
#if defined(__SSE2__)
  // Sixteen positions at a time: space at p, capital at p+1, lower case at p+2 and p+3.
  auto in = [](__m128i x, char lo, char hi) {
    return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>(lo - 1))),
                         _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>(hi + 1))));
  };
  for (; p + 19 <= n; p += 16) {
    const char* b = text.data() + p;
    __m128i space = _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)),
                                   _mm_set1_epi8(' '));
    __m128i cap = in(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 1)), 'A', 'Z');
    __m128i l2 = in(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2)), 'a', 'z');
    __m128i l3 = in(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 3)), 'a', 'z');
    auto hits = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_and_si128(_mm_and_si128(space, cap), _mm_and_si128(l2, l3))));
    while (hits != 0) {
      at_space(p + static_cast<size_t>(std::countr_zero(hits)));
      hits &= hits - 1;
    }
  }
#endif
  for (; p <= last; ++p) {
    if (text[p] == ' ' && upper(text[p + 1]) && lower(text[p + 2]) && lower(text[p + 3])) {
      at_space(p);
    }
  }
}

}  // namespace sy::policies::sensitivity_detail
