#include "env_substitution.h"

#include <cstdlib>

namespace sy::gateway {

namespace {

bool is_name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }

bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

}  // namespace

std::optional<std::string> process_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

std::expected<Substituted, std::string> substitute_env(std::string_view text,
                                                       const EnvLookup& env) {
  Substituted out;
  out.text.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out.text += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out.text.push_back(text[i++]);
      continue;
    }
    const size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return std::unexpected("unterminated \"${\" (write \"$${\" for a literal \"${\")");
    }
    const std::string_view inner = text.substr(i + 2, close - i - 2);
    size_t name_end = 0;
    while (name_end < inner.size() && is_name_char(inner[name_end])) ++name_end;
    const std::string name(inner.substr(0, name_end));
    if (name.empty() || !is_name_start(name.front())) {
      return std::unexpected(
          "\"${...}\" must name an environment variable ([A-Za-z_][A-Za-z0-9_]*)");
    }
    const std::string_view rest = inner.substr(name_end);
    std::optional<std::string_view> fallback;
    if (rest.starts_with(":-")) {
      fallback = rest.substr(2);
    } else if (!rest.empty()) {
      return std::unexpected("\"${" + name + "...}\": expected \"}\" or \":-default}\"");
    }
    std::optional<std::string> value = env(name);
    if (value && !value->empty()) {
      out.text += *value;
      out.used_env = true;
    } else if (fallback) {
      out.text += *fallback;
    } else if (value) {
      out.used_env = true;  // set but empty: an empty value, as the user asked
    } else {
      return std::unexpected("environment variable " + name + " is not set (use ${" + name +
                             ":-default} to give a default)");
    }
    i = close + 1;
  }
  return out;
}

}  // namespace sy::gateway
