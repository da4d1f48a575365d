#pragma once
// JSON text as a tree of byte spans, for the request walk: one pass, no string copies, no
// DOM of owned values. Building an nlohmann::json of the encoded request cost more than
// scanning it (its lexer copies every string byte by byte); the walk only needs to visit each
// string, member name and number once, in the order nlohmann::json would (object members
// sorted by name, a repeated name's last value kept). A repeated name is also noted
// (repeated_name()): the values it hides are never visited.
//
// Accepts a subset of what nlohmann::json::parse accepts (RFC 8259; strings valid UTF-8, \u
// escapes with surrogate pairs checked) and nothing else: a document it refuses (also one
// nested past 512 levels or with an escaped member name) is for the caller to parse the
// old way, which then accepts or refuses it as before.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sy::policies::sensitivity_detail {

struct JsonNode {
  enum class Kind : uint8_t { object, array, string, number, literal };
  Kind kind = Kind::literal;
  bool escaped = false;  // a string holding a backslash: decode() before use
  uint32_t begin = 0;    // string: its contents (no quotes); number/literal: the token
  uint32_t end = 0;
  // object: `count` (name, value) node pairs at members[first .. first + 2 * count), in name
  // order; array: `count` element nodes at members[first ..).
  uint32_t first = 0;
  uint32_t count = 0;
};

class JsonSpans {
 public:
  // False when `text` is not one well-formed JSON value, or is one this parser leaves to
  // nlohmann (4 GiB or more, nested past 512 levels, an escaped member name).
  bool parse(std::string_view text);

  const JsonNode& root() const { return nodes_[0]; }
  const JsonNode& node(uint32_t i) const { return nodes_[i]; }
  uint32_t member(uint32_t i) const { return members_[i]; }
  // A string node's value: a view of the text, or (escaped) decoded into `scratch`.
  std::string_view value(const JsonNode& n, std::string& scratch) const;
  std::string_view text() const { return text_; }
  // After a successful parse: whether some object repeats a member name, and the first such.
  bool repeated() const { return repeated_; }
  std::string_view repeated_name() const { return repeated_name_; }

 private:
  static constexpr size_t kMaxDepth = 512;
  bool parse_value(size_t depth, uint32_t& index);
  bool parse_string(uint32_t& index);
  void skip_space();

  std::string_view text_;
  size_t pos_ = 0;
  std::vector<JsonNode> nodes_;
  std::vector<uint32_t> members_;
  std::vector<uint32_t> stack_;  // children of the containers being parsed
  bool repeated_ = false;
  std::string_view repeated_name_;
};

}  // namespace sy::policies::sensitivity_detail
