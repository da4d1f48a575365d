#include "reference/llama_reference.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "switchyard/local_engine/engine_error.h"

namespace sy::engine {
namespace {

// out = x / rms(x) * weight; all (n)
void rms_norm(float* out, const float* x, const float* weight, size_t n, float eps) {
  double sum_squares = 0;
  for (size_t i = 0; i < n; ++i) sum_squares += double(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum_squares / n) + eps);
  for (size_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

// out (rows) = W (rows, cols) @ x (cols)
void matvec(float* out, const float* w, const float* x, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; ++r) {
    float sum = 0;
    for (size_t c = 0; c < cols; ++c) sum += w[r * cols + c] * x[c];
    out[r] = sum;
  }
}

// v (n) += bias (n), when there is a bias.
void add_bias(float* v, const std::vector<float>& bias) {
  for (size_t i = 0; i < bias.size(); ++i) v[i] += bias[i];
}

void softmax(float* x, size_t n) {
  const float max = *std::max_element(x, x + n);
  float sum = 0;
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  for (size_t i = 0; i < n; ++i) x[i] /= sum;
}

float softcap(float x, float cap) { return cap * std::tanh(x / cap); }

float silu(float x) { return x / (1.0f + std::exp(-x)); }

// GELU, tanh approximation (what Gemma's gelu_pytorch_tanh and ggml_gelu compute).
float gelu_tanh(float x) {
  const float sqrt_2_over_pi = 0.7978845608f;
  return 0.5f * x * (1.0f + std::tanh(sqrt_2_over_pi * (x + 0.044715f * x * x * x)));
}

// Rotates each head's first rope_dim values by pos * scale * base^(-2i/rope_dim) / factor_i for
// pair i. Adjacent-pairs style pairs (v[2i], v[2i+1]); halves style pairs (v[i], v[i+rope_dim/2]).
void rope(float* v, size_t n_heads, size_t head_dim, const ModelConfig& c, size_t pos, float base,
          float scale, const std::vector<float>& factors) {
  const size_t half = c.rope_dim / 2;
  for (size_t h = 0; h < n_heads; ++h) {
    float* head = v + h * head_dim;
    for (size_t i = 0; i < half; ++i) {
      float freq = std::pow(base, -static_cast<float>(2 * i) / static_cast<float>(c.rope_dim));
      if (!factors.empty()) freq /= factors[i];
      const float angle = static_cast<float>(pos) * scale * freq;
      const float cos = std::cos(angle), sin = std::sin(angle);
      const size_t ia = c.rope_style == RopeStyle::adjacent_pairs ? 2 * i : i;
      const size_t ib = c.rope_style == RopeStyle::adjacent_pairs ? 2 * i + 1 : i + half;
      const float a = head[ia], b = head[ib];
      head[ia] = a * cos - b * sin;
      head[ib] = a * sin + b * cos;
    }
  }
}

}  // namespace

LlamaReference::LlamaReference(const Model& model, size_t max_positions)
    : model_(model), c_(model.config()), max_positions_(max_positions) {
  const size_t q_width = size_t{c_.n_heads} * c_.head_dim;
  const size_t kv_width = size_t{c_.n_kv_heads} * c_.head_dim;
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

std::span<const float> LlamaReference::forward(TokenId token, size_t pos) {
  if (token < 0 || static_cast<uint32_t>(token) >= c_.n_vocab) {
    throw EngineError("token id " + std::to_string(token) + " outside the vocabulary");
  }
  if (pos >= max_positions_) throw EngineError("position past the KV cache");
  const ModelWeights& w = model_.weights();
  const size_t dim = c_.dim, head_dim = c_.head_dim;
  const size_t kv_width = size_t{c_.n_kv_heads} * head_dim;
  const size_t q_width = size_t{c_.n_heads} * head_dim;
  const size_t group = c_.n_heads / c_.n_kv_heads;  // query heads sharing one KV head

  std::copy_n(w.token_embd.begin() + static_cast<ptrdiff_t>(token * dim), dim, x_.begin());
  for (size_t i = 0; i < dim; ++i) x_[i] *= c_.embedding_scale;

  for (size_t l = 0; l < c_.n_layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    const bool sliding = c_.is_sliding(l);
    // Attention.
    rms_norm(xb_.data(), x_.data(), lw.attn_norm.data(), dim, c_.rms_eps);
    matvec(q_.data(), lw.wq.data(), xb_.data(), q_width, dim);
    matvec(k_.data(), lw.wk.data(), xb_.data(), kv_width, dim);
    matvec(v_.data(), lw.wv.data(), xb_.data(), kv_width, dim);
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
    const float base = sliding ? c_.rope_freq_base_swa : c_.rope_freq_base;
    const float scale = sliding ? c_.rope_freq_scale_swa : c_.rope_freq_scale;
    rope(q_.data(), c_.n_heads, head_dim, c_, pos, base, scale, w.rope_freqs);
    rope(k_.data(), c_.n_kv_heads, head_dim, c_, pos, base, scale, w.rope_freqs);

    float* layer_keys = key_cache_.data() + l * max_positions_ * kv_width;      // (pos, kv_width)
    float* layer_values = value_cache_.data() + l * max_positions_ * kv_width;  // (pos, kv_width)
    std::copy(k_.begin(), k_.end(), layer_keys + pos * kv_width);
    std::copy(v_.begin(), v_.end(), layer_values + pos * kv_width);

    // A sliding-window layer sees positions (pos - window, pos]; the others all of [0, pos].
    const size_t first = sliding && pos >= c_.sliding_window ? pos - c_.sliding_window + 1 : 0;
    for (size_t h = 0; h < c_.n_heads; ++h) {
      const float* q = q_.data() + h * head_dim;
      const size_t kv_head = h / group;
      for (size_t t = first; t <= pos; ++t) {
        const float* k = layer_keys + t * kv_width + kv_head * head_dim;
        float dot = 0;
        for (size_t i = 0; i < head_dim; ++i) dot += q[i] * k[i];
        float score = dot * c_.attention_scale;
        if (c_.attn_softcap > 0) score = softcap(score, c_.attn_softcap);
        scores_[t - first] = score;
      }
      softmax(scores_.data(), pos + 1 - first);
      float* out = att_out_.data() + h * head_dim;
      std::fill(out, out + head_dim, 0.0f);
      for (size_t t = first; t <= pos; ++t) {
        const float* v = layer_values + t * kv_width + kv_head * head_dim;
        for (size_t i = 0; i < head_dim; ++i) out[i] += scores_[t - first] * v[i];
      }
    }
    matvec(xb_.data(), lw.wo.data(), att_out_.data(), dim, q_width);
    if (c_.post_norms) rms_norm(xb_.data(), xb_.data(), lw.attn_post_norm.data(), dim, c_.rms_eps);
    for (size_t i = 0; i < dim; ++i) x_[i] += xb_[i];

    // Gated feed-forward: down(act(gate(x)) * up(x)), act SiLU (SwiGLU) or GELU-tanh (GeGLU).
    rms_norm(xb_.data(), x_.data(), lw.ffn_norm.data(), dim, c_.rms_eps);
    matvec(gate_.data(), lw.w_gate.data(), xb_.data(), c_.ffn_dim, dim);
    matvec(up_.data(), lw.w_up.data(), xb_.data(), c_.ffn_dim, dim);
    for (size_t i = 0; i < c_.ffn_dim; ++i) {
      const float g = gate_[i];
      gate_[i] = (c_.activation == FfnActivation::silu ? silu(g) : gelu_tanh(g)) * up_[i];
    }
    matvec(xb_.data(), lw.w_down.data(), gate_.data(), dim, c_.ffn_dim);
    if (c_.post_norms) rms_norm(xb_.data(), xb_.data(), lw.ffn_post_norm.data(), dim, c_.rms_eps);
    for (size_t i = 0; i < dim; ++i) x_[i] += xb_[i];
  }

  rms_norm(x_.data(), x_.data(), w.output_norm.data(), dim, c_.rms_eps);
  matvec(logits_.data(), model_.output_weights().data(), x_.data(), c_.n_vocab, dim);
  if (c_.final_softcap > 0) {
    for (float& l : logits_) l = softcap(l, c_.final_softcap);
  }
  return logits_;
}

}  // namespace sy::engine
