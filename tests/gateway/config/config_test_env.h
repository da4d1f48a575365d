#pragma once
// A fixed environment for config tests, so no test reads or mutates the process environment.

#include <map>
#include <optional>
#include <string>

#include "switchyard/gateway/config_loader.h"

namespace sy::gateway::testing {

inline const std::map<std::string, std::string>& test_env_values() {
  static const std::map<std::string, std::string> values = {
      {"OPENAI_API_KEY", "sk-openai-test-secret-1234"},
      {"ANTHROPIC_API_KEY", "sk-ant-test-secret-5678"},
      {"ACME_API_KEY", "sy-acme-test-secret-key"},
      {"SHORT_KEY", "short"},
      {"HOME", "/home/tester"},
      {"EMPTY", ""},
  };
  return values;
}

inline EnvLookup test_env(std::map<std::string, std::string> extra = {}) {
  return [extra = std::move(extra)](const std::string& name) -> std::optional<std::string> {
    if (auto it = extra.find(name); it != extra.end()) return it->second;
    const auto& values = test_env_values();
    if (auto it = values.find(name); it != values.end()) return it->second;
    return std::nullopt;
  };
}

}  // namespace sy::gateway::testing
