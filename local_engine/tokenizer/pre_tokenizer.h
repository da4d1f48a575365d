#pragma once
// Byte-level BPE pre-tokenizers, selected by tokenizer.ggml.pre. Each is a sequence of split
// stages applied as llama.cpp applies its regex lists: every stage re-splits each fragment of
// the previous one into its matches and the text between them. The stages are hand-written
// matchers with the exact regex semantics (no regex engine: std::regex is slow and cannot test
// Unicode categories).

#include <string_view>
#include <vector>

#include "tokenizer/unicode.h"

namespace sy::engine {

class PreTokenizer {
 public:
  enum class Stage {
    gpt2,           // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    number,         // \p{N}
    numbers,        // \p{N}+
    three_digits,   // [0-9][0-9][0-9]
    punctuation,    // [\p{P}\$\+<=>\^~\|`]+
    newline,        // [\r\n]
    space_letters,  // \s?\p{L}+
    space_punct,    // \s?\p{P}+
    cjk,            // [一-龥ࠀ-一가-퟿]+
  };

  // Throws EngineError for a pre-tokenizer name this engine does not know.
  static PreTokenizer for_name(std::string_view pre);
  explicit PreTokenizer(std::vector<Stage> stages) : stages_(std::move(stages)) {}

  // Pieces of `text`, in order; concatenated they are `text` exactly.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  std::vector<Stage> stages_;
};

}  // namespace sy::engine
