#include "tokenizer/special_token_splitter.h"

#include <algorithm>

namespace sy::engine {

SpecialTokenSplitter::SpecialTokenSplitter(const Vocabulary& vocab) {
  for (size_t i = 0; i < vocab.size(); ++i) {
    TokenKind k = vocab.kinds[i];
    // llama.cpp parses the unknown token's text too (Baichuan's "<unk>"), like a control token.
    const bool control = k == TokenKind::control || k == TokenKind::unknown;
    if ((control || k == TokenKind::user_defined) && !vocab.tokens[i].empty()) {
      specials_.push_back({vocab.tokens[i], static_cast<TokenId>(i), control});
    }
  }
  std::stable_sort(specials_.begin(), specials_.end(), [](const Special& a, const Special& b) {
    return a.text.size() > b.text.size();
  });
}

std::vector<TextFragment> SpecialTokenSplitter::split(std::string_view text,
                                                      bool parse_special) const {
  std::vector<TextFragment> fragments;
  if (!text.empty()) fragments.push_back({text, -1});
  for (const Special& s : specials_) {
    if (s.control && !parse_special) continue;
    std::vector<TextFragment> next;
    for (const TextFragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      std::string_view rest = f.text;
      size_t at;
      while ((at = rest.find(s.text)) != std::string_view::npos) {
        if (at > 0) next.push_back({rest.substr(0, at), -1});
        next.push_back({{}, s.id});
        rest.remove_prefix(at + s.text.size());
      }
      if (!rest.empty()) next.push_back({rest, -1});
    }
    fragments = std::move(next);
  }
  return fragments;
}

}  // namespace sy::engine
