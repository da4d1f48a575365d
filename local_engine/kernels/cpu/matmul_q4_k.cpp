#include "kernels/cpu/matmul_q4_k.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/dequantize.h"

namespace sy::engine::kernels {
namespace {

// Packed activations per chunk of tokens: at most this many bytes, so that a row group's pass
// over the chunk reads them from L2 (2 MiB a core here) with room for the weights.
constexpr size_t kChunkBytes = 512 * 1024;

// Half (h = 0, 1) of pair p: block b of one token, or zeros past the end.
void pack_half(const BlockQ8_K* b, size_t h, Q8KPair& out) {
  for (size_t j = 0; j < 8; ++j) {
    int8_t* dst = out.qs[j] + 32 * h;
    if (b != nullptr) {
      std::memcpy(dst, b->qs + 32 * j, 32);
    } else {
      std::memset(dst, 0, 32);
    }
  }
  for (size_t k = 0; k < 16; ++k) out.bsums[16 * h + k] = b != nullptr ? b->bsums[k] : int16_t{0};
  for (size_t i = 0; i < 8; ++i) out.d[8 * h + i] = b != nullptr ? b->d : 0.0f;
}

void pack_token(const BlockQ8_K* x, size_t n_blocks, Q8KPair* out) {
  for (size_t p = 0; p < (n_blocks + 1) / 2; ++p) {
    pack_half(x + 2 * p, 0, out[p]);
    pack_half(2 * p + 1 < n_blocks ? x + 2 * p + 1 : nullptr, 1, out[p]);
  }
}

void unpack_half(const BlockQ4_K* b, size_t h, Q4KPairScales& out) {
  for (int j = 0; j < 8; ++j) {
    uint8_t sc = 0, m = 0;
    if (b != nullptr) q4_k_scale_min(b->scales, j, sc, m);
    out.sc[16 * h + j] = out.sc[16 * h + 8 + j] = sc;
    out.m[16 * h + 2 * j] = out.m[16 * h + 2 * j + 1] = m;
  }
  const float d = b != nullptr ? fp16_to_fp32(b->d) : 0.0f;
  const float dmin = b != nullptr ? fp16_to_fp32(b->dmin) : 0.0f;
  for (size_t i = 0; i < 8; ++i) {
    out.d[8 * h + i] = d;
    out.dmin[8 * h + i] = dmin;
  }
}

void unpack_row(const BlockQ4_K* w, size_t n_blocks, Q4KPairScales* out) {
  for (size_t p = 0; p < (n_blocks + 1) / 2; ++p) {
    unpack_half(w + 2 * p, 0, out[p]);
    unpack_half(2 * p + 1 < n_blocks ? w + 2 * p + 1 : nullptr, 1, out[p]);
  }
}

}  // namespace

void matmul_q4_k_tiled(Q4KRowGroupKernel kernel, size_t group_rows, const BlockQ4_K* w,
                       size_t n_rows, size_t n_blocks, const BlockQ8_K* x, size_t n_tokens,
                       float* out, size_t out_stride) {
  if (n_rows == 0 || n_tokens == 0 || n_blocks == 0) return;
  const size_t pairs = (n_blocks + 1) / 2;
  // A multiple of 4 tokens (the tiles' width), at least one tile.
  const size_t chunk =
      std::max<size_t>(4, kChunkBytes / (pairs * sizeof(Q8KPair)) / 4 * 4);
  thread_local std::vector<Q8KPair> xs;          // (chunk tokens, pairs)
  thread_local std::vector<Q4KPairScales> ss;    // (group_rows, pairs)
  xs.resize(std::min(chunk, n_tokens) * pairs);
  ss.resize(group_rows * pairs);
  for (size_t t0 = 0; t0 < n_tokens; t0 += chunk) {
    const size_t nt = std::min(chunk, n_tokens - t0);
    for (size_t t = 0; t < nt; ++t) pack_token(x + (t0 + t) * n_blocks, n_blocks, &xs[t * pairs]);
    for (size_t r = 0; r < n_rows; r += group_rows) {
      const size_t nr = std::min(group_rows, n_rows - r);
      for (size_t i = 0; i < nr; ++i) unpack_row(w + (r + i) * n_blocks, n_blocks, &ss[i * pairs]);
      kernel(w + r * n_blocks, nr, n_blocks, ss.data(), xs.data(), nt, out + t0 * out_stride + r,
             out_stride);
    }
  }
}

}  // namespace sy::engine::kernels
