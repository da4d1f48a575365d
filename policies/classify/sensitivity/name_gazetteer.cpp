// NameGazetteer (see name_gazetteer.h).

#include "classify/sensitivity/name_gazetteer.h"

#include <algorithm>
#include <bit>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "classify/sensitivity/cpu_has_avx2.h"

namespace sy::policies::sensitivity_detail {

namespace {

// vectorscan's \b without UCP: word bytes are ASCII letters, digits and '_'.
bool word_byte(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool upper(char c) { return c >= 'A' && c <= 'Z'; }
bool lower(char c) { return c >= 'a' && c <= 'z'; }

#if defined(__x86_64__) && defined(__GNUC__)
#define SY_GAZETTEER_AVX2 1
// x in [lo, lo + 25] as (x - lo) -sat 25 == 0.
__attribute__((target("avx2"), always_inline)) inline __m256i letter_at(const char* b, char lo) {
  return _mm256_cmpeq_epi8(
      _mm256_subs_epu8(_mm256_sub_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)),
                                       _mm256_set1_epi8(lo)),
                       _mm256_set1_epi8(25)),
      _mm256_setzero_si256());
}

// Where " Xyy" (a space, a capital, two lower-case letters) starts in b[0, 64 * words), bit i of
// out[w] for position 64w + i; with `after_lower`, only where the byte before is a lower-case
// letter or a UTF-8 byte. Reads b[-1, 64 * words + 3). The hits are returned as masks, not
// handed to a callback: a call per hit from AVX2 code (vzeroupper, the constants spilled
// around it) was a third of this loop's time.
__attribute__((target("avx2"))) void start_masks_avx2(const char* b, size_t words, bool after_lower,
                                                      uint64_t* out) {
  for (size_t w = 0; w < words; ++w) {
    uint64_t mask = 0;
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const char* q = b + 64 * w + 32 * h;
      __m256i all = _mm256_and_si256(
          _mm256_and_si256(
              _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)),
                                _mm256_set1_epi8(' ')),
              letter_at(q + 1, 'A')),
          _mm256_and_si256(letter_at(q + 2, 'a'), letter_at(q + 3, 'a')));
      if (after_lower) {
        // [a-z] or >= 0x80 (negative as a signed byte).
        const __m256i before = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q - 1));
        all = _mm256_and_si256(all,
                               _mm256_or_si256(letter_at(q - 1, 'a'),
                                               _mm256_cmpgt_epi8(_mm256_setzero_si256(), before)));
      }
      mask |= static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(all))) << (32 * h);
    }
    out[w] = mask;
  }
}
#endif

}  // namespace

NameGazetteer::NameGazetteer(std::string_view alternation) {
  for (size_t from = 0; from <= alternation.size();) {
    size_t bar = std::min(alternation.find('|', from), alternation.size());
    if (bar > from) names_.emplace_back(alternation.substr(from, bar - from));
    from = bar + 1;
  }
  for (const std::string& name : names_) {
    set_.insert(name);
    const auto last = static_cast<unsigned char>(name.back());
    last_byte_[last] = true;
    ends_lower_ &= (last >= 'a' && last <= 'z') || last >= 0x80;
    if (name.size() < 64) {
      lengths_by_first_[static_cast<unsigned char>(name.front())] |= uint64_t{1} << name.size();
      lengths_by_last_[static_cast<unsigned char>(name.back())] |= uint64_t{1} << name.size();
    }
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
    const uint64_t by_last = lengths_by_last_[static_cast<unsigned char>(text[p - 1])];
    for (size_t length : lengths_) {  // longest first: the leftmost start
      if (length > p) continue;
      size_t begin = p - length;
      if (length < 64 &&
          !((by_last & lengths_by_first_[static_cast<unsigned char>(text[begin])]) >> length & 1)) {
        continue;
      }
      if (begin > 0 && word_byte(text[begin - 1])) continue;
      if (!set_.contains(text.substr(begin, length))) continue;
      out.push_back({id, begin, p + 4});
      return;
    }
  };
  const size_t last = n - 4;  // the last position " Xyy" can start at
  size_t p = 0;
#if defined(SY_GAZETTEER_AVX2)
  if (cpu_has_avx2()) {
    // 4 KB of hit masks at a time, from position 1 (a name ends before the space).
    constexpr size_t kChunkWords = 64;
    uint64_t masks[kChunkWords];
    p = 1;
    while (p + 64 + 3 <= n) {
      const size_t words = std::min(kChunkWords, (n - 3 - p) / 64);
      start_masks_avx2(text.data() + p, words, ends_lower_, masks);
      for (size_t w = 0; w < words; ++w) {
        for (uint64_t hits = masks[w]; hits != 0; hits &= hits - 1) {
          at_space(p + 64 * w + static_cast<size_t>(std::countr_zero(hits)));
        }
      }
      p += 64 * words;
    }
  }
#endif
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
