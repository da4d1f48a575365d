#pragma once
// JSON helpers shared by the native (non-OpenAI-shaped) vendor translators. Private to
// backends/: nlohmann types never appear in a public header.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sy::backends::detail {

// Vendor bodies are trusted more than client input but still bounded: nlohmann's parser
// recurses, so a hostile nesting depth is refused before parsing.
inline constexpr size_t kMaxVendorJsonDepth = 128;

// Parses `text` as JSON without throwing; nullopt if invalid or nested deeper than max_depth.
std::optional<nlohmann::json> parse_json(std::string_view text,
                                         size_t max_depth = kMaxVendorJsonDepth);

// Non-throwing typed reads of one member; the fallback when absent or of another type.
std::string get_string(const nlohmann::json& object, std::string_view key,
                       std::string fallback = {});
int64_t get_int(const nlohmann::json& object, std::string_view key, int64_t fallback = 0);
const nlohmann::json* get_object(const nlohmann::json& object, std::string_view key);
const nlohmann::json* get_array(const nlohmann::json& object, std::string_view key);

// Lower-cased copy, for matching vendor messages.
std::string ascii_lower(std::string_view text);

}  // namespace sy::backends::detail
