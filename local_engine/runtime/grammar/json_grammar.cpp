#include "runtime/grammar/json_grammar.h"

#include <algorithm>
#include <limits>

#include "runtime/grammar/json_schema_compiler.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine::grammar {
namespace {

// Parses a nondeterministic schema keeps alive at once; more are dropped (each survivor is a
// valid parse, so the output stays valid, only less varied).
constexpr size_t kMaxStacks = 64;

}  // namespace

JsonGrammarImpl::JsonGrammarImpl(std::shared_ptr<const ConstraintVocabularyImpl> vocabulary,
                                 JsonSchema schema)
    : vocabulary_(std::move(vocabulary)), schema_(std::move(schema)), parser_(schema_) {}

std::unique_ptr<TokenConstraint> JsonGrammarImpl::start() const {
  return std::make_unique<JsonConstraint>(*this);
}

JsonConstraint::JsonConstraint(const JsonGrammarImpl& grammar)
    : grammar_(grammar),
      stacks_(1),
      allowed_(grammar.trie().vocab_size()),
      step_(grammar.trie().max_piece_length() + 1),
      forks_(grammar.trie().max_piece_length() + 1) {
  grammar_.parser().start(stacks_[0]);
}

void JsonConstraint::walk(const TokenTrie& trie, uint32_t id, const ParseStack& from,
                          size_t depth) {
  const JsonParser& parser = grammar_.parser();
  const TokenTrie::Node& node = trie.node(id);
  ParseStack& next = step_[depth];
  StackPool& forks = forks_[depth];
  for (uint32_t e = node.first_edge; e < node.first_edge + node.edges; ++e) {
    next.copy_from(from);
    forks.clear();
    const JsonParser::Step r = parser.advance(next, trie.edge_byte(e), forks);
    if (r == JsonParser::Step::rejected || (r == JsonParser::Step::forked && forks.size() == 0)) {
      continue;
    }
    const uint32_t child = trie.edge_child(e);
    const TokenTrie::Node& c = trie.node(child);
    const TokenId* tokens = trie.tokens(c);
    for (uint32_t t = 0; t < c.tokens; ++t) allowed_[tokens[t]] = 1;
    if (c.edges == 0) continue;
    if (r == JsonParser::Step::accepted) {
      walk(trie, child, next, depth + 1);
    } else {
      for (size_t i = 0; i < forks.size(); ++i) walk(trie, child, forks[i], depth + 1);
    }
  }
}

void JsonConstraint::mask(std::span<float> logits) {
  std::fill(allowed_.begin(), allowed_.end(), 0);
  ParseStack root;
  const JsonParser& parser = grammar_.parser();
  for (const ParseStack& committed : stacks_) {
    root.borrow(committed);
    const int64_t room = parser.plain_text_room(committed);
    if (room < 0) {
      walk(grammar_.trie(), TokenTrie::kRoot, root, 0);
      continue;
    }
    const auto& plain = grammar_.vocabulary().plain_tokens();
    const auto& points = grammar_.vocabulary().plain_code_points();
    for (size_t i = 0; i < plain.size(); ++i) {
      if (points[i] <= room) allowed_[plain[i]] = 1;
    }
    walk(grammar_.vocabulary().non_plain_trie(), TokenTrie::kRoot, root, 0);
  }
  const TokenId eos = grammar_.eos();
  bool any = false;
  if (eos >= 0 && static_cast<size_t>(eos) < allowed_.size() && can_end()) {
    allowed_[eos] = 1;
  }
  const float minus_inf = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < logits.size(); ++i) {
    if (i < allowed_.size() && allowed_[i]) {
      any = true;
    } else {
      logits[i] = minus_inf;
    }
  }
  // Unreachable for vocabularies with a token per byte (every live parse has a next byte); a
  // vocabulary without one gets EOS rather than an all -inf row.
  if (!any && eos >= 0 && static_cast<size_t>(eos) < logits.size()) logits[eos] = 0.0f;
}

void JsonConstraint::accept(TokenId token) {
  const JsonParser& parser = grammar_.parser();
  if (token == grammar_.eos() && token >= 0) {
    if (!can_end()) throw EngineError("json grammar: EOS before the value is complete");
    stacks_.resize(1);
    parser.start(stacks_[0]);
    stacks_[0].top().phase = 2;  // root done
    complete_ = true;
    return;
  }
  if (token < 0 || static_cast<size_t>(token) >= grammar_.trie().vocab_size() ||
      grammar_.trie().piece(token).empty()) {
    throw EngineError("json grammar: token " + std::to_string(token) + " is not allowed");
  }
  std::vector<ParseStack> next;
  for (uint8_t byte : grammar_.trie().piece(token)) {
    next.clear();
    next.reserve(stacks_.size());
    for (const ParseStack& s : stacks_) {
      ParseStack step;
      step.copy_from(s);
      accept_forks_.clear();
      const JsonParser::Step r = parser.advance(step, byte, accept_forks_);
      auto keep = [&](const ParseStack& candidate) {
        if (next.size() >= kMaxStacks) return;
        for (const auto& have : next) {
          if (have == candidate) return;
        }
        next.emplace_back().copy_from(candidate);
      };
      if (r == JsonParser::Step::accepted) keep(step);
      for (size_t i = 0; r == JsonParser::Step::forked && i < accept_forks_.size(); ++i) {
        keep(accept_forks_[i]);
      }
    }
    if (next.empty()) {
      throw EngineError("json grammar: token " + std::to_string(token) + " is not allowed");
    }
    stacks_.swap(next);
  }
  complete_ = nothing_can_follow();
}

bool JsonConstraint::complete() const { return complete_; }

bool JsonConstraint::nothing_can_follow() {
  if (stacks_.size() == 1 && JsonParser::complete(stacks_[0])) return true;
  // A number at the root ends without a closing byte: whole once it can end and no byte extends
  // it (its digit runs are bounded), which matters when the vocabulary has no EOS.
  if (!can_end()) return false;
  const JsonParser& parser = grammar_.parser();
  for (const ParseStack& s : stacks_) {
    for (int byte = 0; byte < 256; ++byte) {
      ParseStack probe;
      probe.copy_from(s);
      accept_forks_.clear();
      const JsonParser::Step r = parser.advance(probe, static_cast<uint8_t>(byte), accept_forks_);
      if (r == JsonParser::Step::accepted ||
          (r == JsonParser::Step::forked && accept_forks_.size() > 0)) {
        return false;
      }
    }
  }
  return true;
}

bool JsonConstraint::can_end() const {
  const JsonParser& parser = grammar_.parser();
  return std::any_of(stacks_.begin(), stacks_.end(),
                     [&](const ParseStack& s) { return parser.can_end(s); });
}

}  // namespace sy::engine::grammar

namespace sy::engine {

std::shared_ptr<const JsonGrammar> compile_json_grammar(const Tokenizer& tokenizer,
                                                        std::string_view schema_json,
                                                        const JsonConstraintLimits& limits) {
  // The schema first: a refused schema costs no vocabulary index.
  grammar::JsonSchema schema = grammar::compile_json_schema(schema_json, limits);
  return std::make_shared<grammar::JsonGrammarImpl>(
      std::make_shared<grammar::ConstraintVocabularyImpl>(tokenizer), std::move(schema));
}

std::shared_ptr<const JsonGrammar> compile_json_grammar(
    std::shared_ptr<const ConstraintVocabulary> vocabulary, std::string_view schema_json,
    const JsonConstraintLimits& limits) {
  auto index = std::dynamic_pointer_cast<const grammar::ConstraintVocabularyImpl>(vocabulary);
  if (index == nullptr) throw EngineError("json grammar: not an index_constraint_vocabulary()");
  return std::make_shared<grammar::JsonGrammarImpl>(
      std::move(index), grammar::compile_json_schema(schema_json, limits));
}

}  // namespace sy::engine
