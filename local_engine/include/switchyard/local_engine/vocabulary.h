#pragma once
// A tokenizer's vocabulary as GGUF metadata describes it (tokenizer.ggml.*), independent of the
// file it came from: GGUF, llama2.c's tokenizer.bin, or (later) HF tokenizer.json.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sy::engine {

class GgufFile;

using TokenId = int32_t;

// tokenizer.ggml.token_type values.
enum class TokenKind : uint8_t {
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

struct Vocabulary {
  std::string model;  // tokenizer.ggml.model: "llama" (SentencePiece) or "gpt2" (byte-level BPE)
  std::string pre;    // tokenizer.ggml.pre: the BPE pre-tokenizer variant ("default" if absent)
  std::vector<std::string> tokens;
  std::vector<float> scores;  // SentencePiece merge priorities (higher merges first)
  std::vector<TokenKind> kinds;
  std::vector<std::string> merges;  // BPE: "left right", highest priority first
  TokenId bos = -1;
  TokenId eos = -1;
  TokenId unk = -1;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = true;

  size_t size() const { return tokens.size(); }
};

// Throws EngineError naming the key when the metadata is missing or inconsistent (array sizes
// that disagree, special ids out of range).
Vocabulary vocabulary_from_gguf(const GgufFile& file);

// llama2.c's tokenizer.bin: max_token_length, then per token a float score, an int length and
// the bytes. Ids 0/1/2 are unk/bos/eos; pieces spell spaces as ' ' (SentencePiece's U+2581 is
// restored so the same tokenizer serves both formats).
Vocabulary vocabulary_from_llama2c(const std::filesystem::path& path, size_t vocab_size);

// A Hugging Face tokenizer.json with a byte-level BPE model (SmolLM2, GPT-2 style). Added tokens
// marked special become control tokens, the others user-defined. tokenizer.json names no BOS/EOS
// (they live in the model's config), so bos/eos stay -1 for the caller to set. Pre-tokenizers:
// ByteLevel with its regex (gpt2), Digits then ByteLevel (smollm), or the Llama 3, Qwen2 and
// DeepSeek-V3 Split regexes then ByteLevel. Throws EngineError for other models or
// pre-tokenizers this engine does not implement.
Vocabulary vocabulary_from_tokenizer_json(const std::filesystem::path& path);

}  // namespace sy::engine
