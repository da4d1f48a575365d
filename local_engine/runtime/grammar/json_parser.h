#pragma once
// A byte-at-a-time recognizer of a JsonSchema's instances: a pushdown automaton whose stack
// holds the open objects/arrays under the value being read. anyOf makes it nondeterministic: a
// step may fork a stack into one per alternative that can take the byte.
//
// The output language: JSON with at most schema.max_whitespace whitespace bytes in a row where
// JSON allows whitespace (and none after the complete value), declared properties in schema
// order, enum/const values spelled as compact JSON, strings of well-formed UTF-8 and JSON
// escapes (surrogates paired), numbers per RFC 8259 with bounded digit runs (18 integer or
// fraction digits, 2 exponent digits so no number overflows a double).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "runtime/grammar/json_schema.h"

namespace sy::engine::grammar {

enum class FrameKind : uint8_t { root, value, object, free_object, array, string, number, literal };

// One open construct. Fields are zeroed when a frame is made, so frames compare bytewise.
struct Frame {
  uint32_t node;  // schema node (literal: literal set)
  FrameKind kind;
  uint8_t phase;
  uint8_t ws;   // whitespace bytes in a row at the current place
  uint8_t aux;  // string: UTF-8 continuation bytes / hex digits left; number: run length
  uint32_t a;   // object: next property cursor; array/free object: count; string: code points;
                // literal: range lo | hi << 16
  uint32_t b;   // object: property being read; string: partial \u value or UTF-8 byte range;
                // literal: position
  bool operator==(const Frame&) const = default;
};
static_assert(sizeof(Frame) == 16);

// Root + max_depth (<= 64) containers + the value being read.
inline constexpr size_t kMaxFrames = 68;

// A stack of frames whose bottom may be borrowed, read-only, from another stack (a committed
// one) so that copying a stack while walking a token trie copies only the frames it changed.
class ParseStack {
 public:
  size_t size() const { return base_len_ + len_; }
  const Frame& at(size_t i) const { return i < base_len_ ? base_[i] : own_[i - base_len_]; }
  const Frame& peek() const { return at(size() - 1); }
  // The top frame, writable: taken over from the borrowed part when needed.
  Frame& top() {
    if (len_ == 0) {
      own_[0] = base_[--base_len_];
      len_ = 1;
    }
    return own_[len_ - 1];
  }
  bool push(const Frame& f) {
    if (size() >= kMaxFrames) return false;
    own_[len_++] = f;
    return true;
  }
  void pop() {
    if (len_ > 0) {
      --len_;
    } else {
      --base_len_;
    }
  }
  void copy_from(const ParseStack& o) {
    base_ = o.base_;
    base_len_ = o.base_len_;
    len_ = o.len_;
    std::memcpy(own_, o.own_, len_ * sizeof(Frame));
  }
  // Borrows every frame of `committed`, which must not change while this stack is in use.
  void borrow(const ParseStack& committed) {
    base_ = committed.own_;
    base_len_ = committed.len_;
    len_ = 0;
  }
  // Owns every frame (for a stack that outlives what it borrowed).
  void own() {
    if (base_len_ == 0) return;
    std::memmove(own_ + base_len_, own_, len_ * sizeof(Frame));
    std::memcpy(own_, base_, base_len_ * sizeof(Frame));
    len_ += base_len_;
    base_len_ = 0;
    base_ = nullptr;
  }
  bool operator==(const ParseStack& o) const {
    if (size() != o.size()) return false;
    for (size_t i = 0; i < size(); ++i) {
      if (!(at(i) == o.at(i))) return false;
    }
    return true;
  }

 private:
  const Frame* base_ = nullptr;
  uint32_t base_len_ = 0;
  uint32_t len_ = 0;
  Frame own_[kMaxFrames];
};

// Stacks a fork produced, reused across steps without reallocating.
class StackPool {
 public:
  void clear() { count_ = 0; }
  size_t size() const { return count_; }
  ParseStack& operator[](size_t i) { return items_[i]; }
  ParseStack& add() {
    if (count_ == items_.size()) items_.emplace_back();
    return items_[count_++];
  }

 private:
  std::vector<ParseStack> items_;
  size_t count_ = 0;
};

class JsonParser {
 public:
  explicit JsonParser(const JsonSchema& schema) : schema_(schema) {}

  enum class Step {
    accepted,  // the stack is its own successor
    rejected,  // the byte cannot come next
    forked,    // the successors were appended to `forks`; the stack itself is spent
  };

  void start(ParseStack& s) const;
  Step advance(ParseStack& s, uint8_t byte, StackPool& forks) const;
  // The value is whole if the input ends here (a number may still grow).
  bool can_end(const ParseStack& s) const;
  // The value is whole and nothing can follow.
  static bool complete(const ParseStack& s) {
    return s.size() == 1 && s.peek().kind == FrameKind::root && s.peek().phase == 2;
  }
  // When the top of `s` is a string between characters, how many more code points it may
  // take (kUnbounded without maxLength); a token of plain text (see plain_text_code_points)
  // then keeps the stack as it is apart from that count. Otherwise -1.
  int64_t plain_text_room(const ParseStack& s) const;
  // Code points of `bytes` when they are whole UTF-8 characters with no '"', '\' or control
  // byte (text that can only ever continue a string); -1 otherwise.
  static int64_t plain_text_code_points(std::string_view bytes);
  // Feeds `text`; false if some byte is rejected. For tests: forks are followed breadth-first.
  bool accepts(std::string_view text, bool need_end = true) const;

 private:
  enum class Act { consumed, rejected, again, forked };
  Act value(ParseStack& s, uint8_t c, StackPool& forks) const;
  Act object(ParseStack& s, uint8_t c) const;
  Act free_object(ParseStack& s, uint8_t c) const;
  Act array(ParseStack& s, uint8_t c) const;
  Act string(ParseStack& s, uint8_t c) const;
  Act number(ParseStack& s, uint8_t c) const;
  Act literal(ParseStack& s, uint8_t c) const;
  // The top frame's value is whole: pop it and move its parent on. `tag`: the matched key.
  void finish(ParseStack& s, uint32_t tag = 0) const;
  bool fits(NodeId node, size_t depth) const {
    return depth + schema_.nodes[node].min_depth <= schema_.max_depth;
  }
  bool key_fits(const Frame& object, size_t depth, uint32_t lo, uint32_t hi) const;

  const JsonSchema& schema_;
};

}  // namespace sy::engine::grammar
