#pragma once
// Byte-level BPE pre-tokenizers, selected by tokenizer.ggml.pre. Each is a sequence of split
// stages applied as llama.cpp applies its regex lists: every stage re-splits each fragment of
// the previous one into its matches and the text between them. The stages are hand-built
// patterns run by a small matcher with the regex semantics those lists assume (alternatives
// tried in order, greedy quantifiers that give back, a fragment's end as the text's end); there
// is no regex engine: std::regex is slow and cannot test Unicode categories.

#include <string_view>
#include <vector>

namespace sy::engine {

class PreTokenizer {
 public:
  struct Stage;  // one split pattern; defined in pre_tokenizer.cpp

  // Throws EngineError for a pre-tokenizer name this engine does not know.
  static PreTokenizer for_name(std::string_view pre);
  // Every name for_name accepts.
  static std::vector<std::string_view> known_names();

  // Pieces of `text`, in order; concatenated they are `text` exactly (also for invalid UTF-8).
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  explicit PreTokenizer(std::vector<const Stage*> stages) : stages_(std::move(stages)) {}
  std::vector<const Stage*> stages_;  // not owned: static, immutable
};

}  // namespace sy::engine
