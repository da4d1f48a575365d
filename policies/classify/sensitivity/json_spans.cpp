// JsonSpans: a recursive-descent pass that records spans (see json_spans.h).

#include "classify/sensitivity/json_spans.h"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "switchyard/backends/text_codec.h"

namespace sy::policies::sensitivity_detail {

namespace {

using backends::append_utf8;
using backends::hex_value;

// Four hex digits at `p` (bounds checked by the caller).
int hex4(const char* p) {
  int v = 0;
  for (int i = 0; i < 4; ++i) {
    int h = hex_value(p[i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

// The length of the UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates, at most
// U+10FFFF), or 0 when it is not one.
size_t utf8_length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return k < s.size() && b(k) >= lo && b(k) <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c == 0xE0) return cont(i + 1, 0xA0) && cont(i + 2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(i + 1) && cont(i + 2) ? 3 : 0;
  if (c == 0xED) return cont(i + 1, 0x80, 0x9F) && cont(i + 2) ? 3 : 0;
  if (c == 0xF0) return cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (c == 0xF4) return cont(i + 1, 0x80, 0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  return 0;
}

}  // namespace

void JsonSpans::skip_space() {
  while (pos_ < text_.size()) {
    char c = text_[pos_];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    ++pos_;
  }
}

bool JsonSpans::parse(std::string_view text) {
  if (text.size() >= (size_t{1} << 32) - 1) return false;
  text_ = text;
  pos_ = 0;
  nodes_.clear();
  members_.clear();
  stack_.clear();
  repeated_ = false;
  repeated_name_ = {};
  uint32_t root = 0;
  if (!parse_value(0, root)) return false;
  skip_space();
  return pos_ == text_.size();
}

// A string at pos_ (on its opening quote): checks its escapes and its UTF-8.
bool JsonSpans::parse_string(uint32_t& index) {
  ++pos_;
  JsonNode n{.kind = JsonNode::Kind::string, .begin = static_cast<uint32_t>(pos_)};
  const size_t size = text_.size();
  while (true) {
    // Plain printable ASCII runs are the common case: 16 bytes at a time, stopping at the
    // first quote, backslash, control byte or non-ASCII byte.
#if defined(__SSE2__)
    while (pos_ + 16 <= size) {
      __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text_.data() + pos_));
      // Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too.
      __m128i stop = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
                                  _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                               _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
      int mask = _mm_movemask_epi8(stop);
      if (mask != 0) {
        pos_ += static_cast<size_t>(std::countr_zero(static_cast<unsigned>(mask)));
        break;
      }
      pos_ += 16;
    }
#endif
    while (pos_ < size) {
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
      ++pos_;
    }
    if (pos_ >= size) return false;
    unsigned char c = static_cast<unsigned char>(text_[pos_]);
    if (c == '"') break;
    if (c < 0x20) return false;
    if (c >= 0x80) {
      size_t length = utf8_length(text_, pos_);
      if (length == 0) return false;
      pos_ += length;
      continue;
    }
    // A backslash.
    n.escaped = true;
    if (pos_ + 1 >= size) return false;
    char e = text_[pos_ + 1];
    if (e == 'u') {
      if (pos_ + 6 > size) return false;
      int cp = hex4(text_.data() + pos_ + 2);
      if (cp < 0) return false;
      pos_ += 6;
      if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate needs its low half
        if (pos_ + 6 > size || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') return false;
        int low = hex4(text_.data() + pos_ + 2);
        if (low < 0xDC00 || low > 0xDFFF) return false;
        pos_ += 6;
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return false;
      }
      continue;
    }
    if (std::strchr("\"\\/bfnrt", e) == nullptr || e == '\0') return false;
    pos_ += 2;
  }
  n.end = static_cast<uint32_t>(pos_);
  ++pos_;  // the closing quote
  index = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back(n);
  return true;
}

bool JsonSpans::parse_value(size_t depth, uint32_t& index) {
  if (depth > kMaxDepth) return false;
  skip_space();
  if (pos_ >= text_.size()) return false;
  char c = text_[pos_];
  if (c == '"') return parse_string(index);
  if (c == '{' || c == '[') {
    const bool object = c == '{';
    index = static_cast<uint32_t>(nodes_.size());
    nodes_.push_back({.kind = object ? JsonNode::Kind::object : JsonNode::Kind::array});
    ++pos_;
    const size_t mark = stack_.size();
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == (object ? '}' : ']')) {
      ++pos_;
    } else {
      while (true) {
        uint32_t child = 0;
        if (object) {
          skip_space();
          if (pos_ >= text_.size() || text_[pos_] != '"' || !parse_string(child)) return false;
          if (nodes_[child].escaped) return false;  // left to nlohmann (see the header)
          stack_.push_back(child);
          skip_space();
          if (pos_ >= text_.size() || text_[pos_] != ':') return false;
          ++pos_;
        }
        if (!parse_value(depth + 1, child)) return false;
        stack_.push_back(child);
        skip_space();
        if (pos_ >= text_.size()) return false;
        char d = text_[pos_++];
        if (d == ',') continue;
        if (d == (object ? '}' : ']')) break;
        return false;
      }
    }
    JsonNode& n = nodes_[index];
    n.first = static_cast<uint32_t>(members_.size());
    if (!object) {
      n.count = static_cast<uint32_t>(stack_.size() - mark);
      members_.insert(members_.end(), stack_.begin() + static_cast<std::ptrdiff_t>(mark),
                      stack_.end());
    } else {
      // Name order, a repeated name's last value kept: what a std::map-backed
      // nlohmann::json holds after parsing.
      struct Member {
        std::string_view name;
        uint32_t key;
        uint32_t value;
        size_t order;
      };
      std::vector<Member> members;
      members.reserve((stack_.size() - mark) / 2);
      for (size_t k = mark; k < stack_.size(); k += 2) {
        const JsonNode& key = nodes_[stack_[k]];
        members.push_back(
            {text_.substr(key.begin, key.end - key.begin), stack_[k], stack_[k + 1], k});
      }
      std::stable_sort(members.begin(), members.end(),
                       [](const Member& a, const Member& b) { return a.name < b.name; });
      uint32_t count = 0;
      for (size_t k = 0; k < members.size(); ++k) {
        if (k + 1 < members.size() && members[k + 1].name == members[k].name) {
          if (!repeated_) repeated_name_ = members[k].name;
          repeated_ = true;
          continue;
        }
        members_.push_back(members[k].key);
        members_.push_back(members[k].value);
        ++count;
      }
      nodes_[index].count = count;
    }
    stack_.resize(mark);
    return true;
  }
  // A number or a literal: its token, checked the way the grammar says.
  size_t start = pos_;
  JsonNode n{.begin = static_cast<uint32_t>(start)};
  auto literal = [&](std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  };
  if (c == 't' || c == 'f' || c == 'n') {
    if (!literal(c == 't' ? "true" : c == 'f' ? "false" : "null")) return false;
    n.kind = JsonNode::Kind::literal;
  } else {
    auto digit = [&] { return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; };
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    if (!digit()) return false;
    if (text_[pos_] == '0') {
      ++pos_;
    } else {
      while (digit()) ++pos_;
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digit()) return false;
      while (digit()) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!digit()) return false;
      while (digit()) ++pos_;
    }
    n.kind = JsonNode::Kind::number;
  }
  n.end = static_cast<uint32_t>(pos_);
  index = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back(n);
  return true;
}

std::string_view JsonSpans::value(const JsonNode& n, std::string& scratch) const {
  std::string_view raw = text_.substr(n.begin, n.end - n.begin);
  if (!n.escaped) return raw;
  scratch.clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      scratch.push_back(raw[i]);
      continue;
    }
    char e = raw[++i];
    switch (e) {
      case 'b':
        scratch.push_back('\b');
        break;
      case 'f':
        scratch.push_back('\f');
        break;
      case 'n':
        scratch.push_back('\n');
        break;
      case 'r':
        scratch.push_back('\r');
        break;
      case 't':
        scratch.push_back('\t');
        break;
      case 'u': {
        uint32_t cp = static_cast<uint32_t>(hex4(raw.data() + i + 1));
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {  // checked by parse_string: its pair follows
          uint32_t low = static_cast<uint32_t>(hex4(raw.data() + i + 3));
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          i += 6;
        }
        append_utf8(scratch, cp);
        break;
      }
      default:  // " \ /
        scratch.push_back(e);
    }
  }
  return scratch;
}

}  // namespace sy::policies::sensitivity_detail
