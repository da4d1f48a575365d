#pragma once
// Small text helpers shared by the masking and restoring halves of the mask_pii transform.

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace sy::policies::transform_detail {

// Letters, digits, '_' and every byte of a multi-byte UTF-8 character: a value that starts or
// ends with one is replaced only where it is not glued to more of a word.
inline bool word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' ||
         u >= 0x80;
}

// The first non-blank byte opens an object or an array.
bool looks_like_json(std::string_view text);
bool is_base64_data_url(std::string_view text);
// `value` as it is written between the quotes of a JSON string.
std::string json_escape(std::string_view value);
// Compact JSON; invalid UTF-8 (which a parsed document cannot hold) replaced, never thrown.
std::string dump_json(const nlohmann::json& value);

}  // namespace sy::policies::transform_detail
