// Synthetic models with real shapes: the preset table (published hyper-parameters) and the
// writer (seeded weights, llama.cpp's metadata for each family).

#include "switchyard/local_engine/synthetic_model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/quantize.h"

namespace sy::engine {
namespace {

struct Shape {
  const char* name;
  const char* display_name;
  const char* architecture;
  uint32_t n_vocab, dim, n_layers, n_heads, n_kv_heads, head_dim, ffn_dim, context;
  float rope_base, rms_eps;
  uint32_t sliding_window;
  float llama3_factor;
};

// From each model's published config.json (hidden_size, num_hidden_layers, num_attention_heads,
// num_key_value_heads, head_dim, intermediate_size, max_position_embeddings, rope_theta,
// rms_norm_eps, sliding_window, rope_scaling). All tie their output projection to the embedding.
constexpr std::array kShapes = {
    Shape{"smollm2-135m", "SmolLM2 135M", "llama", 49152, 576, 30, 9, 3, 64, 1536, 8192, 100000.0f,
          1e-5f, 0, 0.0f},
    Shape{"smollm2-360m", "SmolLM2 360M", "llama", 49152, 960, 32, 15, 5, 64, 2560, 8192, 100000.0f,
          1e-5f, 0, 0.0f},
    Shape{"smollm2-1.7b", "SmolLM2 1.7B", "llama", 49152, 2048, 24, 32, 32, 64, 8192, 8192,
          130000.0f, 1e-5f, 0, 0.0f},
    Shape{"llama3.2-1b", "Llama 3.2 1B", "llama", 128256, 2048, 16, 32, 8, 64, 8192, 131072,
          500000.0f, 1e-5f, 0, 32.0f},
    Shape{"qwen2.5-0.5b", "Qwen2.5 0.5B", "qwen2", 151936, 896, 24, 14, 2, 64, 4864, 32768,
          1000000.0f, 1e-6f, 0, 0.0f},
    Shape{"qwen3-0.6b", "Qwen3 0.6B", "qwen3", 151936, 1024, 28, 16, 8, 128, 3072, 40960,
          1000000.0f, 1e-6f, 0, 0.0f},
    Shape{"gemma2-2b", "Gemma 2 2B", "gemma2", 256000, 2304, 26, 8, 4, 256, 9216, 8192, 10000.0f,
          1e-6f, 4096, 0.0f},
    Shape{"gemma3-270m", "Gemma 3 270M", "gemma3", 262144, 640, 18, 4, 1, 256, 2048, 32768,
          1000000.0f, 1e-6f, 512, 0.0f},
};

std::vector<SyntheticPreset> make_presets() {
  std::vector<SyntheticPreset> out;
  for (const Shape& s : kShapes) {
    SyntheticPreset p;
    p.name = s.name;
    p.display_name = s.display_name;
    ModelConfig& c = p.config;
    c.architecture = s.architecture;
    c.n_vocab = s.n_vocab;
    c.dim = s.dim;
    c.n_layers = s.n_layers;
    c.n_heads = s.n_heads;
    c.n_kv_heads = s.n_kv_heads;
    c.head_dim = s.head_dim;
    c.rope_dim = s.head_dim;
    c.ffn_dim = s.ffn_dim;
    c.context_length = s.context;
    c.rope_freq_base = s.rope_base;
    c.rms_eps = s.rms_eps;
    c.tied_output = true;
    c.sliding_window = s.sliding_window;
    if (c.architecture == "gemma2") {  // attn_logit_softcapping, final_logit_softcapping
      c.attn_softcap = 50.0f;
      c.final_softcap = 30.0f;
    }
    p.llama3_rope.factor = s.llama3_factor;
    out.push_back(std::move(p));
  }
  return out;
}

// Seeded weights: splitmix64 per tensor (keyed by seed and name), an Irwin-Hall sum of four
// uniforms as a cheap near-normal (unit variance, tails cut at +-3.5 sigma).
class WeightStream {
 public:
  WeightStream(uint64_t seed, std::string_view name) : state_(seed * 0x9E3779B97F4A7C15ull) {
    for (unsigned char ch : name) state_ = (state_ ^ ch) * 0x100000001B3ull;  // FNV-1a mix
  }
  float normal() {
    const uint64_t z = next();
    const float sum = static_cast<float>(z & 0xFFFF) + static_cast<float>((z >> 16) & 0xFFFF) +
                      static_cast<float>((z >> 32) & 0xFFFF) + static_cast<float>(z >> 48);
    // Four uniforms on [0, 65536): mean 131070, variance 4 * 65536^2 / 12.
    return (sum - 131070.0f) * (1.7320508f / 65536.0f);
  }

 private:
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t state_;
};

// Llama 3's rope_freqs.weight: a divisor per frequency, 1 for short wavelengths, `factor` for
// long ones and a smooth blend between (the converter's computation, from the published recipe).
std::vector<float> llama3_rope_factors(const ModelConfig& c, const Llama3RopeScaling& s) {
  const double low_wavelen = s.original_context / s.low_freq_factor;
  const double high_wavelen = s.original_context / s.high_freq_factor;
  std::vector<float> out;
  for (uint32_t i = 0; i < c.rope_dim; i += 2) {
    const double freq = 1.0 / std::pow(c.rope_freq_base, double(i) / c.rope_dim);
    const double wavelen = 2 * std::numbers::pi / freq;
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(s.factor);
    } else {
      const double smooth = (s.original_context / wavelen - s.low_freq_factor) /
                            (s.high_freq_factor - s.low_freq_factor);
      out.push_back(static_cast<float>(1.0 / ((1 - smooth) / s.factor + smooth)));
    }
  }
  return out;
}

TokenId find_token(const Vocabulary& v, std::initializer_list<std::string_view> spellings) {
  for (std::string_view s : spellings) {
    for (size_t i = 0; i < v.tokens.size(); ++i) {
      if (v.tokens[i] == s) return static_cast<TokenId>(i);
    }
  }
  return -1;
}

class Writer {
 public:
  Writer(const SyntheticOptions& options, SyntheticReport& report)
      : options_(options), report_(report) {}

  // A (rows, cols) matrix, ggml shape [cols, rows], N(0, 0.02)-like. Drawn and encoded a few
  // rows at a time: a large embedding never exists in F32.
  void matrix(const std::string& name, uint64_t cols, uint64_t rows) {
    TensorType type = options_.type;
    if (cols % tensor_type_traits(type).block_size != 0) {
      type = cols % 32 == 0 ? TensorType::q8_0 : TensorType::f16;
      ++report_.fell_back;
    }
    WeightStream stream(options_.seed, name);
    // ~4M values per chunk: small next to an embedding, big enough for the quantizer to split
    // K-quant fitting across cores.
    const uint64_t rows_per_chunk = std::max<uint64_t>(1, (uint64_t{4} << 20) / cols);
    std::vector<std::byte> bytes;
    bytes.reserve(tensor_bytes(type, std::vector<uint64_t>{cols, rows}));
    std::vector<float> values;
    try {
      for (uint64_t row = 0; row < rows; row += rows_per_chunk) {
        values.resize(std::min(rows_per_chunk, rows - row) * cols);
        for (float& v : values) v = 0.02f * stream.normal();
        const auto chunk = quantize_values(type, values);
        bytes.insert(bytes.end(), chunk.begin(), chunk.end());
      }
      report_.parameters += cols * rows;
      writer_.add_tensor(name, type, {cols, rows}, bytes);
    } catch (const EngineError& e) {
      throw EngineError("tensor " + name + ": " + e.what());
    }
  }
  // A vector around `center` (1 for norm weights, 0 for biases), kept F32.
  void vector(const std::string& name, uint64_t n, float center) {
    WeightStream stream(options_.seed, name);
    std::vector<float> values(n);
    for (float& v : values) v = center + 0.02f * stream.normal();
    add(name, TensorType::f32, {n}, values);
  }
  void exact(const std::string& name, const std::vector<float>& values) {
    add(name, TensorType::f32, {values.size()}, values);
  }
  GgufWriter& gguf() { return writer_; }

 private:
  void add(const std::string& name, TensorType type, std::vector<uint64_t> shape,
           const std::vector<float>& values) {
    report_.parameters += values.size();
    try {
      const auto bytes = quantize_values(type, values);
      writer_.add_tensor(name, type, std::move(shape), bytes);
    } catch (const EngineError& e) {
      throw EngineError("tensor " + name + ": " + e.what());
    }
  }
  const SyntheticOptions& options_;
  SyntheticReport& report_;
  GgufWriter writer_;
};

void write_metadata(GgufWriter& w, const SyntheticPreset& preset, const ModelConfig& c,
                    const SyntheticOptions& options) {
  const std::string& arch = c.architecture;
  const std::string p = arch + ".";
  w.set("general.architecture", GgufValue::string(arch));
  w.set("general.type", GgufValue::string("model"));
  w.set("general.name", GgufValue::string(preset.display_name + " (synthetic)"));
  w.set("general.file_type", GgufValue::u32(gguf_file_type(options.type)));
  w.set("general.quantization_version", GgufValue::u32(2));
  w.set(p + "context_length", GgufValue::u32(c.context_length));
  w.set(p + "embedding_length", GgufValue::u32(c.dim));
  w.set(p + "block_count", GgufValue::u32(c.n_layers));
  w.set(p + "feed_forward_length", GgufValue::u32(c.ffn_dim));
  w.set(p + "attention.head_count", GgufValue::u32(c.n_heads));
  w.set(p + "attention.head_count_kv", GgufValue::u32(c.n_kv_heads));
  w.set(p + "rope.freq_base", GgufValue::f32(c.rope_freq_base));
  w.set(p + "attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_eps));
  w.set(p + "attention.key_length", GgufValue::u32(c.head_dim));
  w.set(p + "attention.value_length", GgufValue::u32(c.head_dim));
  if (arch == "llama") {
    w.set(p + "vocab_size", GgufValue::u32(c.n_vocab));
    w.set(p + "rope.dimension_count", GgufValue::u32(c.rope_dim));
  }
  if (c.rope_freq_scale != 1.0f) {
    w.set(p + "rope.scaling.type", GgufValue::string("linear"));
    w.set(p + "rope.scaling.factor", GgufValue::f32(1.0f / c.rope_freq_scale));
  }
  if (arch == "gemma2" || arch == "gemma3") {
    if (c.sliding_window > 0)
      w.set(p + "attention.sliding_window", GgufValue::u32(c.sliding_window));
  }
  if (arch == "gemma2") {
    w.set(p + "attn_logit_softcapping", GgufValue::f32(c.attn_softcap));
    w.set(p + "final_logit_softcapping", GgufValue::f32(c.final_softcap));
  }
  if (arch == "gemma3" && c.rope_freq_base_swa != 10000.0f) {
    // llama.cpp assumes 10000 for Gemma 3's local layers; only a different base is written.
    w.set(p + "rope.freq_base_swa", GgufValue::f32(c.rope_freq_base_swa));
  }
  if (arch == "gemma3" && c.final_softcap > 0) {
    w.set(p + "final_logit_softcapping", GgufValue::f32(c.final_softcap));
  }
}

void write_vocabulary(GgufWriter& w, const Vocabulary& v) {
  w.set("tokenizer.ggml.model", GgufValue::string(v.model));
  w.set("tokenizer.ggml.pre", GgufValue::string(v.pre));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(v.tokens));
  if (!v.scores.empty()) w.set("tokenizer.ggml.scores", GgufValue::f32_array(v.scores));
  std::vector<int32_t> kinds;
  for (TokenKind k : v.kinds) kinds.push_back(static_cast<int32_t>(k));
  w.set("tokenizer.ggml.token_type", GgufValue::i32_array(kinds));
  if (!v.merges.empty()) w.set("tokenizer.ggml.merges", GgufValue::string_array(v.merges));
  if (v.bos >= 0) w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(v.bos));
  if (v.eos >= 0) w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(v.eos));
  if (v.unk >= 0) w.set("tokenizer.ggml.unknown_token_id", GgufValue::u32(v.unk));
  // Stated explicitly so every engine agrees instead of applying its own default.
  w.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(v.add_bos));
  w.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(v.add_eos));
  if (v.model == "llama") {
    w.set("tokenizer.ggml.add_space_prefix", GgufValue::boolean(v.add_space_prefix));
  }
}

}  // namespace

std::span<const SyntheticPreset> synthetic_presets() {
  static const std::vector<SyntheticPreset> presets = make_presets();
  return presets;
}

std::optional<SyntheticPreset> find_synthetic_preset(std::string_view name) {
  for (const SyntheticPreset& p : synthetic_presets()) {
    if (p.name == name) return p;
  }
  return std::nullopt;
}

SyntheticReport write_synthetic_model(const SyntheticPreset& preset, Vocabulary vocabulary,
                                      const SyntheticOptions& options,
                                      const std::filesystem::path& output) {
  ModelConfig c = preset.config;
  if (options.layers > 0) c.n_layers = options.layers;
  if (options.vocab > 0) c.n_vocab = options.vocab;
  const std::string& arch = c.architecture;
  if (arch != "llama" && arch != "qwen2" && arch != "qwen3" && arch != "gemma2" &&
      arch != "gemma3") {
    throw EngineError("synthetic model: architecture " + arch + " has no writer");
  }
  if (vocabulary.size() > c.n_vocab) {
    throw EngineError("synthetic model " + preset.name + ": the tokenizer has " +
                      std::to_string(vocabulary.size()) + " tokens, the model only " +
                      std::to_string(c.n_vocab));
  }
  if (vocabulary.kinds.size() != vocabulary.size()) {
    vocabulary.kinds.resize(vocabulary.size(), TokenKind::normal);
  }
  const bool has_scores = !vocabulary.scores.empty();
  for (size_t id = vocabulary.size(); id < c.n_vocab; ++id) {
    vocabulary.tokens.push_back("[PAD" + std::to_string(id) + "]");
    vocabulary.kinds.push_back(TokenKind::unused);
    if (has_scores) vocabulary.scores.push_back(-1000.0f);
  }
  if (vocabulary.bos < 0) {
    vocabulary.bos = find_token(
        vocabulary, {"<|im_start|>", "<|begin_of_text|>", "<s>", "<bos>", "<|endoftext|>"});
  }
  if (vocabulary.eos < 0) {
    vocabulary.eos =
        find_token(vocabulary, {"<|im_end|>", "<|eot_id|>", "</s>", "<eos>", "<|endoftext|>"});
  }

  SyntheticReport report;
  Writer w(options, report);
  write_metadata(w.gguf(), preset, c, options);
  write_vocabulary(w.gguf(), vocabulary);

  const bool qkv_bias = arch == "qwen2";
  const bool qk_norm = arch == "qwen3" || arch == "gemma3";
  const bool post_norms = arch == "gemma2" || arch == "gemma3";
  const uint64_t q_width = uint64_t{c.n_heads} * c.head_dim;
  const uint64_t kv_width = uint64_t{c.n_kv_heads} * c.head_dim;
  w.matrix("token_embd.weight", c.dim, c.n_vocab);
  if (preset.llama3_rope.factor > 0) {
    w.exact("rope_freqs.weight", llama3_rope_factors(c, preset.llama3_rope));
  }
  for (uint32_t l = 0; l < c.n_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    // Gemma stores its norms as 1 + w (the converter adds the 1): near 1 like the others.
    w.vector(b + "attn_norm.weight", c.dim, 1.0f);
    w.matrix(b + "attn_q.weight", c.dim, q_width);
    w.matrix(b + "attn_k.weight", c.dim, kv_width);
    w.matrix(b + "attn_v.weight", c.dim, kv_width);
    if (qkv_bias) {
      w.vector(b + "attn_q.bias", q_width, 0.0f);
      w.vector(b + "attn_k.bias", kv_width, 0.0f);
      w.vector(b + "attn_v.bias", kv_width, 0.0f);
    }
    if (qk_norm) {
      w.vector(b + "attn_q_norm.weight", c.head_dim, 1.0f);
      w.vector(b + "attn_k_norm.weight", c.head_dim, 1.0f);
    }
    w.matrix(b + "attn_output.weight", q_width, c.dim);
    if (post_norms) w.vector(b + "post_attention_norm.weight", c.dim, 1.0f);
    w.vector(b + "ffn_norm.weight", c.dim, 1.0f);
    w.matrix(b + "ffn_gate.weight", c.dim, c.ffn_dim);
    w.matrix(b + "ffn_up.weight", c.dim, c.ffn_dim);
    w.matrix(b + "ffn_down.weight", c.ffn_dim, c.dim);
    if (post_norms) w.vector(b + "post_ffw_norm.weight", c.dim, 1.0f);
  }
  w.vector("output_norm.weight", c.dim, 1.0f);
  if (!c.tied_output) w.matrix("output.weight", c.dim, c.n_vocab);
  w.gguf().write(output);
  report.file_bytes = std::filesystem::file_size(output);
  return report;
}

}  // namespace sy::engine
