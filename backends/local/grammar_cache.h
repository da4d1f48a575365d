#pragma once
// Compiled JSON grammars by (model, schema text), least recently used first out. Bulk jobs send
// the same schema thousands of times; compiling it walks the whole vocabulary. Thread-safe.

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "switchyard/backends/error.h"
#include "switchyard/local_engine/token_constraint.h"

namespace sy::backends::local {

class GrammarCache {
 public:
  explicit GrammarCache(size_t capacity) : capacity_(capacity) {}

  // The grammar of `schema_json` (empty: any JSON object) for `model`'s tokenizer, compiled on
  // a miss. A schema the compiler refuses is invalid_request with its message (param `param`);
  // refusals are not cached.
  Result<std::shared_ptr<const engine::JsonGrammar>> get(std::string_view model,
                                                         const engine::Tokenizer& tokenizer,
                                                         std::string_view schema_json,
                                                         std::string_view param);
  size_t size() const;
  uint64_t hits() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const engine::JsonGrammar>>;
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  uint64_t hits_ = 0;
};

}  // namespace sy::backends::local
