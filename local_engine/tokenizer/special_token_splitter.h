#pragma once
// Splits text on the spellings of special tokens before the model's own algorithm runs, the way
// llama.cpp does: user-defined tokens always, control tokens only when asked; longest first.

#include <string_view>
#include <vector>

#include "switchyard/local_engine/vocabulary.h"

namespace sy::engine {

struct TextFragment {
  std::string_view text;  // empty when this fragment is a special token
  TokenId token = -1;     // >= 0 for a special token
};

class SpecialTokenSplitter {
 public:
  explicit SpecialTokenSplitter(const Vocabulary& vocab);
  std::vector<TextFragment> split(std::string_view text, bool parse_special) const;

 private:
  struct Special {
    std::string_view text;
    TokenId id;
    bool control;
  };
  std::vector<Special> specials_;  // longest spelling first
};

}  // namespace sy::engine
