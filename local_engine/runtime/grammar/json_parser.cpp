#include "runtime/grammar/json_parser.h"

#include <algorithm>

namespace sy::engine::grammar {
namespace {

// Root phases.
constexpr uint8_t kRootBefore = 0, kRootValue = 1, kRootDone = 2;
// Container phases (objects use all, arrays open/value/after_value/after_comma).
constexpr uint8_t kOpen = 0, kKey = 1, kAfterKey = 2, kAfterColon = 3, kInValue = 4,
                  kAfterValue = 5, kAfterComma = 6;
// String phases.
constexpr uint8_t kChars = 0, kUtf8 = 1, kEscape = 2, kHex = 3, kLowBackslash = 4, kLowU = 5,
                  kLowHex = 6;
// Number phases; the accepting ones are zero, int, frac and exp_digits.
constexpr uint8_t kStart = 0, kMinus = 1, kZero = 2, kInt = 3, kDot = 4, kFrac = 5, kExp = 6,
                  kExpSign = 7, kExpDigits = 8;
// Exponents of two digits keep every number a double can hold (no overflow to infinity).
constexpr uint8_t kMaxDigits = 18, kMaxExpDigits = 2;

Frame make(FrameKind kind, uint32_t node) {
  Frame f;
  std::memset(&f, 0, sizeof f);
  f.kind = kind;
  f.node = node;
  return f;
}

bool is_ws(uint8_t c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

uint32_t range(uint8_t lo, uint8_t hi) { return lo | (static_cast<uint32_t>(hi) << 8); }

bool number_accepting(uint8_t phase) {
  return phase == kZero || phase == kInt || phase == kFrac || phase == kExpDigits;
}

}  // namespace

void JsonParser::start(ParseStack& s) const {
  while (s.size() > 0) s.pop();
  s.push(make(FrameKind::root, schema_.root));
}

bool JsonParser::key_fits(const Frame& object, size_t depth, uint32_t lo, uint32_t hi) const {
  const SchemaNode& node = schema_.nodes[object.node];
  if (depth + node.max_property_depth <= schema_.max_depth) return true;
  const LiteralSet& set = schema_.literal_sets[node.key_sets[object.a]];
  for (uint32_t i = lo; i < hi; ++i) {
    if (fits(node.properties[set.tags[i]].value, depth)) return true;
  }
  return false;
}

void JsonParser::finish(ParseStack& s, uint32_t tag) const {
  s.pop();
  Frame& p = s.top();
  p.ws = 0;
  switch (p.kind) {
    case FrameKind::root:
      p.phase = kRootDone;
      break;
    case FrameKind::object:
      if (p.phase == kKey) {
        p.phase = kAfterKey;
        p.b = tag;
        p.a = tag + 1;
      } else {
        p.phase = kAfterValue;
      }
      break;
    case FrameKind::free_object:
    case FrameKind::array:
      if (p.phase == kKey) {
        p.phase = kAfterKey;
      } else {
        p.phase = kAfterValue;
        ++p.a;
      }
      break;
    default:
      break;
  }
}

JsonParser::Step JsonParser::advance(ParseStack& s, uint8_t c, StackPool& forks) const {
  for (;;) {
    Act act = Act::rejected;
    Frame& f = s.top();
    switch (f.kind) {
      case FrameKind::root:
        if (f.phase == kRootDone) return Step::rejected;
        if (is_ws(c)) {
          if (f.ws >= schema_.max_whitespace) return Step::rejected;
          ++f.ws;
          return Step::accepted;
        }
        f.phase = kRootValue;
        f.ws = 0;
        s.push(make(FrameKind::value, schema_.root));
        act = Act::again;
        break;
      case FrameKind::value:
        act = value(s, c, forks);
        break;
      case FrameKind::object:
        act = object(s, c);
        break;
      case FrameKind::free_object:
        act = free_object(s, c);
        break;
      case FrameKind::array:
        act = array(s, c);
        break;
      case FrameKind::string:
        act = string(s, c);
        break;
      case FrameKind::number:
        act = number(s, c);
        break;
      case FrameKind::literal:
        act = literal(s, c);
        break;
    }
    switch (act) {
      case Act::consumed:
        return Step::accepted;
      case Act::rejected:
        return Step::rejected;
      case Act::forked:
        return Step::forked;
      case Act::again:
        break;
    }
  }
}

JsonParser::Act JsonParser::value(ParseStack& s, uint8_t c, StackPool& forks) const {
  Frame& f = s.top();
  const SchemaNode& node = schema_.nodes[f.node];
  const size_t depth = s.size() - 2;  // containers under this value
  switch (node.kind) {
    case NodeKind::any_of: {
      size_t fitting = 0;
      NodeId only = 0;
      for (NodeId a : node.alternatives) {
        if (fits(a, depth)) {
          ++fitting;
          only = a;
        }
      }
      if (fitting == 0) return Act::rejected;
      if (fitting == 1) {
        f.node = only;
        return Act::again;
      }
      for (NodeId a : node.alternatives) {
        if (!fits(a, depth)) continue;
        ParseStack branch;
        branch.copy_from(s);
        branch.top().node = a;
        if (advance(branch, c, forks) == Step::accepted) forks.add().copy_from(branch);
      }
      return Act::forked;
    }
    case NodeKind::object:
      if (c != '{') return Act::rejected;
      f = make(FrameKind::object, f.node);
      return Act::consumed;
    case NodeKind::free_object:
      if (c != '{') return Act::rejected;
      f = make(FrameKind::free_object, f.node);
      return Act::consumed;
    case NodeKind::array:
      if (c != '[') return Act::rejected;
      f = make(FrameKind::array, f.node);
      return Act::consumed;
    case NodeKind::string:
      if (c != '"') return Act::rejected;
      f = make(FrameKind::string, f.node);
      return Act::consumed;
    case NodeKind::number:
    case NodeKind::integer:
      f = make(FrameKind::number, f.node);
      return Act::again;
    case NodeKind::literal: {
      const uint32_t n = static_cast<uint32_t>(schema_.literal_sets[node.literal_set].texts.size());
      f = make(FrameKind::literal, node.literal_set);
      f.a = n << 16;
      return Act::again;
    }
  }
  return Act::rejected;
}

JsonParser::Act JsonParser::object(ParseStack& s, uint8_t c) const {
  Frame& f = s.top();
  const SchemaNode& node = schema_.nodes[f.node];
  const size_t depth = s.size() - 1;  // this object counted
  if (is_ws(c)) {
    if (f.ws >= schema_.max_whitespace) return Act::rejected;
    ++f.ws;
    return Act::consumed;
  }
  switch (f.phase) {
    case kOpen:
    case kAfterComma: {
      if (c == '}' && f.phase == kOpen && node.may_close[f.a]) {
        finish(s);
        return Act::consumed;
      }
      if (c != '"') return Act::rejected;
      const LiteralSet& keys = schema_.literal_sets[node.key_sets[f.a]];
      if (keys.texts.empty()) return Act::rejected;
      const uint32_t n = static_cast<uint32_t>(keys.texts.size());
      if (!key_fits(f, depth, 0, n)) return Act::rejected;
      f.phase = kKey;
      f.ws = 0;
      Frame key = make(FrameKind::literal, node.key_sets[f.a]);
      key.a = n << 16;
      if (!s.push(key)) return Act::rejected;
      return Act::again;
    }
    case kAfterKey:
      if (c != ':') return Act::rejected;
      f.phase = kAfterColon;
      f.ws = 0;
      return Act::consumed;
    case kAfterColon:
      f.phase = kInValue;
      f.ws = 0;
      if (!s.push(make(FrameKind::value, node.properties[f.b].value))) return Act::rejected;
      return Act::again;
    case kAfterValue:
      if (c == '}' && node.may_close[f.a]) {
        finish(s);
        return Act::consumed;
      }
      if (c == ',') {
        const LiteralSet& keys = schema_.literal_sets[node.key_sets[f.a]];
        const uint32_t n = static_cast<uint32_t>(keys.texts.size());
        if (n == 0 || !key_fits(f, depth, 0, n)) return Act::rejected;
        f.phase = kAfterComma;
        f.ws = 0;
        return Act::consumed;
      }
      return Act::rejected;
    default:
      return Act::rejected;
  }
}

JsonParser::Act JsonParser::free_object(ParseStack& s, uint8_t c) const {
  Frame& f = s.top();
  const SchemaNode& node = schema_.nodes[f.node];
  const size_t depth = s.size() - 1;
  if (is_ws(c)) {
    if (f.ws >= schema_.max_whitespace) return Act::rejected;
    ++f.ws;
    return Act::consumed;
  }
  switch (f.phase) {
    case kOpen:
    case kAfterComma:
      if (c == '}' && f.phase == kOpen) {
        finish(s);
        return Act::consumed;
      }
      if (c != '"' || !fits(node.value, depth)) return Act::rejected;
      f.phase = kKey;
      f.ws = 0;
      if (!s.push(make(FrameKind::value, schema_.any_string))) return Act::rejected;
      return Act::again;
    case kAfterKey:
      if (c != ':') return Act::rejected;
      f.phase = kAfterColon;
      f.ws = 0;
      return Act::consumed;
    case kAfterColon:
      f.phase = kInValue;
      f.ws = 0;
      if (!s.push(make(FrameKind::value, node.value))) return Act::rejected;
      return Act::again;
    case kAfterValue:
      if (c == '}') {
        finish(s);
        return Act::consumed;
      }
      if (c == ',' && fits(node.value, depth)) {
        f.phase = kAfterComma;
        f.ws = 0;
        return Act::consumed;
      }
      return Act::rejected;
    default:
      return Act::rejected;
  }
}

JsonParser::Act JsonParser::array(ParseStack& s, uint8_t c) const {
  Frame& f = s.top();
  const SchemaNode& node = schema_.nodes[f.node];
  const size_t depth = s.size() - 1;
  if (is_ws(c)) {
    if (f.ws >= schema_.max_whitespace) return Act::rejected;
    ++f.ws;
    return Act::consumed;
  }
  const bool more = f.a < node.max_count && fits(node.value, depth);
  switch (f.phase) {
    case kOpen:
      if (c == ']' && f.a >= node.min_count) {
        finish(s);
        return Act::consumed;
      }
      [[fallthrough]];
    case kAfterComma:
      if (!more) return Act::rejected;
      f.phase = kInValue;
      f.ws = 0;
      if (!s.push(make(FrameKind::value, node.value))) return Act::rejected;
      return Act::again;
    case kAfterValue:
      if (c == ']' && f.a >= node.min_count) {
        finish(s);
        return Act::consumed;
      }
      if (c == ',' && more) {
        f.phase = kAfterComma;
        f.ws = 0;
        return Act::consumed;
      }
      return Act::rejected;
    default:
      return Act::rejected;
  }
}

JsonParser::Act JsonParser::string(ParseStack& s, uint8_t c) const {
  Frame& f = s.top();
  const SchemaNode& node = schema_.nodes[f.node];
  // One more code point, if maxLength allows; without a maxLength the count saturates at
  // minLength so equal states compare equal.
  auto count = [&]() {
    if (f.a >= node.max_count) return false;
    if (node.max_count != kUnbounded || f.a < node.min_count) ++f.a;
    return true;
  };
  switch (f.phase) {
    case kChars:
      if (c == '"') {
        if (f.a < node.min_count) return Act::rejected;
        finish(s);
        return Act::consumed;
      }
      if (c < 0x20) return Act::rejected;
      if (c == '\\') {
        if (!count()) return Act::rejected;
        f.phase = kEscape;
        return Act::consumed;
      }
      if (c < 0x80) return count() ? Act::consumed : Act::rejected;
      // UTF-8 lead bytes and the range of the byte after them (RFC 3629: no overlongs, no
      // surrogates, nothing past U+10FFFF).
      if (c >= 0xC2 && c <= 0xDF) {
        f.aux = 1;
        f.b = range(0x80, 0xBF);
      } else if (c >= 0xE0 && c <= 0xEF) {
        f.aux = 2;
        f.b = c == 0xE0 ? range(0xA0, 0xBF) : c == 0xED ? range(0x80, 0x9F) : range(0x80, 0xBF);
      } else if (c >= 0xF0 && c <= 0xF4) {
        f.aux = 3;
        f.b = c == 0xF0 ? range(0x90, 0xBF) : c == 0xF4 ? range(0x80, 0x8F) : range(0x80, 0xBF);
      } else {
        return Act::rejected;
      }
      if (!count()) return Act::rejected;
      f.phase = kUtf8;
      return Act::consumed;
    case kUtf8:
      if (c < (f.b & 0xFF) || c > (f.b >> 8)) return Act::rejected;
      f.b = range(0x80, 0xBF);
      if (--f.aux == 0) {
        f.phase = kChars;
        f.b = 0;
      }
      return Act::consumed;
    case kEscape:
      if (c == 'u') {
        f.phase = kHex;
        f.aux = 0;
        f.b = 0;
        return Act::consumed;
      }
      if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
          c == 't') {
        f.phase = kChars;
        return Act::consumed;
      }
      return Act::rejected;
    case kHex: {
      const int v = hex_value(c);
      if (v < 0) return Act::rejected;
      if (f.aux == 1 && f.b == 0xD && v >= 0xC) return Act::rejected;  // lone low surrogate
      f.b = f.b * 16 + v;
      if (++f.aux == 4) {
        f.phase = f.b >= 0xD800 && f.b <= 0xDBFF ? kLowBackslash : kChars;
        f.aux = 0;
        f.b = 0;
      }
      return Act::consumed;
    }
    case kLowBackslash:
      if (c != '\\') return Act::rejected;
      f.phase = kLowU;
      return Act::consumed;
    case kLowU:
      if (c != 'u') return Act::rejected;
      f.phase = kLowHex;
      f.aux = 0;
      return Act::consumed;
    case kLowHex: {
      const int v = hex_value(c);
      if (v < 0) return Act::rejected;
      if (f.aux == 0 && v != 0xD) return Act::rejected;
      if (f.aux == 1 && v < 0xC) return Act::rejected;
      if (++f.aux == 4) {
        f.phase = kChars;
        f.aux = 0;
      }
      return Act::consumed;
    }
    default:
      return Act::rejected;
  }
}

JsonParser::Act JsonParser::number(ParseStack& s, uint8_t c) const {
  Frame& f = s.top();
  const bool integer = schema_.nodes[f.node].kind == NodeKind::integer;
  const bool digit = is_digit(c);
  auto next = [&](uint8_t phase) {
    f.phase = phase;
    f.aux = 0;
    return Act::consumed;
  };
  auto run = [&](uint8_t limit) {
    if (f.aux >= limit) return Act::rejected;
    ++f.aux;
    return Act::consumed;
  };
  switch (f.phase) {
    case kStart:
      if (c == '-') return next(kMinus);
      [[fallthrough]];
    case kMinus:
      if (c == '0') return next(kZero);
      if (digit) {
        next(kInt);
        return run(kMaxDigits);
      }
      return Act::rejected;
    case kZero:
    case kInt:
      if (digit) return f.phase == kZero ? Act::rejected : run(kMaxDigits);
      if (!integer && c == '.') return next(kDot);
      if (!integer && (c == 'e' || c == 'E')) return next(kExp);
      break;
    case kDot:
      if (!digit) return Act::rejected;
      next(kFrac);
      return run(kMaxDigits);
    case kFrac:
      if (digit) return run(kMaxDigits);
      if (c == 'e' || c == 'E') return next(kExp);
      break;
    case kExp:
      if (c == '+' || c == '-') return next(kExpSign);
      [[fallthrough]];
    case kExpSign:
      if (!digit) return Act::rejected;
      next(kExpDigits);
      return run(kMaxExpDigits);
    case kExpDigits:
      if (digit) return run(kMaxExpDigits);
      break;
    default:
      return Act::rejected;
  }
  // A whole number followed by a byte that cannot extend it: the parent reads that byte.
  finish(s);
  return Act::again;
}

JsonParser::Act JsonParser::literal(ParseStack& s, uint8_t c) const {
  Frame& f = s.top();
  const LiteralSet& set = schema_.literal_sets[f.node];
  const uint32_t lo = f.a & 0xFFFF, hi = f.a >> 16, pos = f.b;
  // Texts in [lo, hi) share their first `pos` bytes and are sorted, so their bytes at `pos`
  // ascend (a text that ends at `pos` sorts first).
  auto key = [&](uint32_t i) {
    const std::string& t = set.texts[i];
    return t.size() > pos ? static_cast<int>(static_cast<uint8_t>(t[pos])) : -1;
  };
  uint32_t first = lo, last = hi;
  {
    uint32_t l = lo, h = hi;
    while (l < h) {
      uint32_t m = (l + h) / 2;
      if (key(m) < c) {
        l = m + 1;
      } else {
        h = m;
      }
    }
    first = l;
    h = hi;
    while (l < h) {
      uint32_t m = (l + h) / 2;
      if (key(m) <= c) {
        l = m + 1;
      } else {
        h = m;
      }
    }
    last = l;
  }
  if (first < last) {
    // A key's value must still fit under max_depth.
    if (s.size() >= 2) {
      const Frame& parent = s.at(s.size() - 2);
      if (parent.kind == FrameKind::object && parent.phase == kKey &&
          !key_fits(parent, s.size() - 2, first, last)) {
        return Act::rejected;
      }
    }
    f.a = first | (last << 16);
    f.b = pos + 1;
    if (last - first == 1 && set.texts[first].size() == pos + 1) finish(s, set.tags[first]);
    return Act::consumed;
  }
  if (set.texts[lo].size() == pos) {
    finish(s, set.tags[lo]);
    return Act::again;
  }
  return Act::rejected;
}

bool JsonParser::can_end(const ParseStack& committed) const {
  ParseStack s;
  s.borrow(committed);
  for (;;) {
    const Frame& f = s.peek();
    if (f.kind == FrameKind::root) return f.phase == kRootDone;
    if (f.kind == FrameKind::number && number_accepting(f.phase)) {
      finish(s);
    } else if (f.kind == FrameKind::literal &&
               schema_.literal_sets[f.node].texts[f.a & 0xFFFF].size() == f.b) {
      finish(s);
    } else {
      return false;
    }
  }
}

int64_t JsonParser::plain_text_room(const ParseStack& s) const {
  const Frame& f = s.peek();
  if (f.kind != FrameKind::string || f.phase != kChars) return -1;
  const uint32_t max = schema_.nodes[f.node].max_count;
  return max == kUnbounded ? kUnbounded : max - f.a;
}

int64_t JsonParser::plain_text_code_points(std::string_view bytes) {
  int64_t count = 0;
  for (size_t i = 0; i < bytes.size();) {
    const uint8_t c = static_cast<uint8_t>(bytes[i]);
    size_t more = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c < 0x20 || c == '"' || c == '\\') return -1;
    if (c < 0x80) {
      more = 0;
    } else if (c >= 0xC2 && c <= 0xDF) {
      more = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return -1;
    }
    if (i + more >= bytes.size() && more > 0) return -1;
    for (size_t k = 1; k <= more; ++k) {
      const uint8_t n = static_cast<uint8_t>(bytes[i + k]);
      if (n < (k == 1 ? lo : 0x80) || n > (k == 1 ? hi : 0xBF)) return -1;
    }
    i += more + 1;
    ++count;
  }
  return count;
}

bool JsonParser::accepts(std::string_view text, bool need_end) const {
  std::vector<ParseStack> stacks(1);
  start(stacks[0]);
  StackPool forks;
  for (char ch : text) {
    std::vector<ParseStack> next;
    for (auto& st : stacks) {
      ParseStack s;
      s.copy_from(st);
      forks.clear();
      Step r = advance(s, static_cast<uint8_t>(ch), forks);
      if (r == Step::accepted) next.emplace_back().copy_from(s);
      for (size_t i = 0; r == Step::forked && i < forks.size(); ++i) {
        next.emplace_back().copy_from(forks[i]);
      }
    }
    if (next.empty()) return false;
    stacks = std::move(next);
  }
  if (!need_end) return true;
  for (const auto& s : stacks) {
    if (can_end(s)) return true;
  }
  return false;
}

}  // namespace sy::engine::grammar
