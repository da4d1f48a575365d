#pragma once
// Appending JSON text straight into a string, for the encoders' common cases: no DOM to build
// and free per request. Every function writes exactly what dump() (json_support.h) writes for
// the same value, so a fast path and its DOM fallback give the same bytes.

#include <cstdint>
#include <string>
#include <string_view>

namespace sy::backends::openai::detail {

// A JSON string literal, quotes included. Valid UTF-8 is kept as is (only '"', '\\' and
// control characters are escaped, as dump() does); invalid UTF-8 goes through dump(), which
// replaces it.
void write_string(std::string& out, std::string_view text);
void write_int(std::string& out, int64_t value);
// Formatted by the JSON library itself: its shortest round-trip form ("0.7", "1.0", "1e+20").
void write_double(std::string& out, double value);
inline void write_key(std::string& out, std::string_view key) {
  write_string(out, key);
  out.push_back(':');
}

}  // namespace sy::backends::openai::detail
