#include "json_reader.h"

#include <charconv>
#include <limits>

#include "switchyard/backends/text_codec.h"

namespace sy::backends::openai::detail {

namespace {

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Length of the well-formed UTF-8 sequence at `p` (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0. `p[0]` is >= 0x80.
size_t utf8_sequence(const unsigned char* p, const unsigned char* end) {
  auto in = [](unsigned char c, unsigned char lo, unsigned char hi) { return c >= lo && c <= hi; };
  const size_t left = static_cast<size_t>(end - p);
  const unsigned char c = p[0];
  if (in(c, 0xC2, 0xDF)) return left >= 2 && in(p[1], 0x80, 0xBF) ? 2 : 0;
  if (in(c, 0xE0, 0xEF)) {
    if (left < 3) return 0;
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
    return in(p[1], lo, hi) && in(p[2], 0x80, 0xBF) ? 3 : 0;
  }
  if (in(c, 0xF0, 0xF4)) {
    if (left < 4) return 0;
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
    return in(p[1], lo, hi) && in(p[2], 0x80, 0xBF) && in(p[3], 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

}  // namespace

JsonReader::JsonReader(std::string_view text, size_t max_depth)
    : p_(text.data()), end_(text.data() + text.size()), max_depth_(max_depth) {}

void JsonReader::skip_ws() {
  while (p_ != end_ && is_ws(*p_)) ++p_;
}

bool JsonReader::expect(char c) {
  skip_ws();
  if (failed_ || p_ == end_ || *p_ != c) return fail();
  ++p_;
  return true;
}

bool JsonReader::enter() {
  if (++depth_ > max_depth_) return fail();
  first_ = true;
  return true;
}

JsonReader::Type JsonReader::peek() {
  skip_ws();
  if (failed_ || p_ == end_) return Type::invalid;
  switch (*p_) {
    case '{':
      return Type::object;
    case '[':
      return Type::array;
    case '"':
      return Type::string;
    case 't':
    case 'f':
      return Type::boolean;
    case 'n':
      return Type::null;
    default:
      return *p_ == '-' || is_digit(*p_) ? Type::number : Type::invalid;
  }
}

bool JsonReader::begin_object() { return expect('{') && enter(); }

bool JsonReader::begin_array() { return expect('[') && enter(); }

bool JsonReader::next_member(std::string_view& key) {
  skip_ws();
  if (failed_ || p_ == end_) return fail();
  if (*p_ == '}') {
    first_ = false;
    ++p_;
    --depth_;
    return false;
  }
  if (!first_ && !expect(',')) return false;
  first_ = false;
  skip_ws();
  if (p_ == end_ || *p_ != '"') return fail();
  // A key without escapes is a view into the text; one with escapes is decoded.
  const char* start = p_ + 1;
  const char* q = start;
  while (q != end_ && *q != '"' && *q != '\\' && static_cast<unsigned char>(*q) >= 0x20 &&
         static_cast<unsigned char>(*q) < 0x80) {
    ++q;
  }
  if (q != end_ && *q == '"') {
    key = std::string_view(start, static_cast<size_t>(q - start));
    p_ = q + 1;
  } else {
    if (!scan_string(&key_)) return false;
    key = key_;
  }
  return expect(':');
}

bool JsonReader::next_element() {
  skip_ws();
  if (failed_ || p_ == end_) return fail();
  if (*p_ == ']') {
    first_ = false;
    ++p_;
    --depth_;
    return false;
  }
  if (!first_ && !expect(',')) return false;
  first_ = false;
  return true;
}

// At the opening quote. Decodes into `out` unless it is null (validation only).
bool JsonReader::scan_string(std::string* out) {
  skip_ws();
  if (failed_ || p_ == end_ || *p_ != '"') return fail();
  ++p_;
  if (out) out->clear();
  while (true) {
    // Plain ASCII runs are copied at once.
    const char* run = p_;
    while (p_ != end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20 &&
           static_cast<unsigned char>(*p_) < 0x80) {
      ++p_;
    }
    if (out) out->append(run, static_cast<size_t>(p_ - run));
    if (p_ == end_) return fail();
    const unsigned char c = static_cast<unsigned char>(*p_);
    if (c == '"') {
      ++p_;
      return true;
    }
    if (c < 0x20) return fail();  // control characters must be escaped
    if (c >= 0x80) {
      size_t n = utf8_sequence(reinterpret_cast<const unsigned char*>(p_),
                               reinterpret_cast<const unsigned char*>(end_));
      if (n == 0) return fail();
      if (out) out->append(p_, n);
      p_ += n;
      continue;
    }
    // A backslash escape.
    if (end_ - p_ < 2) return fail();
    const char e = p_[1];
    p_ += 2;
    char simple = 0;
    switch (e) {
      case '"':
        simple = '"';
        break;
      case '\\':
        simple = '\\';
        break;
      case '/':
        simple = '/';
        break;
      case 'b':
        simple = '\b';
        break;
      case 'f':
        simple = '\f';
        break;
      case 'n':
        simple = '\n';
        break;
      case 'r':
        simple = '\r';
        break;
      case 't':
        simple = '\t';
        break;
      case 'u':
        break;
      default:
        return fail();
    }
    if (e != 'u') {
      if (out) out->push_back(simple);
      continue;
    }
    auto read_hex4 = [this](uint32_t& value) {
      if (end_ - p_ < 4) return false;
      value = 0;
      for (int i = 0; i < 4; ++i) {
        int h = hex_value(p_[i]);
        if (h < 0) return false;
        value = value * 16 + static_cast<uint32_t>(h);
      }
      p_ += 4;
      return true;
    };
    uint32_t cp = 0;
    if (!read_hex4(cp)) return fail();
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail();  // a low surrogate first
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      // A high surrogate must be followed by an escaped low one.
      uint32_t low = 0;
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return fail();
      p_ += 2;
      if (!read_hex4(low) || low < 0xDC00 || low > 0xDFFF) return fail();
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (out) append_utf8(*out, cp);
  }
}

bool JsonReader::read_string(std::string& out) {
  if (peek() != Type::string) return fail();
  return scan_string(&out);
}

bool JsonReader::literal(std::string_view word) {
  if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) {
    return fail();
  }
  p_ += word.size();
  return true;
}

bool JsonReader::read_bool(bool& out) {
  if (peek() != Type::boolean) return fail();
  out = *p_ == 't';
  return literal(out ? "true" : "false");
}

bool JsonReader::read_null() {
  if (peek() != Type::null) return fail();
  return literal("null");
}

// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool JsonReader::scan_number(bool& integer, std::string_view& text) {
  if (peek() != Type::number) return fail();
  const char* start = p_;
  if (*p_ == '-') ++p_;
  if (p_ == end_ || !is_digit(*p_)) return fail();
  if (*p_ == '0') {
    ++p_;
  } else {
    while (p_ != end_ && is_digit(*p_)) ++p_;
  }
  integer = true;
  if (p_ != end_ && *p_ == '.') {
    integer = false;
    ++p_;
    if (p_ == end_ || !is_digit(*p_)) return fail();
    while (p_ != end_ && is_digit(*p_)) ++p_;
  }
  if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
    integer = false;
    ++p_;
    if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
    if (p_ == end_ || !is_digit(*p_)) return fail();
    while (p_ != end_ && is_digit(*p_)) ++p_;
  }
  text = std::string_view(start, static_cast<size_t>(p_ - start));
  return true;
}

bool JsonReader::read_int(int64_t& out) {
  bool integer = false;
  std::string_view text;
  if (!scan_number(integer, text)) return false;
  if (!integer) return fail();
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || ptr != text.data() + text.size()) return fail();
  return true;
}

bool JsonReader::read_number(bool& integer, int64_t& i, double& d) {
  std::string_view text;
  if (!scan_number(integer, text)) return false;
  const char* last = text.data() + text.size();
  if (integer) {
    auto [ptr, ec] = std::from_chars(text.data(), last, i);
    return ec == std::errc() && ptr == last ? true : fail();
  }
  auto [ptr, ec] = std::from_chars(text.data(), last, d);
  return ec == std::errc() && ptr == last ? true : fail();
}

bool JsonReader::read_double(double& out) {
  bool integer = false;
  std::string_view text;
  if (!scan_number(integer, text)) return false;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (integer) {
    // The library keeps integer literals as integers ("-0" is 0) and converts on reading.
    int64_t i = 0;
    if (auto [ptr, ec] = std::from_chars(first, last, i); ec == std::errc() && ptr == last) {
      out = static_cast<double>(i);
      return true;
    }
    uint64_t u = 0;
    if (auto [ptr, ec] = std::from_chars(first, last, u); ec == std::errc() && ptr == last) {
      out = static_cast<double>(u);
      return true;
    }
  }
  auto [ptr, ec] = std::from_chars(first, last, out);
  if (ec != std::errc() || ptr != last) return fail();
  return true;
}

bool JsonReader::skip_value() {
  switch (peek()) {
    case Type::object: {
      if (!begin_object()) return false;
      std::string_view key;
      while (next_member(key)) {
        if (!skip_value()) return false;
      }
      return !failed_;
    }
    case Type::array:
      if (!begin_array()) return false;
      while (next_element()) {
        if (!skip_value()) return false;
      }
      return !failed_;
    case Type::string:
      return scan_string(nullptr);
    case Type::number: {
      bool integer = false;
      std::string_view text;
      return scan_number(integer, text);
    }
    case Type::boolean: {
      bool ignored = false;
      return read_bool(ignored);
    }
    case Type::null:
      return read_null();
    case Type::invalid:
      break;
  }
  return fail();
}

bool JsonReader::at_end() {
  skip_ws();
  return !failed_ && p_ == end_;
}

}  // namespace sy::backends::openai::detail
