#pragma once
// Reading YAML with located errors, shared by the two loaders that parse YAML (the gateway
// config and the policy file): every failure throws the loader's own error type with
// "file:line:column: key.path: what", and an unknown key suggests the closest allowed one.
// Include only from *_loader files: a YAML::Node never leaves them.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace sy::policies::located_yaml {

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

// " (did you mean "x"?)" for the closest of `choices` to `word` when it is a likely typo, else "".
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

// Key paths as errors print them: "a.b", "a[3]".
inline std::string join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

inline std::string index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// The shape checks both loaders make. Derived supplies `std::string string(node, path) const`
// (its own scalar reading: the gateway substitutes ${ENV}, the policy file does not); Error is
// constructed from the located message.
template <class Derived, class Error>
class LocatedReader {
 public:
  explicit LocatedReader(std::string source) : source_(std::move(source)) {}

  const std::string& source() const { return source_; }

  [[noreturn]] void fail(const YAML::Mark& mark, std::string_view path,
                         std::string_view what) const {
    std::ostringstream out;
    out << source_ << ":";
    if (!mark.is_null()) out << mark.line + 1 << ":" << mark.column + 1 << ":";
    out << " ";
    if (!path.empty()) out << path << ": ";
    out << what;
    throw Error(out.str());
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

  // Mappings with free keys (headers, model aliases, attributes): every key a unique plain string.
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

  std::string non_empty(const YAML::Node& node, std::string_view path) const {
    std::string value = self().string(node, path);
    if (value.empty()) fail(node, path, "must not be empty");
    return value;
  }

  bool boolean(const YAML::Node& node, std::string_view path) const {
    const std::string text = self().string(node, path);
    if (text == "true" || text == "True" || text == "yes") return true;
    if (text == "false" || text == "False" || text == "no") return false;
    fail(node, path, "must be true or false");
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }

  std::string source_;
};

}  // namespace sy::policies::located_yaml
