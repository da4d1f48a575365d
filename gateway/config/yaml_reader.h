#pragma once
// Private to the *_loader.cpp files of gateway/config/: reads YAML nodes into typed values and
// throws a ConfigError located at file:line:column. A YAML::Node never leaves these files.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "env_substitution.h"
#include "micro_dollars.h"
#include "switchyard/gateway/config_loader.h"

namespace sy::gateway::config_detail {

// Whether a scalar may be echoed in an error: secrets and anything that came from the
// environment may not.
enum class Echo { never, if_literal };

inline size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The closest of `choices` to `word`, when close enough to be a likely typo.
template <class Choices>
std::string did_you_mean_in(std::string_view word, const Choices& choices) {
  std::string_view best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (std::string_view choice : choices) {
    const size_t d = edit_distance(word, choice);
    if (d < best_distance) {
      best_distance = d;
      best = choice;
    }
  }
  const size_t allowed = std::max<size_t>(2, best.size() / 3);
  if (best.empty() || best_distance > allowed) return "";
  return " (did you mean \"" + std::string(best) + "\"?)";
}

inline std::string did_you_mean(std::string_view word,
                               std::initializer_list<std::string_view> choices) {
  return did_you_mean_in(word, choices);
}

inline std::string join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

inline std::string index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// Reads YAML nodes into typed values; every failure throws a located ConfigError.
class Reader {
 public:
  Reader(std::string source, EnvLookup env) : source_(std::move(source)), env_(std::move(env)) {}

  [[noreturn]] void fail(const YAML::Mark& mark, std::string_view path,
                         std::string_view what) const {
    std::ostringstream out;
    out << source_ << ":";
    if (!mark.is_null()) out << mark.line + 1 << ":" << mark.column + 1 << ":";
    out << " ";
    if (!path.empty()) out << path << ": ";
    out << what;
    throw ConfigError(out.str());
  }

  [[noreturn]] void fail(const YAML::Node& at, std::string_view path, std::string_view what) const {
    fail(at.Mark(), path, what);
  }

  // `node` must be a mapping whose keys are all in `allowed`, each at most once.
  void expect_map(const YAML::Node& node, std::string_view path,
                  std::initializer_list<std::string_view> allowed) const {
    if (!node.IsMap()) fail(node, path, "must be a mapping");
    std::set<std::string> seen;
    for (const auto& entry : node) {
      const YAML::Node key = entry.first;
      if (!key.IsScalar()) fail(key, path, "keys must be plain strings");
      const std::string& name = key.Scalar();
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        fail(key, join(path, name), "unknown key" + did_you_mean(name, allowed));
      }
      if (!seen.insert(name).second) fail(key, join(path, name), "duplicate key");
    }
  }

  // Mappings with free keys (headers, model aliases): every key a unique plain string.
  void expect_free_map(const YAML::Node& node, std::string_view path) const {
    if (!node.IsMap()) fail(node, path, "must be a mapping");
    std::set<std::string> seen;
    for (const auto& entry : node) {
      const YAML::Node key = entry.first;
      if (!key.IsScalar() || key.Scalar().empty()) fail(key, path, "keys must be plain strings");
      if (!seen.insert(key.Scalar()).second) fail(key, join(path, key.Scalar()), "duplicate key");
    }
  }

  void expect_sequence(const YAML::Node& node, std::string_view path) const {
    if (!node.IsSequence()) fail(node, path, "must be a list");
  }

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

  std::string non_empty(const YAML::Node& node, std::string_view path) const {
    std::string value = string(node, path);
    if (value.empty()) fail(node, path, "must not be empty");
    return value;
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

  bool boolean(const YAML::Node& node, std::string_view path) const {
    const std::string text = string(node, path);
    if (text == "true" || text == "True" || text == "yes") return true;
    if (text == "false" || text == "False" || text == "no") return false;
    fail(node, path, "must be true or false");
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

  const std::string& source() const { return source_; }
  const EnvLookup& env() const { return env_; }

 private:
  std::string source_;
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
