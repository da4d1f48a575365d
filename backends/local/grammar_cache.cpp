#include "local/grammar_cache.h"

#include <exception>

namespace sy::backends::local {

Result<std::shared_ptr<const engine::JsonGrammar>> GrammarCache::get(
    std::string_view model, const engine::Tokenizer& tokenizer, std::string_view schema_json,
    std::string_view param) {
  std::string key;
  key.reserve(model.size() + 1 + schema_json.size());
  key.append(model).push_back('\n');
  key.append(schema_json);
  {
    std::lock_guard lock(mutex_);
    if (auto it = index_.find(key); it != index_.end()) {
      entries_.splice(entries_.begin(), entries_, it->second);
      ++hits_;
      return it->second->second;
    }
  }
  // Compiled outside the lock: a slow schema must not hold up requests with cached ones.
  std::shared_ptr<const engine::JsonGrammar> grammar;
  try {
    grammar = engine::compile_json_grammar(tokenizer, schema_json);
  } catch (const std::exception& e) {
    return std::unexpected(Error{.kind = ErrorKind::invalid_request,
                                 .message = std::string("Unsupported schema: ") + e.what(),
                                 .param = std::string(param)});
  }
  if (capacity_ == 0) return grammar;
  std::lock_guard lock(mutex_);
  if (auto it = index_.find(key); it != index_.end()) return it->second->second;
  entries_.emplace_front(key, grammar);
  index_[std::move(key)] = entries_.begin();
  while (entries_.size() > capacity_) {
    index_.erase(entries_.back().first);
    entries_.pop_back();
  }
  return grammar;
}

size_t GrammarCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

uint64_t GrammarCache::hits() const {
  std::lock_guard lock(mutex_);
  return hits_;
}

}  // namespace sy::backends::local
