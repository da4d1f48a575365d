#pragma once
// The little Unicode the tokenizers need: UTF-8 decoding that keeps every byte (an invalid byte
// becomes one code point of category kUndefined, so pieces always slice the original text) and
// the general-category classes the pre-tokenizer patterns test.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sy::engine::unicode {

// kOther holds separators (Z*) and control/format/private-use code points (C* but Cn).
enum class Category : uint8_t {
  kUndefined,
  kLetter,
  kNumber,
  kPunctuation,
  kOther,
  kMark,
  kSymbol,
};

struct CategoryRange {
  uint32_t first;
  uint32_t last;
  Category category;
};

struct CodePoint {
  uint32_t value;
  uint32_t offset;  // byte offset in the text
  uint8_t length;   // bytes
};

std::vector<CodePoint> decode_utf8(std::string_view text);
std::string encode_utf8(uint32_t cp);
Category category(uint32_t cp);
// llama.cpp's whitespace set: \t..\r, space, U+0085, U+00A0, U+1680, U+2000..U+200A,
// U+2028/9, U+202F, U+205F, U+3000.
bool is_whitespace(uint32_t cp);
inline bool is_letter(uint32_t cp) { return category(cp) == Category::kLetter; }
inline bool is_number(uint32_t cp) { return category(cp) == Category::kNumber; }
inline bool is_punctuation(uint32_t cp) { return category(cp) == Category::kPunctuation; }
inline bool is_mark(uint32_t cp) { return category(cp) == Category::kMark; }
inline bool is_symbol(uint32_t cp) { return category(cp) == Category::kSymbol; }

}  // namespace sy::engine::unicode
