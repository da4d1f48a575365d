#pragma once
// llama.cpp's tokenizer test vectors: X.gguf.inp holds strings separated by
// "\n__ggml_vocab_test__\n", X.gguf.out one line of space-separated ids per string.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/local_engine/vocabulary.h"

namespace sy::engine::testing {

inline std::filesystem::path models_dir() { return SWITCHYARD_MODELS_DIR; }

inline std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct VocabCase {
  std::string text;
  std::vector<TokenId> ids;
};

inline std::vector<VocabCase> load_vocab_cases(const std::filesystem::path& gguf) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::string inp = read_all(gguf.string() + ".inp");
  std::vector<std::string> texts;
  size_t at = 0, next;
  while ((next = inp.find(sep, at)) != std::string::npos) {
    texts.push_back(inp.substr(at, next - at));
    at = next + sep.size();
  }
  std::ifstream out(gguf.string() + ".out");
  std::vector<VocabCase> cases;
  std::string line;
  for (const auto& text : texts) {
    std::getline(out, line);
    VocabCase c{text, {}};
    std::istringstream ids(line);
    TokenId id;
    while (ids >> id) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace sy::engine::testing
