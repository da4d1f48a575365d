#pragma once
// Byte-preserving edits of a JSON text: a native pass-through (NativeRequest) forwards the
// client's body unchanged but for one value, so the rest must not be re-serialized (key order,
// number spelling, whitespace and signed content stay exactly as the client sent them).

#include <optional>
#include <string>
#include <string_view>

namespace sy::backends::detail {

// `text` with the value of every top-level member named `key` replaced by `value_json` (a
// serialized JSON value); keys are compared after unescaping. nullopt when `text` is not a
// JSON object or has no such member. `text` must be valid JSON (callers parse it first); the
// scan is linear and does not recurse.
std::optional<std::string> replace_top_level_member(std::string_view text, std::string_view key,
                                                    std::string_view value_json);

}  // namespace sy::backends::detail
