// The AWS access key pattern found in code (see anchor_finder.h).

#include "classify/sensitivity/anchor_finder.h"

#include <atomic>
#include <bit>
#include <cstdint>

#include "classify/sensitivity/cpu_has_avx2.h"
#include "classify/sensitivity/validators/validators.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SY_ANCHORS_AVX2 1
#endif

namespace sy::policies::sensitivity_detail {

namespace {

std::atomic<bool> g_avx2_allowed{true};

// [A-Z0-9]: an access key's characters.
bool key_byte(char c) { return (c >= 'A' && c <= 'Z') || is_digit(c); }
// The second byte of every access key prefix (AKIA, ASIA, ABIA, ACCA, A3T).
bool key_second(char c) { return c == 'K' || c == 'S' || c == 'B' || c == 'C' || c == '3'; }

class Emitter {
 public:
  Emitter(std::string_view text, const AnchorIds& ids, std::vector<PatternMatch>& out)
      : text_(text), ids_(ids), out_(out) {}

  // An access key starting at s: \b, a prefix, 16 key bytes, \b; always 20 bytes.
  void key_head(size_t s) {
    constexpr size_t kLength = 20;
    const size_t n = text_.size();
    if (ids_.aws_access_key == AnchorIds::kNone || s + kLength > n) return;
    if (s > 0 && is_word_byte(text_[s - 1])) return;
    const char c1 = text_[s + 1];
    const char c2 = text_[s + 2];
    const char c3 = text_[s + 3];
    const bool head = (c3 == 'A' && ((c2 == 'I' && (c1 == 'K' || c1 == 'S' || c1 == 'B')) ||
                                     (c1 == 'C' && c2 == 'C'))) ||
                      (c1 == '3' && c2 == 'T' && key_byte(c3));
    if (!head) return;
    for (size_t i = 4; i < kLength; ++i) {
      if (!key_byte(text_[s + i])) return;
    }
    if (s + kLength < n && is_word_byte(text_[s + kLength])) return;
    out_.push_back({ids_.aws_access_key, s, s + kLength});
  }

 private:
  std::string_view text_;
  const AnchorIds& ids_;
  std::vector<PatternMatch>& out_;
};

#if defined(SY_ANCHORS_AVX2)
// Bit i: b[i] is 'A' and b[i + 1] a prefix's second byte (reads b[0..32]).
__attribute__((target("avx2"), always_inline)) inline uint32_t anchors_avx2(const char* b) {
  const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 1));
  const __m256i second =
      _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v1, _mm256_set1_epi8('K')),
                                      _mm256_cmpeq_epi8(v1, _mm256_set1_epi8('S'))),
                      _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v1, _mm256_set1_epi8('B')),
                                                      _mm256_cmpeq_epi8(v1, _mm256_set1_epi8('C'))),
                                      _mm256_cmpeq_epi8(v1, _mm256_set1_epi8('3'))));
  const __m256i hits = _mm256_and_si256(_mm256_cmpeq_epi8(v0, _mm256_set1_epi8('A')), second);
  return static_cast<uint32_t>(_mm256_movemask_epi8(hits));
}

// 64 positions per step; returns the first position not looked at. (AVX2 itself, so that
// anchors_avx2 is inlined: called across the target boundary, the call per 32 bytes cost as
// much as the compares.)
__attribute__((target("avx2"))) size_t find_avx2(std::string_view text, Emitter& emit) {
  size_t p = 0;
  for (; p + 65 <= text.size(); p += 64) {
    const char* b = text.data() + p;
    uint64_t hits = anchors_avx2(b) | uint64_t{anchors_avx2(b + 32)} << 32;
    for (; hits != 0; hits &= hits - 1)
      emit.key_head(p + static_cast<size_t>(std::countr_zero(hits)));
  }
  return p;
}
#endif

}  // namespace

void find_anchored(std::string_view text, const AnchorIds& ids, std::vector<PatternMatch>& out) {
  Emitter emit(text, ids, out);
  size_t p = 0;
#if defined(SY_ANCHORS_AVX2)
  if (g_avx2_allowed.load(std::memory_order_relaxed) && cpu_has_avx2()) {
    p = find_avx2(text, emit);
  }
#endif
  for (; p < text.size(); ++p) {
    if (text[p] == 'A' && p + 1 < text.size() && key_second(text[p + 1])) emit.key_head(p);
  }
}

void allow_avx2_for_anchors(bool allowed) { g_avx2_allowed.store(allowed); }

}  // namespace sy::policies::sensitivity_detail
