// Digit regions (see digit_regions.h): one pass over the bytes with a class table.

#include "classify/sensitivity/digit_regions.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "classify/sensitivity/cpu_has_avx2.h"

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
constexpr size_t kAfter = 2;   // and after it

bool is_word(char c) {
  auto u = static_cast<uint8_t>(c);
  return (kClass[u] & (kDigit | kUpper)) || (c >= 'a' && c <= 'z') || c == '_';
}

struct Token {
  size_t begin = 0;
  size_t end = 0;
  bool joined = false;       // one or two spaces after the previous token
  bool interesting = false;  // a digit, or 14+ bytes
  bool prefix = false;       // ends in 1-2 letters, no digit: a NINO's "AB", a NIE's "X"
  bool suffix = false;  // starts with 1 letter (NINO, NIF, NIE) or 2-4 upper-case alphanumerics
                        // (an IBAN's letter group), then a non-alphanumeric or its end
};

bool alnum(uint8_t c) { return (kClass[c] & (kDigit | kUpper)) || (c >= 'a' && c <= 'z'); }

#if defined(__x86_64__) && defined(__GNUC__)
#define SY_MASKS_AVX2 1
// The seven byte-class masks of `words` whole 64-byte words at p, 32 bytes per instruction
// (half the SSE2 path's instructions; chosen at run time where the CPU has AVX2). `out` is
// token, digit, alnum, upper, dot, sep, plus, chain gap. (A lambda here needs the target of its
// own.)
__attribute__((target("avx2"))) void masks_avx2(const char* p, size_t words, uint64_t* const* out) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i c0 = _mm256_set1_epi8('0');
  const __m256i c9 = _mm256_set1_epi8(9);
  const __m256i cA = _mm256_set1_epi8('A');
  const __m256i ca = _mm256_set1_epi8('a');
  const __m256i c25 = _mm256_set1_epi8(25);
  const __m256i case_bit = _mm256_set1_epi8(0x20);
  const __m256i paren = _mm256_set1_epi8('(');
  const __m256i paren_span = _mm256_set1_epi8(':' - '(');
  const __m256i star = _mm256_set1_epi8('*');
  const __m256i underscore = _mm256_set1_epi8('_');
  const __m256i dot = _mm256_set1_epi8('.');
  const __m256i colon = _mm256_set1_epi8(':');
  const __m256i dash = _mm256_set1_epi8('-');
  const __m256i plus = _mm256_set1_epi8('+');
  const __m256i space = _mm256_set1_epi8(' ');
  const __m256i c1 = _mm256_set1_epi8(1);
  const __m256i c2 = _mm256_set1_epi8(2);
  const __m256i dash_ = _mm256_set1_epi8('-');
  auto half = [](__m256i v, int h) __attribute__((target("avx2"))) {
    return static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(v))) << (32 * h);
  };
  for (size_t w = 0; w < words; ++w) {
    uint64_t t = 0, d = 0, a = 0, u = 0, o = 0, c = 0, g = 0, j = 0;
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64 * w + 32 * h));
      // v in [lo, lo + span] as (v - lo) -sat span == 0.
      __m256i dm = _mm256_cmpeq_epi8(_mm256_subs_epu8(_mm256_sub_epi8(x, c0), c9), zero);
      __m256i um = _mm256_cmpeq_epi8(_mm256_subs_epu8(_mm256_sub_epi8(x, cA), c25), zero);
      __m256i lm = _mm256_cmpeq_epi8(
          _mm256_subs_epu8(_mm256_sub_epi8(_mm256_or_si256(x, case_bit), ca), c25), zero);
      __m256i pm = _mm256_cmpeq_epi8(_mm256_subs_epu8(_mm256_sub_epi8(x, paren), paren_span), zero);
      __m256i tm = _mm256_andnot_si256(_mm256_cmpeq_epi8(x, star), pm);
      tm = _mm256_or_si256(_mm256_or_si256(tm, lm), _mm256_cmpeq_epi8(x, underscore));
      t |= half(tm, h);
      d |= half(dm, h);
      a |= half(_mm256_or_si256(dm, lm), h);
      u |= half(um, h);
      o |= half(_mm256_cmpeq_epi8(x, dot), h);
      c |= half(_mm256_or_si256(_mm256_cmpeq_epi8(x, colon), _mm256_cmpeq_epi8(x, dash)), h);
      g |= half(_mm256_cmpeq_epi8(x, plus), h);
      // ' ', '(', ')', '-', '.', '/': the bytes that chain digit groups.
      __m256i jm = _mm256_or_si256(
          _mm256_cmpeq_epi8(_mm256_subs_epu8(_mm256_sub_epi8(x, paren), c1), zero),
          _mm256_cmpeq_epi8(_mm256_subs_epu8(_mm256_sub_epi8(x, dash_), c2), zero));
      j |= half(_mm256_or_si256(jm, _mm256_cmpeq_epi8(x, space)), h);
    }
    out[0][w] = t;
    out[1][w] = d;
    out[2][w] = a;
    out[3][w] = u;
    out[4][w] = o;
    out[5][w] = c;
    out[6][w] = g;
    out[7][w] = j;
  }
}

// The same masks 64 bytes per instruction into mask registers, where the CPU has AVX-512BW (a
// third of the AVX2 path's instructions: no movemask and no combining of halves).
__attribute__((target("avx512bw"))) void masks_avx512(const char* p, size_t words,
                                                       uint64_t* const* out) {
  const __m512i c0 = _mm512_set1_epi8('0');
  const __m512i cA = _mm512_set1_epi8('A');
  const __m512i ca = _mm512_set1_epi8('a');
  const __m512i case_bit = _mm512_set1_epi8(0x20);
  const __m512i paren = _mm512_set1_epi8('(');
  const __m512i dash = _mm512_set1_epi8('-');
  const __m512i ten = _mm512_set1_epi8(10);
  const __m512i letters = _mm512_set1_epi8(26);
  const __m512i paren_span = _mm512_set1_epi8(':' - '(' + 1);
  const __m512i two = _mm512_set1_epi8(2);
  const __m512i three = _mm512_set1_epi8(3);
  for (size_t w = 0; w < words; ++w) {
    const __m512i x = _mm512_loadu_si512(p + 64 * w);
    // v in [lo, lo + n) as the unsigned byte v - lo < n.
    const uint64_t d = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, c0), ten);
    const uint64_t u = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, cA), letters);
    const uint64_t l =
        _mm512_cmplt_epu8_mask(_mm512_sub_epi8(_mm512_or_si512(x, case_bit), ca), letters);
    // ( ) + , - . / 0-9 :  (0x28-0x3a without '*'), letters, '_'
    const uint64_t pm = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, paren), paren_span);
    const uint64_t star = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('*'));
    const uint64_t under = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('_'));
    const uint64_t o = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('.'));
    const uint64_t colon = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(':'));
    const uint64_t minus = _mm512_cmpeq_epi8_mask(x, dash);
    const uint64_t space = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(' '));
    // ' ', '(', ')', '-', '.', '/': the bytes that chain digit groups.
    const uint64_t j = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, paren), two) |
                       _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, dash), three) | space;
    out[0][w] = (pm & ~star) | l | under;
    out[1][w] = d;
    out[2][w] = d | l;
    out[3][w] = u;
    out[4][w] = o;
    out[5][w] = colon | minus;
    out[6][w] = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('+'));
    out[7][w] = j;
  }
}

bool cpu_has_avx512bw() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bw") != 0;
  }();
  return has;
}

#endif

std::atomic<bool> g_avx2_allowed{true};
std::atomic<bool> g_avx512_allowed{true};

#if !defined(__SSE2__)
// Without SSE2: the same masks a byte at a time.
void masks_sse2(const char* p, size_t words, uint64_t* const* out) {
  for (size_t w = 0; w < words; ++w) {
    for (int k = 0; k < 8; ++k) out[k][w] = 0;
    for (size_t i = 0; i < 64; ++i) {
      auto c = static_cast<uint8_t>(p[64 * w + i]);
      uint64_t bit = uint64_t{1} << i;
      if (kClass[c] & kToken) out[0][w] |= bit;
      if (kClass[c] & kDigit) out[1][w] |= bit;
      if (alnum(c)) out[2][w] |= bit;
      if (kClass[c] & kUpper) out[3][w] |= bit;
      if (c == '.') out[4][w] |= bit;
      if (c == ':' || c == '-') out[5][w] |= bit;
      if (c == '+') out[6][w] |= bit;
      if (c == ' ' || c == '(' || c == ')' || c == '-' || c == '.' || c == '/') out[7][w] |= bit;
    }
  }
}
#else
// The same masks 16 bytes at a time (the x86-64 baseline).
void masks_sse2(const char* p, size_t words, uint64_t* const* out) {
  for (size_t w = 0; w < words; ++w) {
    uint64_t t = 0;
    uint64_t d = 0;
    uint64_t a = 0;
    uint64_t u = 0;
    uint64_t o = 0;
    uint64_t c = 0;
    uint64_t g = 0;
    uint64_t j = 0;
    for (int q = 0; q < 4; ++q) {
      __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 64 * w + 16 * q));
      // v in [lo, hi] as one unsigned saturating subtract: (v - lo) -sat (hi - lo) == 0.
      auto in = [](__m128i v, char lo, char hi) {
        __m128i off = _mm_sub_epi8(v, _mm_set1_epi8(lo));
        return _mm_cmpeq_epi8(_mm_subs_epu8(off, _mm_set1_epi8(static_cast<char>(hi - lo))),
                              _mm_setzero_si128());
      };
      __m128i dm = in(x, '0', '9');
      __m128i um = in(x, 'A', 'Z');
      __m128i lm = in(_mm_or_si128(x, _mm_set1_epi8(0x20)), 'a', 'z');  // either case
      __m128i am = _mm_or_si128(dm, lm);
      // ( ) + , - . / 0-9 :  (0x28-0x3a without '*'), letters, '_'
      __m128i tm = _mm_andnot_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('*')), in(x, '(', ':'));
      tm = _mm_or_si128(_mm_or_si128(tm, lm), _mm_cmpeq_epi8(x, _mm_set1_epi8('_')));
      __m128i pm = _mm_cmpeq_epi8(x, _mm_set1_epi8('.'));
      __m128i cm = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(':')),
                                _mm_cmpeq_epi8(x, _mm_set1_epi8('-')));
      __m128i gm = _mm_cmpeq_epi8(x, _mm_set1_epi8('+'));
      __m128i jm = _mm_or_si128(_mm_or_si128(in(x, '(', ')'), in(x, '-', '/')),
                                _mm_cmpeq_epi8(x, _mm_set1_epi8(' ')));
      auto bits = [q](__m128i v) {
        return static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(v))) << (16 * q);
      };
      t |= bits(tm);
      d |= bits(dm);
      a |= bits(am);
      u |= bits(um);
      o |= bits(pm);
      c |= bits(cm);
      g |= bits(gm);
      j |= bits(jm);
    }
    out[0][w] = t;
    out[1][w] = d;
    out[2][w] = a;
    out[3][w] = u;
    out[4][w] = o;
    out[5][w] = c;
    out[6][w] = g;
    out[7][w] = j;
  }
}
#endif

// Per-byte class bits of the whole text, 64 bytes to a word (bit i of word w is byte 64w + i;
// bits past the text's end are clear, and one clear word follows the last), so that the token
// walk below finds a token's end, its digits and a region's counts with bit operations
// instead of loops over bytes.
struct TextMasks {
  static constexpr size_t kMasks = 11;
  static constexpr size_t kInlineWords = 8;        // texts under 384 bytes: no allocation
  uint64_t inline_storage[kMasks * kInlineWords];  // (mask, word), not zeroed: all written
  std::unique_ptr<uint64_t[]> storage;             // (mask, word) for longer texts
  uint64_t* token;                                 // (word) [A-Za-z0-9_.:\-/()+,]
  uint64_t* digit;                                 // (word) [0-9]
  uint64_t* alnum;                                 // (word) [A-Za-z0-9]
  uint64_t* upper;                                 // (word) [A-Z]
  uint64_t* dot;                                   // (word) '.'
  uint64_t* sep;                                   // (word) ':' or '-'
  uint64_t* plus;                                  // (word) '+'
  uint64_t* chain_gap;                             // (word) ' ', '(', ')', '-', '.', '/'
  uint64_t* long_end;  // (word) the 14th and later bytes of a token (bytes i-13..i all token)
  // (word) where a token starting at byte i would be a suffix by its first bytes (Token::suffix)
  uint64_t* suffix_head;
  // (word) where a token whose last byte is i would be a prefix by its last bytes (Token::prefix)
  uint64_t* prefix_tail;
  size_t size = 0;

  explicit TextMasks(std::string_view text) : size(text.size()) {
    const size_t words = text.size() / 64 + 3;  // windows may start 2 bytes past the end
    uint64_t* base = inline_storage;
    if (words > kInlineWords) {
      storage.reset(new uint64_t[words * kMasks]);
      base = storage.get();
    }
    uint64_t* const all[kMasks] = {
        token = base,        digit = token + words, alnum = digit + words, upper = alnum + words,
        dot = upper + words, sep = dot + words,     plus = sep + words,    chain_gap = plus + words,
        long_end = chain_gap + words, suffix_head = long_end + words,
        prefix_tail = suffix_head + words};
    // Whole words from the text, then its tail copied into a zero-padded word (zero bytes are
    // in no class), then clear padding words.
    const size_t whole = text.size() / 64;
    char tail[64] = {};
    std::copy(text.data() + whole * 64, text.data() + text.size(), tail);
    uint64_t* const tail_out[kMasks] = {token + whole, digit + whole, alnum + whole, upper + whole,
                                        dot + whole,   sep + whole,   plus + whole,  chain_gap + whole};
#if defined(SY_MASKS_AVX2)
    if (cpu_has_avx512bw() && g_avx512_allowed.load(std::memory_order_relaxed) &&
        g_avx2_allowed.load(std::memory_order_relaxed)) {
      masks_avx512(text.data(), whole, all);
      masks_avx512(tail, 1, tail_out);
    } else if (cpu_has_avx2() && g_avx2_allowed.load(std::memory_order_relaxed)) {
      masks_avx2(text.data(), whole, all);
      masks_avx2(tail, 1, tail_out);
    } else {
      masks_sse2(text.data(), whole, all);
      masks_sse2(tail, 1, tail_out);
    }
#else
    masks_sse2(text.data(), whole, all);
    masks_sse2(tail, 1, tail_out);
#endif
    for (uint64_t* m : all) std::fill(m + whole + 1, m + words, uint64_t{0});
    derive(words);
  }

  // long_end, suffix_head and prefix_tail from the class masks: shifts across word edges,
  // cheaper with BMI2's shifts (a clone for x86-64-v3 CPUs, chosen at load time).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  __attribute__((target_clones("default", "arch=x86-64-v3"), flatten))
#endif
  void derive(size_t words) {
    // Each word's neighbours are carried in locals: the outputs are stored through pointers
    // that may alias the inputs as far as the compiler knows, so loads would repeat.
    uint64_t seeds = 0;
    uint64_t t_before = 0;
    for (size_t v = 0; v + 1 < words; ++v) {
      // Bytes that end a run of 14+ token bytes (bit i: bytes i-13..i are token bytes).
      const uint64_t t = token[v];
      unsigned __int128 x = (static_cast<unsigned __int128>(t) << 64) | t_before;
      unsigned __int128 r = x & (x << 1);  // i, i-1
      r &= r << 2;                         // i..i-3
      r &= r << 4;                         // i..i-7
      r &= r << 6;                         // i..i-13
      const uint64_t ends = static_cast<uint64_t>(r >> 64);
      long_end[v] = ends;
      seeds |= ends | digit[v];
      t_before = t;
    }
    long_end[words - 1] = 0;
    // The edges are read only by the walk from a seed (a digit or a long token): a text
    // without one (most prose) needs none.
    if (seeds == 0) return;
    // suffix_head and prefix_tail, from the alnum and upper bits around each byte. A token's
    // leading alphanumeric run is exactly 1, or 2-4 capitals (the run ends inside the token,
    // as a non-token byte is not alphanumeric); its trailing one is 1-2.
    uint64_t a_before = 0;
    uint64_t a = alnum[0];
    uint64_t u = upper[0];
    for (size_t v = 0; v + 1 < words; ++v) {
      const uint64_t a_next = alnum[v + 1];
      const uint64_t u_next = upper[v + 1];
      auto ahead = [](uint64_t m, uint64_t next, unsigned k) {  // bit i: byte i + k
        return (m >> k) | (next << (64 - k));
      };
      auto behind = [](uint64_t m, uint64_t before, unsigned k) {  // bit i: byte i - k
        return (m << k) | (before >> (64 - k));
      };
      const uint64_t u2 = u & ahead(u, u_next, 1);
      const uint64_t u3 = u2 & ahead(u, u_next, 2);
      suffix_head[v] = (a & ~ahead(a, a_next, 1)) | (u2 & ~ahead(a, a_next, 2)) |
                       (u3 & ~ahead(a, a_next, 3)) |
                       (u3 & ahead(u, u_next, 3) & ~ahead(a, a_next, 4));
      prefix_tail[v] = a & ~(behind(a, a_before, 1) & behind(a, a_before, 2));
      a_before = a;
      a = a_next;
      u = u_next;
    }
  }

  // The 64 bits of m from byte i on (bit 0 is byte i); i <= size.
  static uint64_t window(const uint64_t* m, size_t i) {
    size_t w = i / 64;
    unsigned s = i % 64;
    return (m[w] >> s) | ((m[w + 1] << 1) << (63 - s));
  }
  static uint64_t low(size_t n) { return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1; }
  // Bits set in x: one instruction in the x86-64-v3 clone of find_regions_on_masks (the
  // baseline target lacks POPCNT and calls the library there).
  static size_t ones(uint64_t x) { return static_cast<size_t>(std::popcount(x)); }

  // The first position >= i whose bit is clear in m (the end of a run of set bits).
  size_t run_end(const uint64_t* m, size_t i) const {
    for (;; i += 64) {  // ends: the bits past the text are clear
      uint64_t clear = ~window(m, i);
      if (clear != 0) return std::min(size, i + static_cast<size_t>(std::countr_zero(clear)));
    }
  }
  // The first position >= i whose bit is set in m, or size.
  size_t next_set(const uint64_t* m, size_t i) const {
    for (; i < size; i += 64) {
      uint64_t set = window(m, i);
      if (set != 0) return std::min(size, i + static_cast<size_t>(std::countr_zero(set)));
    }
    return size;
  }
  // How many bits before position i (i-1, i-2, ...) are set in a row, up to `cap`.
  static size_t run_before(const uint64_t* m, size_t i, size_t cap) {
    size_t n = 0;
    while (n < cap) {
      size_t at = i - n;  // bits [at - 64, at), bit 63 = byte at - 1
      uint64_t bits = at >= 64 ? window(m, at - 64) : window(m, 0) << (64 - at);
      size_t ones = static_cast<size_t>(std::countl_one(bits));
      n += ones;
      if (ones < 64 || at < 64) break;
    }
    return std::min(n, cap);
  }

  static size_t count(const uint64_t* m, size_t begin, size_t end) {
    size_t n = 0;
    for (; begin < end; begin += 64) {
      n += ones(window(m, begin) & low(end - begin));
    }
    return n;
  }
  static bool any(const uint64_t* m, size_t begin, size_t end) {
    for (; begin < end; begin += 64) {
      if (window(m, begin) & low(end - begin)) return true;
    }
    return false;
  }
  static bool test(const uint64_t* m, size_t i) { return (m[i / 64] >> (i % 64)) & 1; }
  // f(i) for each set bit i of `bits` (the 64 bits from byte `from`) below `end`.
  template <typename F>
  static void each(const uint64_t* m, size_t begin, size_t end, F&& f) {
    for (size_t from = begin; from < end; from += 64) {
      for (uint64_t bits = window(m, from) & low(end - from); bits != 0; bits &= bits - 1) {
        f(from + static_cast<size_t>(std::countr_zero(bits)));
      }
    }
  }
};

// Looks at no more than five bytes at each end of the token: the walk stays one pass.
void classify(std::string_view text, Token& t, bool digit) {
  size_t length = t.end - t.begin;
  t.interesting = digit || length >= kLongToken;
  if (digit) return;
  auto at = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  // Leading alphanumeric run: exactly 1, or 2-4 capitals/digits (no digit here: capitals).
  size_t lead = 0;
  bool upper = true;
  while (lead < 5 && t.begin + lead < t.end && alnum(at(t.begin + lead))) {
    upper &= (kClass[at(t.begin + lead)] & kUpper) != 0;
    ++lead;
  }
  t.suffix = lead == 1 || (upper && lead >= 2 && lead <= 4);
  // Trailing alphanumeric run of 1-2 (letters: no digit in the token).
  size_t trail = 0;
  while (trail < 3 && t.end - trail > t.begin && alnum(at(t.end - trail - 1))) ++trail;
  t.prefix = trail >= 1 && trail <= 2;
}

// Whether [begin, end) can hold a region-scanned match.
bool qualifies(std::string_view text, size_t begin, size_t end) {
  size_t digits = 0;
  size_t dots = 0;
  size_t run = 0;  // current token length
  bool zero_led = false;
  for (size_t i = begin; i < end; ++i) {
    char c = text[i];
    uint8_t k = kClass[static_cast<uint8_t>(c)];
    if (!(k & kToken)) {
      run = 0;
      continue;
    }
    if (++run >= kLongToken) return true;
    if (run == 4 && (kClass[static_cast<uint8_t>(text[i - 3])] & kUpper) &&
        (kClass[static_cast<uint8_t>(text[i - 2])] & kUpper) &&
        (kClass[static_cast<uint8_t>(text[i - 1])] & kDigit) && (k & kDigit)) {
      return true;  // an IBAN's head: two capitals, two digits
    }
    if (k & kDigit) {
      ++digits;
      if (c == '0' && (i == 0 || !is_word(text[i - 1]))) zero_led = true;
    } else if (c == '.') {
      ++dots;
    }
  }
  return digits >= 6 || (digits >= 4 && (zero_led || dots >= 3));
}

// qualifies() from the masks: the same conditions, a few bit operations per 64 bytes. A region
// begins at a token's start and ends at a token's end, so its tokens lie wholly inside it.
bool qualifies_masked(std::string_view text, const TextMasks& m, size_t begin, size_t end) {
  if (end - begin <= 64) {  // nearly all: one window of each mask
    const size_t length = end - begin;
    const uint64_t range = TextMasks::low(length);
    const uint64_t d = TextMasks::window(m.digit, begin) & range;
    const size_t digits = TextMasks::ones(d);
    if (digits >= 6) return true;
    if (TextMasks::window(m.long_end, begin) & range) return true;
    const uint64_t t = TextMasks::window(m.token, begin);
    const uint64_t u = TextMasks::window(m.upper, begin);
    const uint64_t d2 = TextMasks::window(m.digit, begin + 2);
    const uint64_t head = t & ~(t << 1) & u & (u >> 1) & d2 & (d2 >> 1);
    if (length > 3 && (head & TextMasks::low(length - 3))) return true;
    if (digits < 4) return false;
    if (TextMasks::ones(TextMasks::window(m.dot, begin) & range) >= 3) return true;
    const uint64_t a = TextMasks::window(m.alnum, begin);
    const uint64_t after_alnum = (a << 1) | (begin > 0 ? TextMasks::test(m.alnum, begin - 1) : 0);
    for (uint64_t bits = d & ~after_alnum; bits != 0; bits &= bits - 1) {
      size_t i = begin + static_cast<size_t>(std::countr_zero(bits));
      if (text[i] == '0' && (i == 0 || !is_word(text[i - 1]))) return true;
    }
    return false;
  }
  // Most regions that qualify have six digits: counted first.
  size_t digits = TextMasks::count(m.digit, begin, end);
  if (digits >= 6) return true;
  size_t dots = 0;
  for (size_t from = begin; from < end; from += 64) {
    uint64_t range = TextMasks::low(end - from);
    if (TextMasks::window(m.long_end, from) & range) return true;  // a 14-byte token
    uint64_t t = TextMasks::window(m.token, from);
    uint64_t before = from > begin ? TextMasks::test(m.token, from - 1) : 0;
    uint64_t starts = t & ~((t << 1) | before);
    // An IBAN's head at a token's start: two capitals, two digits, all before `end`.
    uint64_t u = TextMasks::window(m.upper, from);
    uint64_t d2 = TextMasks::window(m.digit, from + 2);
    uint64_t head = starts & u & (u >> 1) & d2 & (d2 >> 1);
    if (end - from > 3 && (head & TextMasks::low(end - from - 3))) return true;
    dots += TextMasks::ones(TextMasks::window(m.dot, from) & range);
  }
  if (digits < 4) return false;
  if (dots >= 3) return true;
  // A '0' after a non-word byte: only digits not after an alphanumeric can be one.
  for (size_t from = begin; from < end; from += 64) {
    uint64_t a = TextMasks::window(m.alnum, from);
    uint64_t after_alnum = (a << 1) | (from > 0 ? TextMasks::test(m.alnum, from - 1) : 0);
    uint64_t bits = TextMasks::window(m.digit, from) & ~after_alnum & TextMasks::low(end - from);
    for (; bits != 0; bits &= bits - 1) {
      size_t i = from + static_cast<size_t>(std::countr_zero(bits));
      if (text[i] == '0' && (i == 0 || !is_word(text[i - 1]))) return true;
    }
  }
  return false;
}

// Streams tokens into regions: an open region grows over joined interesting tokens, up to
// kAfter suffix tokens after each, and a prefix token that the next interesting one follows.
class RegionBuilder {
 public:
  // With `masks`, regions are checked with qualifies_masked (the same test, by bit counts).
  RegionBuilder(std::string_view text, std::vector<ByteRange>& out,
                const TextMasks* masks = nullptr)
      : text_(text), out_(out), masks_(masks) {}

  void add(const Token& t) {
    if (open_ && !t.joined) close();
    if (open_) {
      held_ = false;
      if (t.interesting) {  // also takes in a held prefix before it
        end_ = t.end;
        since_ = 0;
        prev_ = t;
        return;
      }
      bool took = false;
      if (t.suffix && since_ < kAfter) {
        end_ = t.end;
        ++since_;
        took = true;
      }
      if (t.prefix) held_ = true;  // joins only if an interesting token comes next
      if (took || held_) {
        prev_ = t;
        return;
      }
      close();
    }
    if (t.interesting) {
      open_ = true;
      begin_ = (t.joined && prev_.prefix) ? prev_.begin : t.begin;
      end_ = t.end;
      since_ = 0;
    }
    prev_ = t;
  }

  void finish() { close(); }
  // No region open and the last token cannot be a following number's prefix.
  bool idle() const { return !open_ && !prev_.prefix; }

 private:
  void close() {
    if (open_ && (masks_ ? qualifies_masked(text_, *masks_, begin_, end_)
                         : qualifies(text_, begin_, end_))) {
      out_.push_back({begin_, end_});
    }
    open_ = false;
    held_ = false;
  }

  std::string_view text_;
  std::vector<ByteRange>& out_;
  const TextMasks* masks_;
  bool open_ = false;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t since_ = 0;
  bool held_ = false;  // the last token was a prefix not (yet) in the region
  Token prev_;
};

bool is_token_byte(char c) { return (kClass[static_cast<uint8_t>(c)] & kToken) != 0; }
bool is_digit_byte(char c) { return (kClass[static_cast<uint8_t>(c)] & kDigit) != 0; }

}  // namespace

namespace {

// find_digit_regions over masks already computed: RegionBuilder's rules, walked from each seed
// (a digit or a long token's 14th byte) to the first token after it where no region is open
// and the last token is no prefix. A token's edges (suffix, prefix) are one bit each of the
// precomputed masks, its end one count of a token window: a few dozen instructions a token.
void find_digit_regions(std::string_view text, const TextMasks& m, std::vector<ByteRange>& out) {
  const size_t n = text.size();
  const char* const p = text.data();
  auto space = [&](size_t i) { return p[i] == ' '; };
  size_t i = 0;  // everything before i is done; i is 0 or just after a token
  while (i < n) {
    // The next seed: a digit, or the 14th byte of a token run (a long token).
    size_t hot = n;
    for (size_t w = i / 64; w * 64 < n; ++w) {
      uint64_t bits = m.digit[w] | m.long_end[w];
      if (w == i / 64) bits &= ~uint64_t{0} << (i % 64);
      if (bits != 0) {
        hot = w * 64 + static_cast<size_t>(std::countr_zero(bits));
        break;
      }
    }
    if (hot >= n) break;
    // The seed's token, interesting, opens a region. The token before it (in [i, seed), so
    // neither a digit nor a long token's 14th byte in it) starts the region instead when the
    // seed joins it (one or two spaces between) and it ends in a prefix.
    const size_t seed_begin = hot - TextMasks::run_before(m.token, hot, hot - i);
    size_t begin = seed_begin;
    if (seed_begin >= i + 2 && space(seed_begin - 1)) {
      size_t prev_end = is_token_byte(p[seed_begin - 2])                             ? seed_begin - 1
                        : (seed_begin >= i + 3 && space(seed_begin - 2) &&
                           is_token_byte(p[seed_begin - 3]))                          ? seed_begin - 2
                                                                                      : 0;
      if (prev_end != 0 && TextMasks::test(m.prefix_tail, prev_end - 1)) {
        begin = prev_end - TextMasks::run_before(m.token, prev_end, prev_end - i);
      }
    }
    size_t k = m.run_end(m.token, hot);
    size_t end = k;
    size_t since = 0;  // suffix tokens taken since the last interesting one
    bool open = true;
    bool prev_prefix = false;
    size_t prev_begin = seed_begin;
    auto close = [&] {
      if (open && qualifies_masked(text, m, begin, end)) out.push_back({begin, end});
      open = false;
    };
    while (k < n) {
      // The next token from k (just after a token): its start, end and classes.
      const size_t gap_begin = k;
      uint64_t ahead = TextMasks::window(m.token, k);
      size_t t_begin;
      size_t t_end;
      bool digit;
      if (ahead != 0) {
        const unsigned gap = static_cast<unsigned>(std::countr_zero(ahead));
        t_begin = k + gap;
        const uint64_t run = ahead >> gap;
        const unsigned length = static_cast<unsigned>(std::countr_one(run));
        if (length < 64 - gap) {  // the token ends inside the window: its digits are in it too
          t_end = t_begin + length;
          digit = ((TextMasks::window(m.digit, k) >> gap) & TextMasks::low(length)) != 0;
        } else {
          t_end = m.run_end(m.token, t_begin);
          digit = TextMasks::any(m.digit, t_begin, t_end);
        }
      } else {
        t_begin = m.next_set(m.token, k);
        if (t_begin >= n) break;
        t_end = m.run_end(m.token, t_begin);
        digit = TextMasks::any(m.digit, t_begin, t_end);
      }
      const size_t gap = t_begin - gap_begin;
      const bool joined = gap <= 2 && space(gap_begin) && space(t_begin - 1);
      const size_t length = t_end - t_begin;
      const bool interesting = digit || length >= kLongToken;
      const bool suffix = !digit && TextMasks::test(m.suffix_head, t_begin);
      const bool prefix = !digit && TextMasks::test(m.prefix_tail, t_end - 1);
      k = t_end;
      // RegionBuilder::add.
      if (open && !joined) close();
      if (open) {
        if (interesting) {
          end = t_end;
          since = 0;
          prev_prefix = prefix;
          prev_begin = t_begin;
          continue;
        }
        bool took = false;
        if (suffix && since < kAfter) {
          end = t_end;
          ++since;
          took = true;
        }
        if (!took && !prefix) close();
      } else if (interesting) {
        open = true;
        begin = (joined && prev_prefix) ? prev_begin : t_begin;
        end = t_end;
        since = 0;
      }
      prev_prefix = prefix;
      prev_begin = t_begin;
      if (!open && !prev_prefix) break;
    }
    close();
    i = k;
  }
}

}  // namespace

void find_digit_regions(std::string_view text, std::vector<ByteRange>& out) {
  find_digit_regions(text, TextMasks(text), out);
}

uint8_t region_shapes(std::string_view text, const ByteRange& region) {
  uint8_t shapes = 0;
  auto at = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  auto digit = [&](size_t i) { return (kClass[at(i)] & kDigit) != 0; };
  auto upper = [&](size_t i) { return (kClass[at(i)] & kUpper) != 0; };
  auto letter = [&](size_t i) { return alnum(at(i)) && !digit(i); };
  auto hex = [&](size_t i) {
    uint8_t c = at(i) | 0x20;
    return digit(i) || (c >= 'a' && c <= 'f');
  };
  auto chain_gap = [&](size_t i) {
    char c = text[i];
    return c == ' ' || c == '.' || c == '-' || c == '/' || c == '(' || c == ')';
  };
  const size_t b = region.begin;
  const size_t e = region.end;
  // Every chained detector's match starts with a digit at a word start (or after '('): only
  // digits from the first such digit of a chain count.
  size_t chain = 0;      // digits in the current chain since its first word-start digit
  size_t gap = 3;        // chain-gap bytes since the chain's last digit (3: no chain)
  size_t run = 0;        // the current run of digits
  size_t alnums = 0;     // the current run of alphanumerics
  bool word_led = false; // ... which starts at a word start
  bool letter_led = false;  // ... with six letters
  int ipv4_dots = 0;     // digit '.' digit
  int mac_colons = 0;    // hex [:-] hex
  int mac_dots = 0;      // hex '.' hex
  for (size_t i = b; i < e; ++i) {
    char c = text[i];
    bool word_start = i == b || !is_word(text[i - 1]);
    if (digit(i)) {
      if (gap > 2) chain = 0;
      if (chain > 0 || word_start) ++chain;
      gap = 0;
      if (chain >= 9) shapes |= kShapeChain9;
      ++run;
    } else {
      gap = chain_gap(i) ? gap + 1 : 3;
      if (run == 8) {  // ES NIF: the run, [ -]?, a letter that ends a word
        size_t k = i + ((c == ' ' || c == '-') ? 1 : 0);
        if (k < e && letter(k) && (k + 1 >= e || !is_word(text[k + 1]))) shapes |= kShapeNifNie;
      }
      run = 0;
    }
    if (run == 7 && (i + 1 >= e || !digit(i + 1))) {  // ES NIE: [XYZxyz][ -]? before the run
      size_t s = i - 6;
      auto xyz = [&](size_t k) { return (at(k) | 0x20) >= 'x' && (at(k) | 0x20) <= 'z'; };
      if (s > b && (xyz(s - 1) || (s - 1 > b && (text[s - 1] == ' ' || text[s - 1] == '-') &&
                                    xyz(s - 2)))) {
        shapes |= kShapeNifNie;
      }
    }
    if (alnum(at(i))) {
      if (alnums == 0) {
        word_led = word_start;
        letter_led = true;
      }
      if (alnums < 6 && !letter(i)) letter_led = false;
      ++alnums;
      // Codice fiscale (16, six letters first) and Base58 (26+), both after \b.
      if (word_led && ((alnums >= 16 && letter_led) || alnums >= 26)) shapes |= kShapeAlnum16;
    } else {
      alnums = 0;
    }
    if (c == '+' && i + 1 < e && digit(i + 1)) shapes |= kShapePlus;
    if (word_start && i + 2 < e && upper(i) && upper(i + 1)) {  // both after \b
      if (digit(i + 2)) shapes |= kShapeCapitals;  // IBAN head, NINO
      if (text[i + 2] == ' ' && i + 3 < e && digit(i + 3)) shapes |= kShapeCapitals;  // NINO
    }
    if (i > b && i + 1 < e) {
      if (c == '.' && digit(i - 1) && digit(i + 1) && ++ipv4_dots >= 3) shapes |= kShapeIpv4;
      if ((c == ':' || c == '-') && hex(i - 1) && hex(i + 1) && ++mac_colons >= 5) {
        shapes |= kShapeHex;
      }
      if (c == '.' && hex(i - 1) && hex(i + 1) && ++mac_dots >= 2) shapes |= kShapeHex;
    }
    if (shapes == kShapeAll) break;
  }
  return shapes;
}

bool region_may_hold_finding(std::string_view text, const ByteRange& region) {
  return region_shapes(text, region) != 0;
}

namespace {

// Whether an alphanumeric run from `as` on (cut at e) is 16+ bytes after \b and either
// letter-led (six letters first: codice fiscale) or 26+ bytes (Base58).
template <class WordStart>
bool has_alnum16_run(const TextMasks& m, size_t as, size_t e, WordStart word_start) {
  while (as < e) {
    size_t ae = std::min(e, m.run_end(m.alnum, as));
    if (ae - as >= 16 && word_start(as)) {
      bool letter_led =
          (TextMasks::window(m.alnum, as) & ~TextMasks::window(m.digit, as) & 0x3f) == 0x3f;
      if (letter_led || ae - as >= 26) return true;
    }
    as = ae < e ? m.next_set(m.alnum, ae) : e;
  }
  return false;
}

// region_shapes() from the masks, one step per digit run, alphanumeric run or rare byte instead
// of one per byte: the same rules (see region_shapes), tested against it on random text.
uint8_t region_shapes_masked(std::string_view text, const TextMasks& m, const ByteRange& region);

// region_shapes_masked for a region of at most 64 bytes (nearly all): one window of each mask,
// the shapes as bit operations on it, text bytes read only at the rare candidates.
uint8_t region_shapes_window(std::string_view text, const TextMasks& m, size_t b, size_t e) {
  const size_t length = e - b;
  const uint64_t r = TextMasks::low(length);
  const uint64_t d = TextMasks::window(m.digit, b) & r;
  const uint64_t a = TextMasks::window(m.alnum, b) & r;
  auto at = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  auto word_start = [&](size_t i) { return i == b || !is_word(text[i - 1]); };
  uint8_t shapes = 0;
  const size_t digits = TextMasks::ones(d);
  // 9 chained digits: a chain is a run of digits and of one or two chain-gap bytes between
  // digits; it counts from its first digit at a word start (bit 0: the region's first byte).
  if (digits >= 9) {
    const uint64_t g = TextMasks::window(m.chain_gap, b) & r;
    const uint64_t one = g & (d << 1) & (d >> 1);
    const uint64_t two = g & (g >> 1) & (d << 1) & (d >> 2);
    const uint64_t chain = d | one | two | (two << 1);
    uint64_t led = d & ~(a << 1);  // digits after no alphanumeric ('_' checked below)
    while (led != 0) {
      const unsigned p = static_cast<unsigned>(std::countr_zero(led));
      if (p > 0 && text[b + p - 1] == '_') {
        led &= led - 1;
        continue;
      }
      const unsigned n = static_cast<unsigned>(std::countr_one(chain >> p));
      const uint64_t upto = TextMasks::low(p + n);
      if (TextMasks::ones(d & upto & ~TextMasks::low(p)) >= 9) {
        shapes |= kShapeChain9;
        break;
      }
      led &= ~upto;
    }
  }
  // ES NIF (a run of exactly 8 digits, [ -]?, a letter ending a word) and NIE ([XYZxyz][ -]?
  // before a run of exactly 7).
  if (digits >= 7) {
    const uint64_t starts = d & ~(d << 1);
    const uint64_t d2 = d & (d >> 1);
    const uint64_t d4 = d2 & (d2 >> 2);
    for (uint64_t nif = starts & d4 & (d4 >> 4) & ~(d >> 8); nif != 0; nif &= nif - 1) {
      const size_t re = b + static_cast<size_t>(std::countr_zero(nif)) + 8;
      if (re >= e) continue;
      size_t k = re + ((text[re] == ' ' || text[re] == '-') ? 1 : 0);
      if (k < e && alnum(at(k)) && !(kClass[at(k)] & kDigit) &&
          (k + 1 >= e || !is_word(text[k + 1]))) {
        shapes |= kShapeNifNie;
      }
    }
    auto xyz = [&](size_t k) { return (at(k) | 0x20) >= 'x' && (at(k) | 0x20) <= 'z'; };
    for (uint64_t nie = starts & d4 & (d4 >> 3) & ~(d >> 7); nie != 0; nie &= nie - 1) {
      const size_t rs = b + static_cast<size_t>(std::countr_zero(nie));
      if (rs > b && (xyz(rs - 1) ||
                     (rs - 1 > b && (text[rs - 1] == ' ' || text[rs - 1] == '-') && xyz(rs - 2)))) {
        shapes |= kShapeNifNie;
      }
    }
  }
  // Alphanumeric runs of 16+ after \b: only in a region with a token of 14+ bytes.
  if ((TextMasks::window(m.long_end, b) & r) &&
      has_alnum16_run(m, m.next_set(m.alnum, b), e, word_start)) {
    shapes |= kShapeAlnum16;
  }
  // '+' then a digit: E.164.
  if (TextMasks::window(m.plus, b) & (d >> 1)) shapes |= kShapePlus;
  // Two capitals after \b, then a digit or a space and a digit: IBAN, NINO.
  if (length >= 3) {
    const uint64_t u = TextMasks::window(m.upper, b) & r;
    for (uint64_t c = u & (u >> 1) & TextMasks::low(length - 2); c != 0; c &= c - 1) {
      const size_t i = b + static_cast<size_t>(std::countr_zero(c));
      if (!word_start(i)) continue;
      if ((kClass[at(i + 2)] & kDigit) ||
          (text[i + 2] == ' ' && i + 3 < e && (kClass[at(i + 3)] & kDigit))) {
        shapes |= kShapeCapitals;
      }
    }
  }
  // Separators between two digits or hex digits: IPv4, MAC, IPv6.
  if (length >= 3) {
    const uint64_t inner = TextMasks::low(length - 1) & ~uint64_t{1};
    const uint64_t dots = TextMasks::window(m.dot, b) & inner;
    if (TextMasks::ones(dots & (d << 1) & (d >> 1)) >= 3) shapes |= kShapeIpv4;
    const uint64_t seps = TextMasks::window(m.sep, b) & inner;
    if (TextMasks::ones(dots) >= 2 || TextMasks::ones(seps) >= 5) {
      auto hex = [&](size_t i) {
        uint8_t c = at(i) | 0x20;
        return (kClass[at(i)] & kDigit) || (c >= 'a' && c <= 'f');
      };
      int mac_dots = 0;
      for (uint64_t x = dots; x != 0; x &= x - 1) {
        size_t i = b + static_cast<size_t>(std::countr_zero(x));
        if (hex(i - 1) && hex(i + 1) && ++mac_dots >= 2) shapes |= kShapeHex;
      }
      int mac_colons = 0;
      for (uint64_t x = seps; x != 0; x &= x - 1) {
        size_t i = b + static_cast<size_t>(std::countr_zero(x));
        if (hex(i - 1) && hex(i + 1) && ++mac_colons >= 5) shapes |= kShapeHex;
      }
    }
  }
  return shapes;
}

uint8_t region_shapes_masked(std::string_view text, const TextMasks& m, const ByteRange& region) {
  const size_t b = region.begin;
  const size_t e = region.end;
  if (e - b <= 64) return region_shapes_window(text, m, b, e);
  auto at = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  auto digit = [&](size_t i) { return (kClass[at(i)] & kDigit) != 0; };
  auto letter = [&](size_t i) { return alnum(at(i)) && !digit(i); };
  auto hex = [&](size_t i) {
    uint8_t c = at(i) | 0x20;
    return digit(i) || (c >= 'a' && c <= 'f');
  };
  auto word_start = [&](size_t i) { return i == b || !is_word(text[i - 1]); };
  auto chain_gap = [&](size_t i) {
    char c = text[i];
    return c == ' ' || c == '.' || c == '-' || c == '/' || c == '(' || c == ')';
  };
  uint8_t shapes = 0;
  // Digit runs: chains of 9 (a chain goes on over gaps of at most two chain-gap bytes and
  // counts from its first word-start digit), and the NIF's 8 and NIE's 7 digits.
  size_t chain = 0;
  size_t previous_end = 0;
  bool any_run = false;
  for (size_t rs = m.next_set(m.digit, b); rs < e;) {
    size_t re = std::min(e, m.run_end(m.digit, rs));
    size_t length = re - rs;
    bool joined = any_run && rs - previous_end <= 2 && chain_gap(previous_end) && chain_gap(rs - 1);
    chain = (joined && chain > 0) ? chain + length : (word_start(rs) ? length : 0);
    if (chain >= 9) shapes |= kShapeChain9;
    if (length == 8 && re < e) {  // ES NIF: the run, [ -]?, a letter that ends a word
      size_t k = re + ((text[re] == ' ' || text[re] == '-') ? 1 : 0);
      if (k < e && letter(k) && (k + 1 >= e || !is_word(text[k + 1]))) shapes |= kShapeNifNie;
    }
    if (length == 7) {  // ES NIE: [XYZxyz][ -]? before the run
      auto xyz = [&](size_t k) { return (at(k) | 0x20) >= 'x' && (at(k) | 0x20) <= 'z'; };
      if (rs > b && (xyz(rs - 1) ||
                     (rs - 1 > b && (text[rs - 1] == ' ' || text[rs - 1] == '-') && xyz(rs - 2)))) {
        shapes |= kShapeNifNie;
      }
    }
    any_run = true;
    previous_end = re;
    rs = re < e ? m.next_set(m.digit, re) : e;
  }
  // Alphanumeric runs of 16+ after \b: codice fiscale (six letters first) and Base58 (26+);
  // only in a region with a token of 14+ bytes.
  bool long_token = false;
  for (size_t from = b; from < e && !long_token; from += 64) {
    long_token = (TextMasks::window(m.long_end, from) & TextMasks::low(e - from)) != 0;
  }
  if (long_token && has_alnum16_run(m, m.next_set(m.alnum, b), e, word_start)) {
    shapes |= kShapeAlnum16;
  }
  // '+' then a digit: E.164.
  TextMasks::each(m.plus, b, e, [&](size_t i) {
    if (i + 1 < e && digit(i + 1)) shapes |= kShapePlus;
  });
  // Two capitals after \b, then a digit or a space and a digit: IBAN, NINO.
  if (e - b >= 3) {
    TextMasks::each(m.upper, b, e - 2, [&](size_t i) {
      if (!TextMasks::test(m.upper, i + 1) || !word_start(i)) return;
      if (digit(i + 2) || (text[i + 2] == ' ' && i + 3 < e && digit(i + 3))) {
        shapes |= kShapeCapitals;
      }
    });
  }
  // Separators between two digits or hex digits: IPv4, MAC, IPv6.
  if (e - b >= 3) {
    int ipv4_dots = 0;
    int mac_dots = 0;
    TextMasks::each(m.dot, b + 1, e - 1, [&](size_t i) {
      if (digit(i - 1) && digit(i + 1) && ++ipv4_dots >= 3) shapes |= kShapeIpv4;
      if (hex(i - 1) && hex(i + 1) && ++mac_dots >= 2) shapes |= kShapeHex;
    });
    int mac_colons = 0;
    TextMasks::each(m.sep, b + 1, e - 1, [&](size_t i) {
      if (hex(i - 1) && hex(i + 1) && ++mac_colons >= 5) shapes |= kShapeHex;
    });
  }
  return shapes;
}

}  // namespace

void allow_avx2_for_masks(bool allowed) { g_avx2_allowed.store(allowed); }
void allow_avx512_for_masks(bool allowed) { g_avx512_allowed.store(allowed); }

namespace {

// The walk, the qualification and the shapes: bit counts and scans over the masks, which
// POPCNT, TZCNT and LZCNT do in one instruction each (the baseline x86-64 target has none of
// them: a software popcount is a dozen). One clone for CPUs with x86-64-v3, chosen at load
// time; `flatten` inlines the helpers into each clone.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("default", "arch=x86-64-v3"), flatten))
#endif
void find_regions_on_masks(std::string_view text, const TextMasks& m,
                           std::vector<ByteRange>& regions, std::vector<uint8_t>& shapes) {
  size_t first = regions.size();
  find_digit_regions(text, m, regions);
  size_t kept = first;
  for (size_t r = first; r < regions.size(); ++r) {
    uint8_t s = region_shapes_masked(text, m, regions[r]);
    if (s == 0) continue;
    regions[kept++] = regions[r];
    shapes.push_back(s);
  }
  regions.resize(kept);
}

}  // namespace

void find_shaped_regions(std::string_view text, std::vector<ByteRange>& regions,
                         std::vector<uint8_t>& shapes) {
  const TextMasks m(text);
  find_regions_on_masks(text, m, regions, shapes);
}

void find_digit_regions_by_walk(std::string_view text, std::vector<ByteRange>& out) {
  RegionBuilder builder(text, out);
  size_t n = text.size();
  size_t k = 0;
  bool first = true;
  while (k < n) {
    size_t gap_begin = k;
    while (k < n && !is_token_byte(text[k])) ++k;
    if (k >= n) break;
    Token t;
    size_t gap = k - gap_begin;
    t.joined = !first && gap >= 1 && gap <= 2 && text[gap_begin] == ' ' && text[k - 1] == ' ';
    first = false;
    t.begin = k;
    bool digit = false;
    while (k < n && is_token_byte(text[k])) digit |= is_digit_byte(text[k++]);
    t.end = k;
    classify(text, t, digit);
    builder.add(t);
  }
  builder.finish();
}

}  // namespace sy::policies::sensitivity_detail
