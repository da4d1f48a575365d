#include "runtime/llama_cpu.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cpu/dequantize.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"

namespace sy::engine {
namespace {

void rms_norm(float* out, const float* x, const float* weight, size_t n, float eps) {
  double sum_squares = 0;
  for (size_t i = 0; i < n; ++i) sum_squares += double(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum_squares / n) + eps);
  for (size_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void add_bias(float* v, const std::vector<float>& bias) {
  for (size_t i = 0; i < bias.size(); ++i) v[i] += bias[i];
}

// out += p * v (n). The buffers never overlap; saying so lets the compiler vectorize the loop
// (element by element, so the values do not change).
void add_scaled(float* __restrict out, const float* __restrict v, float p, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] += p * v[i];
}

float gelu_tanh(float x) {
  const float sqrt_2_over_pi = 0.7978845608f;
  return 0.5f * x * (1.0f + std::tanh(sqrt_2_over_pi * (x + 0.044715f * x * x * x)));
}

// scale * base^(-2i/rope_dim) / factor_i for each rotated pair i.
std::vector<float> inverse_frequencies(const ModelConfig& c, float base, float scale,
                                       const std::vector<float>& factors) {
  std::vector<float> inv(c.rope_dim / 2);
  for (size_t i = 0; i < inv.size(); ++i) {
    inv[i] = scale * std::pow(base, -static_cast<float>(2 * i) / static_cast<float>(c.rope_dim));
    if (!factors.empty()) inv[i] /= factors[i];
  }
  return inv;
}

// F16 -> F32 for every bit pattern, built once: attention widens every cached value row it
// reads, and a table look-up is several times cheaper than the bitwise conversion (same values).
const float* fp16_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t i = 0; i < t.size(); ++i) t[i] = kernels::fp16_to_fp32(static_cast<uint16_t>(i));
    return t;
  }();
  return table.data();
}

}  // namespace

LlamaCpu::LlamaCpu(const Model& model, size_t max_positions, size_t threads, KvCacheType kv_type)
    : model_(model),
      c_(model.config()),
      kernels_(kernels::select_cpu_kernels()),
      pool_(threads),
      max_positions_(max_positions),
      kv_type_(kv_type) {
  if (model.file() == nullptr) throw EngineError("the CPU pass needs a GGUF model");
  const size_t q_width = size_t{c_.n_heads} * c_.head_dim;
  const size_t kv_width = size_t{c_.n_kv_heads} * c_.head_dim;
  token_embd_ = view("token_embd.weight", c_.n_vocab, c_.dim);
  output_ = c_.tied_output ? token_embd_ : view("output.weight", c_.n_vocab, c_.dim);
  for (uint32_t l = 0; l < c_.n_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    Layer layer{view(b + "attn_q.weight", q_width, c_.dim),
                view(b + "attn_k.weight", kv_width, c_.dim),
                view(b + "attn_v.weight", kv_width, c_.dim),
                view(b + "attn_output.weight", c_.dim, q_width),
                view(b + "ffn_gate.weight", c_.ffn_dim, c_.dim),
                view(b + "ffn_up.weight", c_.ffn_dim, c_.dim),
                view(b + "ffn_down.weight", c_.dim, c_.ffn_dim),
                vector_f32(b + "attn_norm.weight", c_.dim),
                vector_f32(b + "ffn_norm.weight", c_.dim)};
    if (c_.qkv_bias) {
      layer.bq = vector_f32(b + "attn_q.bias", q_width);
      layer.bk = vector_f32(b + "attn_k.bias", kv_width);
      layer.bv = vector_f32(b + "attn_v.bias", kv_width);
    }
    if (c_.qk_norm) {
      layer.q_norm = vector_f32(b + "attn_q_norm.weight", c_.head_dim);
      layer.k_norm = vector_f32(b + "attn_k_norm.weight", c_.head_dim);
    }
    if (c_.post_norms) {
      layer.attn_post_norm = vector_f32(b + "post_attention_norm.weight", c_.dim);
      layer.ffn_post_norm = vector_f32(b + "post_ffw_norm.weight", c_.dim);
    }
    layers_.push_back(std::move(layer));
  }
  output_norm_ = vector_f32("output_norm.weight", c_.dim);
  std::vector<float> factors;
  if (c_.rope_freq_factors) factors = vector_f32("rope_freqs.weight", c_.rope_dim / 2);
  inv_freq_ = inverse_frequencies(c_, c_.rope_freq_base, c_.rope_freq_scale, factors);
  inv_freq_swa_ = inverse_frequencies(c_, c_.rope_freq_base_swa, c_.rope_freq_scale_swa, factors);
  rope_cos_.resize(c_.rope_dim / 2);
  rope_sin_.resize(c_.rope_dim / 2);
  x_.resize(c_.dim);
  xb_.resize(c_.dim);
  q_.resize(q_width);
  k_.resize(kv_width);
  v_.resize(kv_width);
  att_out_.resize(q_width);
  scores_.resize(size_t{c_.n_heads / c_.n_kv_heads} * max_positions);
  value_row_.resize(c_.head_dim);
  gate_.resize(c_.ffn_dim);
  up_.resize(c_.ffn_dim);
  logits_.resize(c_.n_vocab);
  const size_t cache = size_t{c_.n_layers} * max_positions * kv_width;
  if (kv_type_ == KvCacheType::f16) {
    key_cache_f16_.resize(cache);
    value_cache_f16_.resize(cache);
  } else {
    key_cache_.resize(cache);
    value_cache_.resize(cache);
  }
}

kernels::MatrixView LlamaCpu::view(std::string_view name, size_t rows, size_t cols) const {
  const GgufTensor& t = model_.file()->tensor(name);
  if (t.shape.size() != 2 || t.shape[0] != cols || t.shape[1] != rows) {
    throw EngineError("tensor " + std::string(name) + ": unexpected shape");
  }
  if (t.type != TensorType::f32 && t.type != TensorType::f16 && t.type != TensorType::bf16 &&
      t.type != TensorType::q8_0 && t.type != TensorType::q4_0 && t.type != TensorType::q4_k &&
      t.type != TensorType::q6_k) {
    throw EngineError("tensor " + std::string(name) + ": type " + std::string(to_string(t.type)) +
                      " is not supported by the CPU pass yet");
  }
  return {t.type, t.data.data(), rows, cols};
}

std::vector<float> LlamaCpu::vector_f32(std::string_view name, size_t n) const {
  const GgufTensor& t = model_.file()->tensor(name);
  if (t.shape.size() != 1 || t.shape[0] != n) {
    throw EngineError("tensor " + std::string(name) + ": unexpected shape");
  }
  std::vector<float> out(n);
  kernels::dequantize(t.type, t.data, out);
  return out;
}

void LlamaCpu::matvec(const kernels::MatrixView& w, const float* x, float* out) {
  // The activations are quantized once, here, and then only read by every thread.
  kernels::MatvecScratch& activations = scratch_;
  kernels::quantize_activations(w, x, activations);
  const size_t chunks = std::min(pool_.size(), w.rows);
  pool_.parallel_for(chunks, [&](size_t i) {
    const size_t begin = w.rows * i / chunks, end = w.rows * (i + 1) / chunks;
    kernels::matvec_rows(kernels_, w, x, activations, out, begin, end);
  });
}

void LlamaCpu::matmul(const kernels::MatrixView& w, const float* x, size_t n, float* out) {
  kernels::prepare_batch(w, x, n, batch_);
  const size_t token_chunks = std::min(pool_.size(), n);
  pool_.parallel_for(token_chunks, [&](size_t i) {
    kernels::quantize_batch(w, batch_, n * i / token_chunks, n * (i + 1) / token_chunks);
  });
  const size_t chunks = std::min(pool_.size(), w.rows);
  pool_.parallel_for(chunks, [&](size_t i) {
    const size_t begin = w.rows * i / chunks, end = w.rows * (i + 1) / chunks;
    kernels::matmul(kernels_, w, batch_, out, begin, end);
  });
}

void LlamaCpu::embed(TokenId token, float* out) const {
  if (token < 0 || static_cast<uint32_t>(token) >= c_.n_vocab) {
    throw EngineError("token id " + std::to_string(token) + " outside the vocabulary");
  }
  const auto traits = tensor_type_traits(token_embd_.type);
  const size_t row_bytes = c_.dim / traits.block_size * traits.block_bytes;
  kernels::dequantize(
      token_embd_.type,
      {static_cast<const std::byte*>(token_embd_.data) + token * row_bytes, row_bytes},
      std::span<float>(out, c_.dim));
  if (c_.embedding_scale != 1.0f) {
    for (size_t i = 0; i < c_.dim; ++i) out[i] *= c_.embedding_scale;
  }
}

void LlamaCpu::rope_angles(const std::vector<float>& inv_freq, size_t pos) {
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    const float angle = static_cast<float>(pos) * inv_freq[i];
    rope_cos_[i] = std::cos(angle);
    rope_sin_[i] = std::sin(angle);
  }
}

void LlamaCpu::rope(float* v, size_t n_heads) const {
  const size_t half = c_.rope_dim / 2;
  const bool adjacent = c_.rope_style == RopeStyle::adjacent_pairs;
  for (size_t h = 0; h < n_heads; ++h) {
    float* head = v + h * c_.head_dim;
    for (size_t i = 0; i < half; ++i) {
      const size_t ia = adjacent ? 2 * i : i, ib = adjacent ? 2 * i + 1 : i + half;
      const float a = head[ia], b = head[ib];
      head[ia] = a * rope_cos_[i] - b * rope_sin_[i];
      head[ib] = a * rope_sin_[i] + b * rope_cos_[i];
    }
  }
}

void LlamaCpu::store_kv(size_t l, size_t pos, const float* k, const float* v) {
  const size_t kv_width = size_t{c_.n_kv_heads} * c_.head_dim;
  const size_t at = (l * max_positions_ + pos) * kv_width;
  if (kv_type_ == KvCacheType::f16) {
    for (size_t i = 0; i < kv_width; ++i) {
      key_cache_f16_[at + i] = kernels::fp32_to_fp16(k[i]);
      value_cache_f16_[at + i] = kernels::fp32_to_fp16(v[i]);
    }
  } else {
    std::copy_n(k, kv_width, key_cache_.data() + at);
    std::copy_n(v, kv_width, value_cache_.data() + at);
  }
}

void LlamaCpu::attention(size_t l, size_t pos) {
  store_kv(l, pos, k_.data(), v_.data());
  attend(l, pos, q_.data(), att_out_.data(), scores_.data(), value_row_.data());
}

// Heads are taken a KV head at a time with the query heads that share it, so each cached value
// row is read (and, in F16, converted) once for the whole group.
void LlamaCpu::attend(size_t l, size_t pos, const float* q_all, float* out_all, float* scores_all,
                      float* value_row) const {
  const size_t head_dim = c_.head_dim;
  const size_t kv_width = size_t{c_.n_kv_heads} * head_dim;
  const size_t group = c_.n_heads / c_.n_kv_heads;
  const size_t layer_offset = l * max_positions_ * kv_width;
  const bool f16 = kv_type_ == KvCacheType::f16;
  const float* widen = fp16_table();
  const size_t first =
      c_.is_sliding(l) && pos >= c_.sliding_window ? pos - c_.sliding_window + 1 : 0;
  for (size_t kv_head = 0; kv_head < c_.n_kv_heads; ++kv_head) {
    const size_t head_offset = layer_offset + kv_head * head_dim;
    // Probabilities of the group's query heads: scores_all is (group, max_positions).
    for (size_t g = 0; g < group; ++g) {
      const float* q = q_all + (kv_head * group + g) * head_dim;
      float* scores = scores_all + g * max_positions_;
      float max = -INFINITY;
      for (size_t t = first; t <= pos; ++t) {
        const size_t at = head_offset + t * kv_width;
        float score = f16 ? kernels_.dot_f16_f32(key_cache_f16_.data() + at, q, head_dim)
                          : kernels_.dot_f32(q, key_cache_.data() + at, head_dim);
        score *= c_.attention_scale;
        if (c_.attn_softcap > 0) score = c_.attn_softcap * std::tanh(score / c_.attn_softcap);
        scores[t] = score;
        max = std::max(max, score);
      }
      float sum = 0;
      for (size_t t = first; t <= pos; ++t) {
        scores[t] = std::exp(scores[t] - max);
        sum += scores[t];
      }
      for (size_t t = first; t <= pos; ++t) scores[t] /= sum;
      float* out = out_all + (kv_head * group + g) * head_dim;
      std::fill(out, out + head_dim, 0.0f);
    }
    for (size_t t = first; t <= pos; ++t) {
      const size_t at = head_offset + t * kv_width;
      const float* v = value_row;
      if (f16) {
        const uint16_t* v16 = value_cache_f16_.data() + at;
        for (size_t i = 0; i < head_dim; ++i) value_row[i] = widen[v16[i]];
      } else {
        v = value_cache_.data() + at;
      }
      for (size_t g = 0; g < group; ++g) {
        const float p = scores_all[g * max_positions_ + t];
        add_scaled(out_all + (kv_head * group + g) * head_dim, v, p, head_dim);
      }
    }
  }
}

std::span<const float> LlamaCpu::forward(TokenId token, size_t pos) {
  if (token < 0 || static_cast<uint32_t>(token) >= c_.n_vocab) {
    throw EngineError("token id " + std::to_string(token) + " outside the vocabulary");
  }
  if (pos >= max_positions_) throw EngineError("position past the KV cache");
  const size_t dim = c_.dim, head_dim = c_.head_dim;

  embed(token, x_.data());

  bool angles_sliding = false;
  rope_angles(inv_freq_, pos);
  for (size_t l = 0; l < c_.n_layers; ++l) {
    const Layer& lw = layers_[l];
    rms_norm(xb_.data(), x_.data(), lw.attn_norm.data(), dim, c_.rms_eps);
    matvec(lw.wq, xb_.data(), q_.data());
    matvec(lw.wk, xb_.data(), k_.data());
    matvec(lw.wv, xb_.data(), v_.data());
    add_bias(q_.data(), lw.bq);
    add_bias(k_.data(), lw.bk);
    add_bias(v_.data(), lw.bv);
    if (c_.qk_norm) {
      for (size_t h = 0; h < c_.n_heads; ++h) {
        float* q = q_.data() + h * head_dim;
        rms_norm(q, q, lw.q_norm.data(), head_dim, c_.rms_eps);
      }
      for (size_t h = 0; h < c_.n_kv_heads; ++h) {
        float* k = k_.data() + h * head_dim;
        rms_norm(k, k, lw.k_norm.data(), head_dim, c_.rms_eps);
      }
    }
    if (c_.is_sliding(l) != angles_sliding) {
      angles_sliding = c_.is_sliding(l);
      rope_angles(angles_sliding ? inv_freq_swa_ : inv_freq_, pos);
    }
    rope(q_.data(), c_.n_heads);
    rope(k_.data(), c_.n_kv_heads);
    attention(l, pos);
    matvec(lw.wo, att_out_.data(), xb_.data());
    if (c_.post_norms) rms_norm(xb_.data(), xb_.data(), lw.attn_post_norm.data(), dim, c_.rms_eps);
    for (size_t i = 0; i < dim; ++i) x_[i] += xb_[i];

    rms_norm(xb_.data(), x_.data(), lw.ffn_norm.data(), dim, c_.rms_eps);
    matvec(lw.w_gate, xb_.data(), gate_.data());
    matvec(lw.w_up, xb_.data(), up_.data());
    if (c_.activation == FfnActivation::silu) {
      for (size_t i = 0; i < c_.ffn_dim; ++i) {
        const float g = gate_[i];
        gate_[i] = g / (1.0f + std::exp(-g)) * up_[i];
      }
    } else {
      for (size_t i = 0; i < c_.ffn_dim; ++i) gate_[i] = gelu_tanh(gate_[i]) * up_[i];
    }
    matvec(lw.w_down, gate_.data(), xb_.data());
    if (c_.post_norms) rms_norm(xb_.data(), xb_.data(), lw.ffn_post_norm.data(), dim, c_.rms_eps);
    for (size_t i = 0; i < dim; ++i) x_[i] += xb_[i];
  }
  rms_norm(x_.data(), x_.data(), output_norm_.data(), dim, c_.rms_eps);
  matvec(output_, x_.data(), logits_.data());
  if (c_.final_softcap > 0) {
    for (float& l : logits_) l = c_.final_softcap * std::tanh(l / c_.final_softcap);
  }
  return logits_;
}

std::span<const float> LlamaCpu::forward_batch(std::span<const TokenId> tokens,
                                               size_t start_pos) {
  if (tokens.empty()) throw EngineError("forward_batch: no tokens");
  if (start_pos + tokens.size() > max_positions_) throw EngineError("position past the KV cache");
  if (bx_.empty()) {
    const size_t q_width = size_t{c_.n_heads} * c_.head_dim;
    const size_t kv_width = size_t{c_.n_kv_heads} * c_.head_dim;
    bx_.resize(kPrefillChunk * c_.dim);
    bxb_.resize(kPrefillChunk * c_.dim);
    bq_.resize(kPrefillChunk * q_width);
    bk_.resize(kPrefillChunk * kv_width);
    bv_.resize(kPrefillChunk * kv_width);
    batt_.resize(kPrefillChunk * q_width);
    bgate_.resize(kPrefillChunk * c_.ffn_dim);
    bup_.resize(kPrefillChunk * c_.ffn_dim);
    attn_scores_.resize(pool_.size() * scores_.size());
    attn_value_rows_.resize(pool_.size() * c_.head_dim);
  }
  for (size_t done = 0; done < tokens.size(); done += kPrefillChunk) {
    const size_t n = std::min(kPrefillChunk, tokens.size() - done);
    forward_chunk(tokens.subspan(done, n), start_pos + done);
  }
  // Logits of the last token only: the others' are never sampled.
  const size_t dim = c_.dim;
  const size_t last = (tokens.size() - 1) % kPrefillChunk;
  rms_norm(x_.data(), bx_.data() + last * dim, output_norm_.data(), dim, c_.rms_eps);
  matvec(output_, x_.data(), logits_.data());
  if (c_.final_softcap > 0) {
    for (float& l : logits_) l = c_.final_softcap * std::tanh(l / c_.final_softcap);
  }
  return logits_;
}

// One chunk through every layer; leaves the chunk's final hidden states in bx_ (n, dim). The
// per-token steps are forward's, in the same order, so the results are the same.
void LlamaCpu::forward_chunk(std::span<const TokenId> tokens, size_t start_pos) {
  const size_t n = tokens.size();
  const size_t dim = c_.dim, head_dim = c_.head_dim, ffn = c_.ffn_dim;
  const size_t q_width = size_t{c_.n_heads} * head_dim;
  const size_t kv_width = size_t{c_.n_kv_heads} * head_dim;
  for (size_t t = 0; t < n; ++t) embed(tokens[t], bx_.data() + t * dim);

  for (size_t l = 0; l < c_.n_layers; ++l) {
    const Layer& lw = layers_[l];
    for (size_t t = 0; t < n; ++t) {
      rms_norm(bxb_.data() + t * dim, bx_.data() + t * dim, lw.attn_norm.data(), dim, c_.rms_eps);
    }
    matmul(lw.wq, bxb_.data(), n, bq_.data());
    matmul(lw.wk, bxb_.data(), n, bk_.data());
    matmul(lw.wv, bxb_.data(), n, bv_.data());
    const std::vector<float>& inv_freq = c_.is_sliding(l) ? inv_freq_swa_ : inv_freq_;
    for (size_t t = 0; t < n; ++t) {
      float* q = bq_.data() + t * q_width;
      float* k = bk_.data() + t * kv_width;
      float* v = bv_.data() + t * kv_width;
      add_bias(q, lw.bq);
      add_bias(k, lw.bk);
      add_bias(v, lw.bv);
      if (c_.qk_norm) {
        for (size_t h = 0; h < c_.n_heads; ++h) {
          rms_norm(q + h * head_dim, q + h * head_dim, lw.q_norm.data(), head_dim, c_.rms_eps);
        }
        for (size_t h = 0; h < c_.n_kv_heads; ++h) {
          rms_norm(k + h * head_dim, k + h * head_dim, lw.k_norm.data(), head_dim, c_.rms_eps);
        }
      }
      rope_angles(inv_freq, start_pos + t);
      rope(q, c_.n_heads);
      rope(k, c_.n_kv_heads);
      store_kv(l, start_pos + t, k, v);
    }
    // Token t reads the cache up to its own position only, so every token's keys and values
    // can be stored first and the tokens attended in parallel. Threads take every chunks-th
    // token: later tokens attend over more positions, striding keeps the shares even.
    const size_t chunks = std::min(pool_.size(), n);
    pool_.parallel_for(chunks, [&](size_t i) {
      for (size_t t = i; t < n; t += chunks) {
        attend(l, start_pos + t, bq_.data() + t * q_width, batt_.data() + t * q_width,
               attn_scores_.data() + i * scores_.size(),
               attn_value_rows_.data() + i * head_dim);
      }
    });
    matmul(lw.wo, batt_.data(), n, bxb_.data());
    for (size_t t = 0; t < n; ++t) {
      float* x = bx_.data() + t * dim;
      float* xb = bxb_.data() + t * dim;
      if (c_.post_norms) rms_norm(xb, xb, lw.attn_post_norm.data(), dim, c_.rms_eps);
      for (size_t i = 0; i < dim; ++i) x[i] += xb[i];
      rms_norm(xb, x, lw.ffn_norm.data(), dim, c_.rms_eps);
    }
    matmul(lw.w_gate, bxb_.data(), n, bgate_.data());
    matmul(lw.w_up, bxb_.data(), n, bup_.data());
    if (c_.activation == FfnActivation::silu) {
      for (size_t i = 0; i < n * ffn; ++i) {
        const float g = bgate_[i];
        bgate_[i] = g / (1.0f + std::exp(-g)) * bup_[i];
      }
    } else {
      for (size_t i = 0; i < n * ffn; ++i) bgate_[i] = gelu_tanh(bgate_[i]) * bup_[i];
    }
    matmul(lw.w_down, bgate_.data(), n, bxb_.data());
    for (size_t t = 0; t < n; ++t) {
      float* x = bx_.data() + t * dim;
      float* xb = bxb_.data() + t * dim;
      if (c_.post_norms) rms_norm(xb, xb, lw.ffn_post_norm.data(), dim, c_.rms_eps);
      for (size_t i = 0; i < dim; ++i) x[i] += xb[i];
    }
  }
}

}  // namespace sy::engine
