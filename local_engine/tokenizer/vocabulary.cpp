#include "switchyard/local_engine/vocabulary.h"

#include <cstring>
#include <fstream>

#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"

namespace sy::engine {
namespace {

TokenId special_id(const GgufFile& f, std::string_view key, size_t n_tokens) {
  if (!f.contains(key)) return -1;
  int64_t id = f.get_i64(key);
  // llama.cpp writes 0xFFFFFFFF (or -1) for "none".
  if (id == -1 || id == 0xFFFFFFFF) return -1;
  if (id < 0 || static_cast<uint64_t>(id) >= n_tokens) {
    throw EngineError("metadata key " + std::string(key) + ": token id " + std::to_string(id) +
                      " outside the vocabulary of " + std::to_string(n_tokens));
  }
  return static_cast<TokenId>(id);
}

}  // namespace

Vocabulary vocabulary_from_gguf(const GgufFile& f) {
  Vocabulary v;
  v.model = f.get_string("tokenizer.ggml.model");
  v.pre = f.get_string_or("tokenizer.ggml.pre", "default");
  v.tokens = f.get_string_array("tokenizer.ggml.tokens");
  const size_t n = v.tokens.size();
  if (n == 0) throw EngineError("metadata key tokenizer.ggml.tokens: empty vocabulary");
  if (n > size_t{INT32_MAX}) throw EngineError("metadata key tokenizer.ggml.tokens: too many");
  if (f.contains("tokenizer.ggml.scores")) {
    v.scores = f.get_f32_array("tokenizer.ggml.scores");
    if (v.scores.size() != n) {
      throw EngineError("metadata key tokenizer.ggml.scores: " + std::to_string(v.scores.size()) +
                        " scores for " + std::to_string(n) + " tokens");
    }
  } else {
    v.scores.assign(n, 0.0f);
  }
  v.kinds.assign(n, TokenKind::normal);
  if (f.contains("tokenizer.ggml.token_type")) {
    auto types = f.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != n) {
      throw EngineError("metadata key tokenizer.ggml.token_type: " + std::to_string(types.size()) +
                        " types for " + std::to_string(n) + " tokens");
    }
    for (size_t i = 0; i < n; ++i) {
      if (types[i] < 1 || types[i] > 6) {
        throw EngineError("metadata key tokenizer.ggml.token_type: token " + std::to_string(i) +
                          " has unknown type " + std::to_string(types[i]));
      }
      v.kinds[i] = static_cast<TokenKind>(types[i]);
    }
  }
  if (f.contains("tokenizer.ggml.merges")) v.merges = f.get_string_array("tokenizer.ggml.merges");
  if (v.model == "gpt2" && v.merges.empty()) {
    // Byte-level BPE without merges would encode every text byte by byte, a silent nonsense.
    throw EngineError(
        "metadata key tokenizer.ggml.merges: a gpt2 (byte-level BPE) vocabulary "
        "needs its merges");
  }
  v.bos = special_id(f, "tokenizer.ggml.bos_token_id", n);
  v.eos = special_id(f, "tokenizer.ggml.eos_token_id", n);
  v.unk = special_id(f, "tokenizer.ggml.unknown_token_id", n);
  const bool spm = v.model == "llama";
  v.add_bos = f.get_bool_or("tokenizer.ggml.add_bos_token", spm);
  v.add_eos = f.get_bool_or("tokenizer.ggml.add_eos_token", false);
  v.add_space_prefix = f.get_bool_or("tokenizer.ggml.add_space_prefix", spm);
  return v;
}

Vocabulary vocabulary_from_llama2c(const std::filesystem::path& path, size_t vocab_size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw EngineError(path.string() + ": cannot open");
  auto fail = [&](const std::string& what) { throw EngineError(path.string() + ": " + what); };
  int32_t max_len = 0;
  if (!in.read(reinterpret_cast<char*>(&max_len), 4) || max_len <= 0 || max_len > 4096) {
    fail("bad header");
  }
  Vocabulary v;
  v.model = "llama";
  v.pre = "default";
  for (size_t i = 0; i < vocab_size; ++i) {
    float score = 0;
    int32_t len = 0;
    if (!in.read(reinterpret_cast<char*>(&score), 4) ||
        !in.read(reinterpret_cast<char*>(&len), 4)) {
      fail("truncated at token " + std::to_string(i));
    }
    if (len < 0 || len > max_len) fail("token " + std::to_string(i) + ": bad length");
    std::string piece(static_cast<size_t>(len), '\0');
    if (!in.read(piece.data(), len)) fail("truncated at token " + std::to_string(i));
    TokenKind kind = TokenKind::normal;
    if (i == 0) {
      kind = TokenKind::unknown;
    } else if (i <= 2) {
      kind = TokenKind::control;
    } else if (piece.size() == 6 && piece.starts_with("<0x") && piece.back() == '>') {
      kind = TokenKind::byte;
    }
    // llama2.c's exporter turned U+2581 into ' '; put it back so pieces match SentencePiece's.
    std::string restored;
    for (char c : piece) {
      if (c == ' ') {
        restored += "\xE2\x96\x81";
      } else {
        restored += c;
      }
    }
    v.tokens.push_back(std::move(restored));
    v.scores.push_back(score);
    v.kinds.push_back(kind);
  }
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  v.add_bos = true;
  v.add_space_prefix = true;
  return v;
}

}  // namespace sy::engine
