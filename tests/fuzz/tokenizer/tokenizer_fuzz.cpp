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
// then the GPT-2 vocabulary under every other kind of pre-tokenizer pattern.
std::vector<std::unique_ptr<engine::Tokenizer>> load_tokenizers() {
  const std::string dir = SWITCHYARD_MODELS_DIR "/vocab/";
  std::vector<std::unique_ptr<engine::Tokenizer>> all;
  for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                           "ggml-vocab-deepseek-coder.gguf", "ggml-vocab-phi-3.gguf"}) {
    if (!std::filesystem::exists(dir + name)) continue;
    auto file = engine::GgufFile::open(dir + name);
    all.push_back(engine::Tokenizer::from_gguf(*file));
  }
  if (std::filesystem::exists(dir + "ggml-vocab-gpt-2.gguf")) {
    auto file = engine::GgufFile::open(dir + "ggml-vocab-gpt-2.gguf");
    const engine::Vocabulary gpt2 = engine::vocabulary_from_gguf(*file);
    for (const char* pre : {"llama3", "qwen2", "deepseek-llm", "deepseek-v3", "poro-chat",
                            "viking", "default", "falcon"}) {
      engine::Vocabulary v = gpt2;
      v.pre = pre;
      all.push_back(engine::Tokenizer::create(std::move(v)));
    }
  }
  return all;
}

}  // namespace

void fuzz_tokenizer(std::span<const uint8_t> data) {
  static const auto tokenizers = load_tokenizers();
  if (tokenizers.empty() || data.empty()) return;
  const uint8_t control = data[0];
  // Bits 0-1 and 5-7 pick the tokenizer (older corpus entries keep bits 5-7 clear).
  const size_t pick = (control & 3u) | ((control >> 5u) << 2u);
  const auto& tokenizer = *tokenizers[pick % tokenizers.size()];
  const std::string_view text(reinterpret_cast<const char*>(data.data()) + 1, data.size() - 1);
  const auto ids = tokenizer.encode(
      text, {.add_special = (control & 4) != 0, .parse_special = (control & 8) != 0});
  volatile size_t sink = tokenizer.decode(ids, /*special=*/(control & 16) != 0).size();
  engine::Utf8StreamDecoder stream(tokenizer);
  for (auto id : ids) sink = sink + stream.push(id).size();
  sink = sink + stream.finish().size();
}

}  // namespace sy::fuzz
