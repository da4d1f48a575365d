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

}  // namespace

LlamaCpu::LlamaCpu(const Model& model, size_t max_positions, size_t threads)
    : model_(model),
      c_(model.config()),
      kernels_(kernels::select_cpu_kernels()),
      pool_(threads),
      scratch_(pool_.size()),
      max_positions_(max_positions) {
  if (model.file() == nullptr) throw EngineError("the CPU pass needs a GGUF model");
  const size_t q_width = size_t{c_.n_heads} * c_.head_dim;
  const size_t kv_width = size_t{c_.n_kv_heads} * c_.head_dim;
  token_embd_ = view("token_embd.weight", c_.n_vocab, c_.dim);
  output_ = c_.tied_output ? token_embd_ : view("output.weight", c_.n_vocab, c_.dim);
  for (uint32_t l = 0; l < c_.n_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    layers_.push_back({view(b + "attn_q.weight", q_width, c_.dim),
                       view(b + "attn_k.weight", kv_width, c_.dim),
                       view(b + "attn_v.weight", kv_width, c_.dim),
                       view(b + "attn_output.weight", c_.dim, q_width),
                       view(b + "ffn_gate.weight", c_.ffn_dim, c_.dim),
                       view(b + "ffn_up.weight", c_.ffn_dim, c_.dim),
                       view(b + "ffn_down.weight", c_.dim, c_.ffn_dim),
                       vector_f32(b + "attn_norm.weight"), vector_f32(b + "ffn_norm.weight")});
  }
  output_norm_ = vector_f32("output_norm.weight");
  for (size_t i = 0; i < c_.rope_dim; i += 2) {
    inv_freq_.push_back(std::pow(c_.rope_freq_base, -static_cast<float>(i) / c_.rope_dim));
  }
  x_.resize(c_.dim);
  xb_.resize(c_.dim);
  q_.resize(q_width);
  k_.resize(kv_width);
  v_.resize(kv_width);
  att_out_.resize(q_width);
  scores_.resize(max_positions);
  gate_.resize(c_.ffn_dim);
  up_.resize(c_.ffn_dim);
  logits_.resize(c_.n_vocab);
  key_cache_.resize(size_t{c_.n_layers} * max_positions * kv_width);
  value_cache_.resize(size_t{c_.n_layers} * max_positions * kv_width);
}

kernels::MatrixView LlamaCpu::view(std::string_view name, size_t rows, size_t cols) const {
  const GgufTensor& t = model_.file()->tensor(name);
  if (t.shape.size() != 2 || t.shape[0] != cols || t.shape[1] != rows) {
    throw EngineError("tensor " + std::string(name) + ": unexpected shape");
  }
  if (t.type != TensorType::f32 && t.type != TensorType::f16 && t.type != TensorType::q8_0 &&
      t.type != TensorType::q4_0) {
    throw EngineError("tensor " + std::string(name) + ": type " + std::string(to_string(t.type)) +
                      " is not supported by the CPU pass yet");
  }
  return {t.type, t.data.data(), rows, cols};
}

std::vector<float> LlamaCpu::vector_f32(std::string_view name) const {
  const GgufTensor& t = model_.file()->tensor(name);
  if (t.shape.size() != 1 || t.shape[0] != c_.dim) {
    throw EngineError("tensor " + std::string(name) + ": unexpected shape");
  }
  std::vector<float> out(c_.dim);
  kernels::dequantize(t.type, t.data, out);
  return out;
}

void LlamaCpu::matvec(const kernels::MatrixView& w, const float* x, float* out) {
  // The activations are quantized once, here, and then only read by every thread.
  kernels::MatvecScratch& activations = scratch_.front();
  kernels::quantize_activations(w, x, activations);
  const size_t chunks = std::min(pool_.size(), w.rows);
  pool_.parallel_for(chunks, [&](size_t i) {
    const size_t begin = w.rows * i / chunks, end = w.rows * (i + 1) / chunks;
    kernels::matvec_rows(kernels_, w, x, activations, out, begin, end);
  });
}

std::span<const float> LlamaCpu::forward(TokenId token, size_t pos) {
  if (token < 0 || static_cast<uint32_t>(token) >= c_.n_vocab) {
    throw EngineError("token id " + std::to_string(token) + " outside the vocabulary");
  }
  if (pos >= max_positions_) throw EngineError("position past the KV cache");
  const size_t dim = c_.dim, head_dim = c_.head_dim;
  const size_t kv_width = size_t{c_.n_kv_heads} * head_dim;
  const size_t group = c_.n_heads / c_.n_kv_heads;

  const auto traits = tensor_type_traits(token_embd_.type);
  const size_t row_bytes = dim / traits.block_size * traits.block_bytes;
  kernels::dequantize(
      token_embd_.type,
      {static_cast<const std::byte*>(token_embd_.data) + token * row_bytes, row_bytes}, x_);

  auto rope = [&](float* v, size_t n_heads) {
    for (size_t h = 0; h < n_heads; ++h) {
      float* head = v + h * head_dim;
      for (size_t i = 0; i < c_.rope_dim; i += 2) {
        const float angle = static_cast<float>(pos) * inv_freq_[i / 2];
        const float cos = std::cos(angle), sin = std::sin(angle);
        const float a = head[i], b = head[i + 1];
        head[i] = a * cos - b * sin;
        head[i + 1] = a * sin + b * cos;
      }
    }
  };

  for (size_t l = 0; l < c_.n_layers; ++l) {
    const Layer& lw = layers_[l];
    rms_norm(xb_.data(), x_.data(), lw.attn_norm.data(), dim, c_.rms_eps);
    matvec(lw.wq, xb_.data(), q_.data());
    matvec(lw.wk, xb_.data(), k_.data());
    matvec(lw.wv, xb_.data(), v_.data());
    rope(q_.data(), c_.n_heads);
    rope(k_.data(), c_.n_kv_heads);
    float* keys = key_cache_.data() + l * max_positions_ * kv_width;
    float* values = value_cache_.data() + l * max_positions_ * kv_width;
    std::copy(k_.begin(), k_.end(), keys + pos * kv_width);
    std::copy(v_.begin(), v_.end(), values + pos * kv_width);

    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    for (size_t h = 0; h < c_.n_heads; ++h) {
      const float* q = q_.data() + h * head_dim;
      const size_t kv_head = h / group;
      float max = -INFINITY;
      for (size_t t = 0; t <= pos; ++t) {
        scores_[t] =
            kernels_.dot_f32(q, keys + t * kv_width + kv_head * head_dim, head_dim) * scale;
        max = std::max(max, scores_[t]);
      }
      float sum = 0;
      for (size_t t = 0; t <= pos; ++t) {
        scores_[t] = std::exp(scores_[t] - max);
        sum += scores_[t];
      }
      float* out = att_out_.data() + h * head_dim;
      std::fill(out, out + head_dim, 0.0f);
      for (size_t t = 0; t <= pos; ++t) {
        const float p = scores_[t] / sum;
        const float* v = values + t * kv_width + kv_head * head_dim;
        for (size_t i = 0; i < head_dim; ++i) out[i] += p * v[i];
      }
    }
    matvec(lw.wo, att_out_.data(), xb_.data());
    for (size_t i = 0; i < dim; ++i) x_[i] += xb_[i];

    rms_norm(xb_.data(), x_.data(), lw.ffn_norm.data(), dim, c_.rms_eps);
    matvec(lw.w_gate, xb_.data(), gate_.data());
    matvec(lw.w_up, xb_.data(), up_.data());
    for (size_t i = 0; i < c_.ffn_dim; ++i) {
      const float g = gate_[i];
      gate_[i] = g / (1.0f + std::exp(-g)) * up_[i];
    }
    matvec(lw.w_down, gate_.data(), xb_.data());
    for (size_t i = 0; i < dim; ++i) x_[i] += xb_[i];
  }
  rms_norm(x_.data(), x_.data(), output_norm_.data(), dim, c_.rms_eps);
  matvec(output_, x_.data(), logits_.data());
  return logits_;
}

}  // namespace sy::engine
