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

void classify(std::string_view text, Token& t, bool digit) {
  size_t length = t.end - t.begin;
  t.interesting = digit || length >= kLongToken;
  if (digit) return;
  // Leading alphanumeric run.
  size_t k = t.begin;
  bool upper = true;
  while (k < t.end && alnum(static_cast<uint8_t>(text[k]))) {
    upper &= (kClass[static_cast<uint8_t>(text[k])] & kUpper) != 0;
    ++k;
  }
  size_t lead = k - t.begin;
  t.suffix = lead == 1 || (upper && lead >= 2 && lead <= 4);
  // Trailing alphanumeric run (letters only: the token has no digit).
  k = t.end;
  while (k > t.begin && alnum(static_cast<uint8_t>(text[k - 1]))) --k;
  size_t trail = t.end - k;
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

}  // namespace

void find_digit_regions(std::string_view text, std::vector<ByteRange>& out) {
  RegionBuilder builder(text, out);
  size_t n = text.size();
  size_t i = 0;
  bool first = true;
  while (i < n) {
    size_t gap_begin = i;
    while (i < n && !(kClass[static_cast<uint8_t>(text[i])] & kToken)) ++i;
    if (i >= n) break;
    size_t gap = i - gap_begin;
    Token t;
    t.joined = !first && gap >= 1 && gap <= 2 && text[gap_begin] == ' ' && text[i - 1] == ' ';
    first = false;
    t.begin = i;
    bool digit = false;
    while (i < n) {
      uint8_t c = kClass[static_cast<uint8_t>(text[i])];
      if (!(c & kToken)) break;
      digit |= (c & kDigit) != 0;
      ++i;
    }
    t.end = i;
    classify(text, t, digit);
    builder.add(t);
  }
  builder.finish();
}

}  // namespace sy::policies::sensitivity_detail
