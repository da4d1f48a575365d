#pragma once
// Attention over the paged F16 KV cache, per element (attention.cu, kv_store.cu), host and
// device: the score of one position and the weighted value sum of one output element, in the
// CPU pass's order (runtime/llama_cpu.cpp, attend: dot_f16_f32, then attention_values_f16's
// chain over positions in order).

#include <cstddef>
#include <cstdint>

#include "kernels/cuda/half_math.h"
#include "kernels/cuda/layer_math.h"

namespace sy::engine::cuda {

// The positions a query at `pos` attends to: [first, pos], all of them unless the layer has a
// sliding window (window > 0) shorter than the sequence.
SY_HD size_t first_visible(size_t pos, size_t window) {
  return window > 0 && pos >= window ? pos - window + 1 : 0;
}

// The paged KV cache's layout (runtime/kv_cache.h, KvCache::slot): block b holds, per layer,
// keys then values, each (block_tokens, kv_width) row-major. Element offset of the key
// (which = 0) or value (which = 1) row of position `pos` of KV head `kv_head`, given the
// sequence's block table.
SY_HD size_t kv_offset(const uint32_t* block_table, size_t pos, size_t block_tokens,
                       size_t n_layers, size_t layer, int which, size_t kv_width, size_t kv_head,
                       size_t head_dim) {
  const size_t block = block_table[pos / block_tokens];
  const size_t slot = (block * n_layers + layer) * 2 + static_cast<size_t>(which);
  return slot * block_tokens * kv_width + (pos % block_tokens) * kv_width + kv_head * head_dim;
}

// q . key (head_dim, F16) in order, times scale, soft-capped.
SY_HD float attention_score(const float* q, const uint16_t* key, size_t head_dim, float scale,
                            float softcap) {
  float dot = 0;
  for (size_t i = 0; i < head_dim; ++i) dot += half_to_float(key[i]) * q[i];
  return soft_cap(dot * scale, softcap);
}

// Element d of one query head's output: sum over t in [first, pos] of probs[t] * value_t[d],
// t ascending, value rows found through the block table.
SY_HD float attention_value(const uint16_t* storage, const uint32_t* block_table,
                            size_t block_tokens, size_t n_layers, size_t layer, size_t kv_width,
                            size_t kv_head, size_t head_dim, const float* probs, size_t first,
                            size_t pos, size_t d) {
  float out = 0;
  for (size_t t = first; t <= pos; ++t) {
    const size_t at =
        kv_offset(block_table, t, block_tokens, n_layers, layer, 1, kv_width, kv_head, head_dim);
    out += probs[t] * half_to_float(storage[at + d]);
  }
  return out;
}

}  // namespace sy::engine::cuda
