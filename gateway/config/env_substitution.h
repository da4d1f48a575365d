#pragma once
// `${NAME}` and `${NAME:-default}` in config string values. `$${` writes a literal `${`.
// An unset variable without a default is an error naming the variable (never a value);
// a set-but-empty variable takes the default, as in POSIX shells.

#include <expected>
#include <string>
#include <string_view>

#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {

struct Substituted {
  std::string text;
  bool used_env = false;  // a variable's value is in `text`: treat it as possibly secret
};

// `env` must be callable. The error is a message without location.
std::expected<Substituted, std::string> substitute_env(std::string_view text, const EnvLookup& env);

// Reads the process environment.
std::optional<std::string> process_env(const std::string& name);

}  // namespace sy::gateway
