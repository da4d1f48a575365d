// Digit regions (see digit_regions.h): one pass over the bytes with a class table.

#include "classify/sensitivity/digit_regions.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// Streams tokens into regions: an open region grows over joined interesting tokens, up to
// kAfter suffix tokens after each, and a prefix token that the next interesting one follows.
class RegionBuilder {
 public:
  RegionBuilder(std::string_view text, std::vector<ByteRange>& out) : text_(text), out_(out) {}

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
    if (open_ && qualifies(text_, begin_, end_)) out_.push_back({begin_, end_});
    open_ = false;
    held_ = false;
  }

  std::string_view text_;
  std::vector<ByteRange>& out_;
  bool open_ = false;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t since_ = 0;
  bool held_ = false;  // the last token was a prefix not (yet) in the region
  Token prev_;
};


// Where the first interesting token at or after `from` may be: the first digit or 14-byte
// token run of a 64-byte block (runs counted across blocks; a run from the block before gives
// the block's start), the start of a tail shorter than a block, or text.size().
size_t next_hot_block(std::string_view text, size_t from) {
  size_t n = text.size();
#if defined(__SSE2__)
  size_t carry = 0;  // token bytes ending the previous block
  for (size_t p = from; p + 64 <= n; p += 64) {
    uint64_t digits = 0;
    uint64_t tokens = 0;
    for (int q = 0; q < 4; ++q) {
      __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + p + 16 * q));
      auto in = [&](char lo, char hi) {
        return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(static_cast<char>(lo - 1))),
                             _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>(hi + 1))));
      };
      __m128i d = in('0', '9');
      // ( ) + , - . / 0-9 :  (0x28-0x3a without '*'), A-Z, a-z, '_'
      __m128i t = _mm_andnot_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('*')), in('(', ':'));
      t = _mm_or_si128(t, _mm_or_si128(in('A', 'Z'), in('a', 'z')));
      t = _mm_or_si128(t, _mm_cmpeq_epi8(x, _mm_set1_epi8('_')));
      digits |= static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(d))) << (16 * q);
      tokens |= static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(t))) << (16 * q);
    }
    size_t lead = static_cast<size_t>(std::countr_one(tokens));
    if (carry + lead >= kLongToken) return p;
    // Runs of 14+ set bits (byte i is bit i): bit i survives if bits i..i+13 are set.
    uint64_t r = tokens & (tokens >> 1);
    r &= r >> 2;
    r &= r >> 4;
    r &= r >> 6;
    if ((digits | r) != 0) return p + static_cast<size_t>(std::countr_zero(digits | r));
    carry = tokens == ~uint64_t{0} ? carry + 64 : static_cast<size_t>(std::countl_one(tokens));
    if (p + 128 > n) return p + 64;  // the tail is left to the token walk
  }
  return from + ((n - from) / 64) * 64 < n ? from + ((n - from) / 64) * 64 : n;
#else
  (void)text;
  return from;
#endif
}

bool is_token_byte(char c) { return (kClass[static_cast<uint8_t>(c)] & kToken) != 0; }
bool is_digit_byte(char c) { return (kClass[static_cast<uint8_t>(c)] & kDigit) != 0; }

}  // namespace

void find_digit_regions(std::string_view text, std::vector<ByteRange>& out) {
  size_t n = text.size();
  size_t i = 0;  // everything before i is done; i is 0 or just after a token
  while (i < n) {
    size_t hot = next_hot_block(text, i);
    if (hot >= n) break;
    // Back up to the start of the seed's token, and over one more token (a prefix such as a
    // NINO's "AB" may stand before the number).
    size_t start = hot;
    while (start > i && is_token_byte(text[start - 1])) --start;
    size_t gap_end = start;
    while (start > i && !is_token_byte(text[start - 1]) && gap_end - start < 3) --start;
    while (start > i && is_token_byte(text[start - 1])) --start;
    // Walk tokens from `start` until past the seed with no region open and the last token
    // not a prefix: prose between numbers is never walked.
    RegionBuilder builder(text, out);
    size_t block_end = hot + 1;
    size_t k = start;
    bool first = true;
    while (k < n) {
      size_t gap_begin = k;
      while (k < n && !is_token_byte(text[k])) ++k;
      if (k >= n) break;
      size_t gap = k - gap_begin;
      Token t;
      t.joined = !first && gap >= 1 && gap <= 2 && text[gap_begin] == ' ' && text[k - 1] == ' ';
      first = false;
      t.begin = k;
      bool digit = false;
      while (k < n) {
        uint8_t c = kClass[static_cast<uint8_t>(text[k])];
        if (!(c & kToken)) break;
        digit |= (c & kDigit) != 0;
        ++k;
      }
      t.end = k;
      classify(text, t, digit);
      builder.add(t);
      if (k >= block_end && builder.idle()) break;
    }
    builder.finish();
    i = k;
  }
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
