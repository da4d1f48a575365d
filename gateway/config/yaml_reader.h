#pragma once
// Private to the *_loader.cpp files of gateway/config/: reads YAML nodes into typed values and
// throws a ConfigError located at file:line:column. A YAML::Node never leaves these files.

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "env_substitution.h"
#include "micro_dollars.h"
#include "switchyard/gateway/config_loader.h"
#include "switchyard/policies/rules/located_yaml.h"

namespace sy::gateway::config_detail {

// Whether a scalar may be echoed in an error: secrets and anything that came from the
// environment may not.
enum class Echo { never, if_literal };

using policies::located_yaml::did_you_mean;
using policies::located_yaml::did_you_mean_in;
using policies::located_yaml::index;
using policies::located_yaml::join;

// Reads YAML nodes into typed values, substituting ${ENV} in scalars; every failure throws a
// located ConfigError.
class Reader : public policies::located_yaml::LocatedReader<Reader, ConfigError> {
 public:
  Reader(std::string source, EnvLookup env)
      : LocatedReader(std::move(source)), env_(std::move(env)) {}

  Substituted scalar(const YAML::Node& node, std::string_view path) const {
    if (node.IsNull()) fail(node, path, "missing value");
    if (!node.IsScalar()) fail(node, path, "must be a single value, not a list or mapping");
    auto result = substitute_env(node.Scalar(), env_ ? env_ : EnvLookup(process_env));
    if (!result) fail(node, path, result.error());
    return std::move(*result);
  }

  std::string string(const YAML::Node& node, std::string_view path) const {
    return scalar(node, path).text;
  }

  // For error messages: the value in quotes when it is safe to show.
  static std::string quoted(const Substituted& value) {
    if (value.used_env) return "(value from the environment)";
    return "\"" + value.text + "\"";
  }

  int64_t integer(const YAML::Node& node, std::string_view path, int64_t min, int64_t max) const {
    const std::string text = string(node, path);
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
      fail(node, path,
           "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return value;
  }

  std::chrono::milliseconds millis(const YAML::Node& node, std::string_view path,
                                   int64_t min = 1) const {
    // Up to ~24 days; longer deadlines are typos.
    return std::chrono::milliseconds(integer(node, path, min, int64_t{1} << 31));
  }

  int64_t money(const YAML::Node& node, std::string_view path) const {
    auto value = parse_micro_dollars(string(node, path));
    if (!value) {
      fail(node, path,
           "must be a non-negative decimal number of US dollars per million "
           "tokens, at most 6 decimals (e.g. \"0.15\")");
    }
    return *value;
  }

  std::vector<std::string> string_list(const YAML::Node& node, std::string_view path) const {
    expect_sequence(node, path);
    std::vector<std::string> out;
    for (size_t i = 0; i < node.size(); ++i) out.push_back(non_empty(node[i], index(path, i)));
    return out;
  }

  const EnvLookup& env() const { return env_; }

 private:
  EnvLookup env_;
};

// Calls fn(value_node, key_path) when `key` is present in mapping `node`.
template <class Fn>
void optional(const YAML::Node& node, std::string_view path, const char* key, Fn&& fn) {
  const YAML::Node child = node[key];
  if (child.IsDefined()) fn(child, join(path, key));
}

template <class Fn>
void required(const Reader& r, const YAML::Node& node, std::string_view path, const char* key,
              Fn&& fn) {
  const YAML::Node child = node[key];
  if (!child.IsDefined()) r.fail(node, path, "missing required key \"" + std::string(key) + "\"");
  fn(child, join(path, key));
}

}  // namespace sy::gateway::config_detail
