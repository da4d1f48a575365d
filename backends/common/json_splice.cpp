#include "common/json_splice.h"

#include <cstddef>
#include <utility>
#include <vector>

#include "common/vendor_json.h"

namespace sy::backends::detail {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Index just past the string token that starts at `at` (a '"'); npos if unterminated.
size_t skip_string(std::string_view text, size_t at) {
  for (size_t i = at + 1; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// Index just past the value that starts at `at` (no leading space); npos if malformed.
// Nested containers are skipped by counting brackets outside strings: no recursion.
size_t skip_value(std::string_view text, size_t at) {
  if (at >= text.size()) return std::string_view::npos;
  char c = text[at];
  if (c == '"') return skip_string(text, at);
  if (c == '{' || c == '[') {
    size_t depth = 0;
    for (size_t i = at; i < text.size(); ++i) {
      char d = text[i];
      if (d == '"') {
        i = skip_string(text, i);
        if (i == std::string_view::npos) return i;
        --i;
      } else if (d == '{' || d == '[') {
        ++depth;
      } else if (d == '}' || d == ']') {
        if (--depth == 0) return i + 1;
      }
    }
    return std::string_view::npos;
  }
  size_t i = at;  // number, true, false, null
  while (i < text.size() && !is_space(text[i]) && text[i] != ',' && text[i] != '}' &&
         text[i] != ']') {
    ++i;
  }
  return i == at ? std::string_view::npos : i;
}

size_t skip_space(std::string_view text, size_t i) {
  while (i < text.size() && is_space(text[i])) ++i;
  return i;
}

}  // namespace

std::optional<std::string> replace_top_level_member(std::string_view text, std::string_view key,
                                                    std::string_view value_json) {
  size_t i = skip_space(text, 0);
  if (i >= text.size() || text[i] != '{') return std::nullopt;
  std::vector<std::pair<size_t, size_t>> spans;  // value [begin, end) to replace
  i = skip_space(text, i + 1);
  while (i < text.size() && text[i] != '}') {
    if (text[i] != '"') return std::nullopt;
    size_t key_end = skip_string(text, i);
    if (key_end == std::string_view::npos) return std::nullopt;
    std::string_view key_token = text.substr(i, key_end - i);
    i = skip_space(text, key_end);
    if (i >= text.size() || text[i] != ':') return std::nullopt;
    i = skip_space(text, i + 1);
    size_t value_end = skip_value(text, i);
    if (value_end == std::string_view::npos) return std::nullopt;
    // Escaped spellings of the key ("mod\u0065l") name the same member for every parser.
    bool match = key_token.substr(1, key_token.size() - 2) == key;
    if (!match && key_token.find('\\') != std::string_view::npos) {
      auto decoded = parse_json(key_token);
      match = decoded && decoded->is_string() && decoded->get_ref<const std::string&>() == key;
    }
    if (match) spans.emplace_back(i, value_end);
    i = skip_space(text, value_end);
    if (i < text.size() && text[i] == ',') i = skip_space(text, i + 1);
  }
  if (spans.empty()) return std::nullopt;
  std::string out;
  out.reserve(text.size() + value_json.size());
  size_t copied = 0;
  for (auto [begin, end] : spans) {
    out.append(text.substr(copied, begin - copied));
    out.append(value_json);
    copied = end;
  }
  out.append(text.substr(copied));
  return out;
}

}  // namespace sy::backends::detail
