#include "switchyard/local_engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <unordered_map>

#include "kernels/cpu/cpu_kernels.h"
#include "runtime/vector_exp.h"

namespace sy::engine {
namespace {

// The largest of v[1..] that is greater than v[0], else v[0] (NaNs never win unless first: then
// the result is NaN): std::max_element's value, in lanes the compiler keeps in registers.
float largest(std::span<const float> v) {
  const size_t n = v.size();
  float max = v[0];
  size_t i = 0;
  if (n >= 16) {
    F32x4 m[4];
    for (F32x4& lane : m) lane = splat4(-INFINITY);
    for (; i + 16 <= n; i += 16) {
      for (size_t k = 0; k < 4; ++k) {
        const F32x4 x = load4(v.data() + i + 4 * k);
        m[k] = x > m[k] ? x : m[k];
      }
    }
    for (const F32x4& lane : m) {
      for (size_t k = 0; k < 4; ++k) max = lane[k] > max ? lane[k] : max;
    }
  }
  for (; i < n; ++i) max = v[i] > max ? v[i] : max;
  return max;
}

// std::max_element's answer (the first of the largest values; NaNs never win unless first) in
// two passes the compiler can vectorize: the maximum, then its first occurrence. One decode
// step scans the whole vocabulary with it.
size_t first_max(std::span<const float> v) {
  const float max = largest(v);
  const size_t at = std::find(v.begin(), v.end(), max) - v.begin();
  return at < v.size() ? at : 0;  // a NaN first element: max_element keeps it
}

}  // namespace

Sampler::Sampler(SamplerOptions options)
    : options_(options), state_(options.seed ^ 0x9E3779B97F4A7C15ull) {}

LogSoftmax log_softmax(std::span<const float> logits) {
  LogSoftmax out;
  if (logits.empty()) return out;
  out.max = largest(logits);
  static const auto fast_sum = kernels::select_cpu_kernels().exp_sum;
  if (fast_sum != nullptr) {
    out.log_sum = std::log(fast_sum(logits.data(), logits.size(), out.max));
    return out;
  }
  const F32x4 max = splat4(out.max);
  const size_t n = logits.size();
  // Float lanes over blocks of 64 logits (16 terms a lane), each block's total then added in
  // double: the rounding of a float sum over the whole vocabulary (thousands of terms a lane)
  // would reach 1e-4 of the result.
  double sum = 0;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    F32x4 acc[4] = {};
    for (size_t j = 0; j < 64; j += 16) {
      for (size_t k = 0; k < 4; ++k) {
        acc[k] += exp4(load4(logits.data() + i + j + 4 * k) - max);
      }
    }
    const F32x4 s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    sum += (double(s[0]) + s[1]) + (double(s[2]) + s[3]);
  }
  for (; i < n; i += 4) {
    float tail[4] = {out.max, out.max, out.max, out.max};
    const size_t k = std::min<size_t>(4, n - i);
    std::copy_n(logits.data() + i, k, tail);
    const F32x4 e = exp4(load4(tail) - max);
    for (size_t j = 0; j < k; ++j) sum += e[j];
  }
  out.log_sum = std::log(sum);
  return out;
}

float token_logprob(std::span<const float> logits, TokenId token) {
  return log_softmax(logits).at(logits, token);
}

double Sampler::next_uniform() {
  // splitmix64: tiny, well mixed, and the same on every platform.
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

TokenId Sampler::sample(std::span<const float> logits, std::span<const TokenId> history) {
  if (logits.empty()) return -1;
  const bool penalize = options_.repetition_penalty != 1.0f || options_.frequency_penalty != 0.0f ||
                        options_.presence_penalty != 0.0f;
  if (penalize && !history.empty()) {
    penalized_.assign(logits.begin(), logits.end());
    const size_t n = std::min(history.size(), options_.penalty_last_n);
    std::unordered_map<TokenId, int> counts;
    for (TokenId t : history.subspan(history.size() - n)) {
      if (t >= 0 && static_cast<size_t>(t) < penalized_.size()) ++counts[t];
    }
    for (auto [t, count] : counts) {
      float& l = penalized_[t];
      l = l > 0 ? l / options_.repetition_penalty : l * options_.repetition_penalty;
      l -= static_cast<float>(count) * options_.frequency_penalty + options_.presence_penalty;
    }
    logits = penalized_;
  }
  if (options_.temperature <= 0.0f) return static_cast<TokenId>(first_max(logits));
  const float max = *std::max_element(logits.begin(), logits.end());
  candidates_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    candidates_[i] = {static_cast<TokenId>(i), std::exp((logits[i] - max) / options_.temperature)};
  }
  auto by_probability = [](const Candidate& a, const Candidate& b) {
    return a.p > b.p || (a.p == b.p && a.id < b.id);
  };
  size_t keep = candidates_.size();
  if (options_.top_k > 0 && options_.top_k < keep) {
    keep = options_.top_k;
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(),
                      by_probability);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_probability);
  }
  if (options_.min_p > 0.0f) {
    // candidates_ is sorted, so the first holds the largest probability.
    const float floor = options_.min_p * candidates_[0].p;
    size_t cut = 1;
    while (cut < keep && candidates_[cut].p >= floor) ++cut;
    keep = cut;
  }
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += candidates_[i].p;
  if (options_.top_p < 1.0f) {
    // Smallest prefix whose share of the mass reaches top_p (at least one token).
    double cumulative = 0;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      cumulative += candidates_[i].p;
      if (cumulative >= options_.top_p * total) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    total = cumulative;
  }
  const double target = next_uniform() * total;
  double cumulative = 0;
  for (size_t i = 0; i < keep; ++i) {
    cumulative += candidates_[i].p;
    if (target < cumulative) return candidates_[i].id;
  }
  return candidates_[keep - 1].id;
}

}  // namespace sy::engine
