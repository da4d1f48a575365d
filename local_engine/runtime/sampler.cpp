#include "switchyard/local_engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

namespace sy::engine {
namespace {

// std::max_element's answer (the first of the largest values; NaNs never win unless first) in
// two passes the compiler can vectorize: the maximum by a select per lane, then its first
// occurrence. One decode step scans the whole vocabulary with it.
size_t first_max(std::span<const float> v) {
  using F32x8 = float __attribute__((vector_size(32)));
  const size_t n = v.size();
  float max = v[0];
  size_t i = 0;
  if (n >= 8) {
    F32x8 m;
    std::memcpy(&m, v.data(), sizeof(m));
    for (i = 8; i + 8 <= n; i += 8) {
      F32x8 x;
      std::memcpy(&x, v.data() + i, sizeof(x));
      m = x > m ? x : m;
    }
    for (size_t lane = 0; lane < 8; ++lane) max = m[lane] > max ? m[lane] : max;
  }
  for (; i < n; ++i) max = v[i] > max ? v[i] : max;
  const size_t at = std::find(v.begin(), v.end(), max) - v.begin();
  return at < n ? at : 0;  // a NaN first element: max_element keeps it
}

}  // namespace

Sampler::Sampler(SamplerOptions options)
    : options_(options), state_(options.seed ^ 0x9E3779B97F4A7C15ull) {}

float token_logprob(std::span<const float> logits, TokenId token) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l - max));
  return static_cast<float>(logits[token] - max - std::log(sum));
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
