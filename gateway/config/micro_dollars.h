#pragma once
// "0.15" (USD per million tokens) -> 150000 micro-dollars, exactly: the decimal text is
// parsed digit by digit, never through a double, so 0.1 + 0.2 stays 300000.

#include <cstdint>
#include <optional>
#include <string_view>

namespace sy::gateway {

// Non-negative decimal with at most 6 significant fractional digits (more are allowed only
// when they are zeros); nullopt when malformed, negative or above ~9.2e12 micro-dollars.
std::optional<int64_t> parse_micro_dollars(std::string_view text);

}  // namespace sy::gateway
