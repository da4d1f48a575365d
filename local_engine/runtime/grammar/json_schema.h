#pragma once
// A JSON Schema compiled into a graph of nodes the byte-level JsonParser walks. Immutable after
// JsonSchemaCompiler builds it; nodes refer to each other by index, so recursive $refs are
// cycles in the graph.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace sy::engine::grammar {

using NodeId = uint32_t;
inline constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();

enum class NodeKind : uint8_t {
  any_of,       // one of `alternatives` (type lists, anyOf, the "any value" node, $ref aliases)
  object,       // declared properties, emitted in schema order
  free_object,  // any keys, every value an instance of `value`
  array,        // `items`, between min_items and max_items of them
  string,       // min_length..max_length code points
  number,       // JSON number
  integer,      // JSON number without fraction or exponent
  literal,      // one of the texts of `literal_set` (enum, const, boolean, null)
};

// Sorted texts, so the texts sharing a prefix form one contiguous range (a parser state is a
// range and a position). `tags[i]` says what texts[i] stands for (a property index for keys).
struct LiteralSet {
  std::vector<std::string> texts;
  std::vector<uint32_t> tags;
};

struct Property {
  std::string key;  // the name as compact JSON, quotes included: "\"name\""
  NodeId value = 0;
  bool required = false;
};

struct SchemaNode {
  NodeKind kind = NodeKind::any_of;
  std::string pointer;               // where in the schema it came from, for error messages
  std::vector<NodeId> alternatives;  // any_of
  std::vector<Property> properties;  // object
  // object: per cursor c (0..n), the keys that may come next (c up to the first required
  // property at or after c), and whether no required property is left from c on.
  std::vector<uint32_t> key_sets;
  std::vector<uint8_t> may_close;
  uint32_t max_property_depth = 0;  // object: the largest min_depth of a property value
  NodeId value = 0;                 // free_object: every value; array: every item
  uint32_t min_count = 0;           // array: minItems; string: minLength
  uint32_t max_count = kUnbounded;  // array: maxItems; string: maxLength
  uint32_t literal_set = 0;         // literal
  // Fewest objects/arrays an instance must nest (0 for scalars), kUnbounded when there is no
  // finite instance. A value may start at depth d only if d + min_depth <= max_depth.
  uint32_t min_depth = 0;
};

struct JsonSchema {
  std::vector<SchemaNode> nodes;
  std::vector<LiteralSet> literal_sets;
  NodeId root = 0;
  NodeId any_string = 0;  // free-object keys
  uint32_t max_depth = 16;
  uint32_t max_whitespace = 2;
};

}  // namespace sy::engine::grammar
