#pragma once
// JSON Schema text -> JsonSchema graph. Supported: type (and type lists), properties, required,
// additionalProperties (false, true, a schema), items, minItems/maxItems, minLength/maxLength,
// enum, const, anyOf, nullable (OpenAPI), $defs/definitions and local $ref (recursion allowed
// when it passes through an object or array). Descriptive keywords (title, description,
// examples, default, ...) and unknown keywords are ignored; keywords that would change the
// language and are not implemented (pattern, oneOf, allOf, not, minimum, string formats, ...)
// throw EngineError naming the keyword and its JSON pointer, as does any schema beyond `limits`.
//
// Objects with declared properties produce only those properties, in schema order (a subset
// of what additionalProperties true would allow); objects without properties take any keys.

#include <string_view>

#include "runtime/grammar/json_schema.h"
#include "switchyard/local_engine/token_constraint.h"

namespace sy::engine::grammar {

// Empty `schema_json`: any JSON object.
JsonSchema compile_json_schema(std::string_view schema_json, const JsonConstraintLimits& limits);

}  // namespace sy::engine::grammar
