#include "json_writer.h"

#include <charconv>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "json_support.h"

namespace sy::backends::openai::detail {
namespace {

// How many bytes from `p` need no work: ASCII for the UTF-8 check, and no escape for the
// string writer. Sixteen bytes at a time: the byte loops below were ~20 instructions per byte,
// most of the cost of encoding a request (the policy engine encodes every request it scans).
size_t ascii_prefix(const unsigned char* p, const unsigned char* end) {
  const unsigned char* q = p;
#if defined(__SSE2__)
  while (end - q >= 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    int high = _mm_movemask_epi8(x);
    if (high != 0) return static_cast<size_t>(q - p) + static_cast<size_t>(__builtin_ctz(high));
    q += 16;
  }
#endif
  while (q < end && *q < 0x80) ++q;
  return static_cast<size_t>(q - p);
}

size_t unescaped_prefix(const unsigned char* p, const unsigned char* end) {
  const unsigned char* q = p;
#if defined(__SSE2__)
  while (end - q >= 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    // Control bytes (< 0x20, unsigned): biased by 0x80 they are the signed values below -96.
    __m128i control = _mm_cmplt_epi8(_mm_xor_si128(x, _mm_set1_epi8(static_cast<char>(0x80))),
                                     _mm_set1_epi8(static_cast<char>(0xA0)));
    __m128i quote = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
    __m128i backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
    int bad = _mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash)));
    if (bad != 0) return static_cast<size_t>(q - p) + static_cast<size_t>(__builtin_ctz(bad));
    q += 16;
  }
#endif
  while (q < end && *q >= 0x20 && *q != '"' && *q != '\\') ++q;
  return static_cast<size_t>(q - p);
}

// How many bytes from `p` are printable ASCII that need no escape: the whole of most strings
// an encoder writes (keys, ids, roles, English text), which then take one pass and one append
// instead of a UTF-8 pass and an escape pass with byte loops for their tails. Signed, a byte
// below 0x20 or at 0x80 and above compares less than 0x20.
size_t plain_ascii_prefix(const unsigned char* p, const unsigned char* end) {
  const size_t size = static_cast<size_t>(end - p);
#if defined(__SSE2__)
  auto bad_mask = [](const unsigned char* at) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
    __m128i low = _mm_cmplt_epi8(x, _mm_set1_epi8(0x20));
    __m128i quote = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
    __m128i backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
    return static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(low, _mm_or_si128(quote, backslash))));
  };
  if (size < 16) {
    // Padded with a plain byte into one block: no byte loop for short strings.
    alignas(16) unsigned char block[16];
    std::memset(block, 'a', sizeof block);
    std::memcpy(block, p, size);
    unsigned bad = bad_mask(block);
    return bad != 0 ? static_cast<size_t>(__builtin_ctz(bad)) : size;
  }
  size_t i = 0;
  for (; i + 16 <= size; i += 16) {
    if (unsigned bad = bad_mask(p + i)) return i + static_cast<size_t>(__builtin_ctz(bad));
  }
  if (i == size) return size;
  // The last block overlaps the one before: its first (16 - rest) bytes are known plain.
  if (unsigned bad = bad_mask(end - 16)) return size - 16 + static_cast<size_t>(__builtin_ctz(bad));
  return size;
#else
  size_t i = 0;
  while (i < size && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\') ++i;
  return i;
#endif
}

// Strict UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF), the same rules as
// the JSON library's decoder, so "valid" here means dump() would keep every byte.
bool valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      p += ascii_prefix(p, end);
      continue;
    }
    size_t n = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) low = 0xA0;
      if (c == 0xED) high = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) low = 0x90;
      if (c == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (static_cast<size_t>(end - p) <= n) return false;
    if (p[1] < low || p[1] > high) return false;
    for (size_t i = 2; i <= n; ++i) {
      if (p[i] < 0x80 || p[i] > 0xBF) return false;
    }
    p += n + 1;
  }
  return true;
}

}  // namespace

void write_string(std::string& out, std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t plain = plain_ascii_prefix(bytes, bytes + text.size());
  if (plain == text.size()) {
    // Quote, text, quote with one call and one copy: push_back and append are an out-of-line
    // call each (every request writes a few dozen strings). The quotes are laid down first,
    // the text then copied between them.
    const size_t at = out.size();
    out.append(text.size() + 2, '"');
    text.copy(out.data() + at + 1, text.size());
    return;
  }
  // The plain prefix is valid UTF-8 on its own: only the rest needs the check.
  if (!valid_utf8(text.substr(plain))) {
    out += dump(Json(std::string(text)));
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t plain_from = 0;
  for (size_t i = plain; i < text.size(); ++i) {
    i += unescaped_prefix(bytes + i, bytes + text.size());
    if (i == text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + plain_from, i - plain_from);
    plain_from = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
        break;
    }
  }
  out.append(text.data() + plain_from, text.size() - plain_from);
  out.push_back('"');
}

void write_int(std::string& out, int64_t value) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

void write_double(std::string& out, double value) { out += dump(Json(value)); }

}  // namespace sy::backends::openai::detail
