#pragma once
// Runs a fixture generator (node script) into a temporary file so a test can check that the
// committed fixture is what the generator writes today. Skips (returns nullopt) when node or
// the npm packages are not installed, so the C++ suite still runs without them.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "vocab_vectors.h"

namespace sy::engine::testing {

inline std::optional<std::string> regenerate_fixture(const std::string& script_relative,
                                                     const std::string& npm_package) {
  const std::filesystem::path root = SWITCHYARD_SOURCE_DIR;
  if (!std::filesystem::exists(root / "node_modules" / npm_package)) return std::nullopt;
  if (std::system("node --version > /dev/null 2>&1") != 0) return std::nullopt;
  const auto out = std::filesystem::temp_directory_path() /
                   ("sy-fixture-" + std::to_string(::getpid()) + ".json");
  const std::string cmd = "cd '" + root.string() + "' && node '" + script_relative + "' --out '" +
                          out.string() + "' > /dev/null";
  if (std::system(cmd.c_str()) != 0) return std::string("generator failed: " + cmd);
  std::string text = read_all(out);
  std::filesystem::remove(out);
  return text;
}

}  // namespace sy::engine::testing
