// Writes a synthetic SmolLM2-shaped GGUF for bench/engine/run.sh: the real hyper-parameters,
// the real tokenizer (from tokenizer.json), seeded random F16 weights. `switchyard model
// quantize` then turns it into Q8_0/Q4_0. Random weights run the kernels at the same speed as
// trained ones; the text they produce means nothing. (Superseded by `switchyard model synth`
// once that verb exists; run.sh prefers it.)
//
//   engine_synth_smollm2 --like smollm2-135m|smollm2-360m --tokenizer tokenizer.json
//                        [--seed S] -o OUT.gguf

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/vocabulary.h"

namespace {

using sy::engine::GgufType;
using sy::engine::GgufValue;
using sy::engine::GgufWriter;
using sy::engine::TensorType;

// Published shapes (HuggingFaceTB/SmolLM2-*/config.json); vocabulary 49,152, tied embeddings.
struct Shape {
  const char* name;
  uint32_t dim, layers, heads, kv_heads, ffn;
  float rope_base;
};
constexpr Shape kShapes[] = {
    {"smollm2-135m", 576, 30, 9, 3, 1536, 100000.0f},
    {"smollm2-360m", 960, 32, 15, 5, 2560, 100000.0f},
};

// xorshift64*: fast and seeded; the weights only need to be reproducible, not good random.
struct Rng {
  uint64_t s;
  float uniform() {  // [-1, 1)
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return static_cast<float>((s * 0x2545F4914F6CDD1DULL) >> 40) / float(1 << 23) - 1.0f;
  }
};

// (rows, cols) F16 matrix with entries uniform in ±scale; bytes in ggml order (cols contiguous).
std::vector<std::byte> random_f16(Rng& rng, size_t rows, size_t cols, float scale) {
  std::vector<std::byte> out(rows * cols * 2);
  for (size_t i = 0; i < rows * cols; ++i) {
    const _Float16 h = static_cast<_Float16>(rng.uniform() * scale);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

std::vector<std::byte> ones_f32(size_t n) {
  std::vector<std::byte> out(n * 4);
  const float one = 1.0f;
  for (size_t i = 0; i < n; ++i) std::memcpy(out.data() + 4 * i, &one, 4);
  return out;
}

int run(int argc, char** argv) {
  std::string like, tokenizer, out;
  uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--like") like = argv[i + 1];
    else if (flag == "--tokenizer") tokenizer = argv[i + 1];
    else if (flag == "--seed") seed = std::stoull(argv[i + 1]);
    else if (flag == "-o") out = argv[i + 1];
  }
  const Shape* shape = nullptr;
  for (const auto& s : kShapes) {
    if (like == s.name) shape = &s;
  }
  if (shape == nullptr || tokenizer.empty() || out.empty()) {
    std::fprintf(stderr, "usage: %s --like smollm2-135m|smollm2-360m --tokenizer tokenizer.json "
                         "[--seed S] -o OUT.gguf\n", argv[0]);
    return 2;
  }
  auto vocab = sy::engine::vocabulary_from_tokenizer_json(tokenizer);
  const uint32_t n_vocab = 49152;
  if (vocab.size() != n_vocab) {
    std::fprintf(stderr, "tokenizer has %zu tokens, SmolLM2 has %u\n", vocab.size(), n_vocab);
    return 1;
  }

  GgufWriter w;
  const std::string a = "llama.";
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("general.name", GgufValue::string(std::string("synthetic ") + shape->name));
  w.set("general.file_type", GgufValue::u32(1));  // mostly F16
  w.set(a + "context_length", GgufValue::u32(8192));
  w.set(a + "embedding_length", GgufValue::u32(shape->dim));
  w.set(a + "block_count", GgufValue::u32(shape->layers));
  w.set(a + "feed_forward_length", GgufValue::u32(shape->ffn));
  w.set(a + "attention.head_count", GgufValue::u32(shape->heads));
  w.set(a + "attention.head_count_kv", GgufValue::u32(shape->kv_heads));
  w.set(a + "rope.dimension_count", GgufValue::u32(shape->dim / shape->heads));
  w.set(a + "rope.freq_base", GgufValue::f32(shape->rope_base));
  w.set(a + "attention.layer_norm_rms_epsilon", GgufValue::f32(1e-5f));
  w.set(a + "vocab_size", GgufValue::u32(n_vocab));
  w.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
  w.set("tokenizer.ggml.pre", GgufValue::string("smollm"));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(vocab.tokens));
  std::vector<int32_t> kinds;
  for (auto k : vocab.kinds) kinds.push_back(static_cast<int32_t>(k));
  w.set("tokenizer.ggml.token_type", GgufValue::i32_array(kinds));
  w.set("tokenizer.ggml.merges", GgufValue::string_array(vocab.merges));
  // SmolLM2-Instruct's config: <|im_start|> (1) and <|im_end|> (2), padding with the latter.
  w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(1));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(2));
  w.set("tokenizer.ggml.padding_token_id", GgufValue::u32(2));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(false));

  // Scale ~ 1/sqrt(fan-in), as initialisers do, so activations stay in range through the layers.
  Rng rng{seed * 0x9E3779B97F4A7C15ULL + 1};
  const uint64_t d = shape->dim, f = shape->ffn;
  const uint64_t head = d / shape->heads, kv = head * shape->kv_heads;
  auto matrix = [&](const std::string& name, uint64_t rows, uint64_t cols) {
    const float scale = 1.7f / std::sqrt(static_cast<float>(cols));
    w.add_tensor(name, TensorType::f16, {cols, rows}, random_f16(rng, rows, cols, scale));
  };
  matrix("token_embd.weight", n_vocab, d);
  w.add_tensor("output_norm.weight", TensorType::f32, {d}, ones_f32(d));
  for (uint32_t l = 0; l < shape->layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    w.add_tensor(b + "attn_norm.weight", TensorType::f32, {d}, ones_f32(d));
    matrix(b + "attn_q.weight", d, d);
    matrix(b + "attn_k.weight", kv, d);
    matrix(b + "attn_v.weight", kv, d);
    matrix(b + "attn_output.weight", d, d);
    w.add_tensor(b + "ffn_norm.weight", TensorType::f32, {d}, ones_f32(d));
    matrix(b + "ffn_gate.weight", f, d);
    matrix(b + "ffn_up.weight", f, d);
    matrix(b + "ffn_down.weight", d, f);
  }
  w.write(out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engine_synth_smollm2: %s\n", e.what());
    return 1;
  }
}
