#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_targets.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/tokenizer.h"

namespace sy::fuzz {

namespace {

// SentencePiece (llama) and byte-level BPE (gpt-2, and a pre-tokenizer variant) vocabularies,
// then the GPT-2 vocabulary under every other kind of pre-tokenizer pattern: a file and a
// pre-tokenizer override ("" = the file's own) each.
struct TokenizerSpec {
  std::string file;
  std::string pre;
};

std::vector<TokenizerSpec> tokenizer_specs() {
  const std::string dir = SWITCHYARD_MODELS_DIR "/vocab/";
  std::vector<TokenizerSpec> all;
  for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                           "ggml-vocab-deepseek-coder.gguf", "ggml-vocab-phi-3.gguf"}) {
    if (std::filesystem::exists(dir + name)) all.push_back({dir + name, ""});
  }
  if (std::filesystem::exists(dir + "ggml-vocab-gpt-2.gguf")) {
    for (const char* pre : {"llama3", "qwen2", "deepseek-llm", "deepseek-v3", "poro-chat",
                            "viking", "default", "falcon"}) {
      all.push_back({dir + "ggml-vocab-gpt-2.gguf", pre});
    }
  }
  return all;
}

// The tokenizer an input picks, loaded on first use: without AFL++'s persistent mode every
// input is a fresh process, and loading all twelve vocabularies for each held the target to
// ~9 inputs a second; now a process loads the one its input names.
const engine::Tokenizer* tokenizer_at(size_t pick) {
  static const std::vector<TokenizerSpec> specs = tokenizer_specs();
  static std::vector<std::unique_ptr<engine::Tokenizer>> loaded(specs.size());
  if (specs.empty()) return nullptr;
  const size_t i = pick % specs.size();
  if (!loaded[i]) {
    auto file = engine::GgufFile::open(specs[i].file);
    if (specs[i].pre.empty()) {
      loaded[i] = engine::Tokenizer::from_gguf(*file);
    } else {
      engine::Vocabulary v = engine::vocabulary_from_gguf(*file);
      v.pre = specs[i].pre;
      loaded[i] = engine::Tokenizer::create(std::move(v));
    }
  }
  return loaded[i].get();
}

}  // namespace

void fuzz_tokenizer(std::span<const uint8_t> data) {
  if (data.empty()) return;
  const uint8_t control = data[0];
  // Bits 0-1 and 5-7 pick the tokenizer (older corpus entries keep bits 5-7 clear).
  const engine::Tokenizer* picked = tokenizer_at((control & 3u) | ((control >> 5u) << 2u));
  if (picked == nullptr) return;
  const auto& tokenizer = *picked;
  const std::string_view text(reinterpret_cast<const char*>(data.data()) + 1, data.size() - 1);
  const auto ids = tokenizer.encode(
      text, {.add_special = (control & 4) != 0, .parse_special = (control & 8) != 0});
  volatile size_t sink = tokenizer.decode(ids, /*special=*/(control & 16) != 0).size();
  engine::Utf8StreamDecoder stream(tokenizer);
  for (auto id : ids) sink = sink + stream.push(id).size();
  sink = sink + stream.finish().size();
}

}  // namespace sy::fuzz
