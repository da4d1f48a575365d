#include "kernels/cpu/matmul_q4_k.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace sy::engine::kernels {
namespace {

// Packed activations per chunk of tokens: at most this many bytes, so that a row group's pass
// over the chunk reads them from L2 (1 MiB a core here) with room for the weights.
constexpr size_t kChunkBytes = 512 * 1024;

// Half h (0, 1) of a token pair's block: block b of one token, or zeros past the last token.
// Run c's A and B bytes (matmul_q4_k.h): in 16-byte lane L, A takes groups 4L, 4L + 1 and B
// groups 4L + 2, 4L + 3 of sub-blocks 2c and 2c + 1, alternating.
void pack_half(const BlockQ8_K* b, size_t h, Q8KTokenPair& out) {
  for (size_t c = 0; c < 4; ++c) {
    int8_t* a = out.qs[2 * c] + 32 * h;
    int8_t* bb = out.qs[2 * c + 1] + 32 * h;
    for (size_t lane = 0; lane < 2; ++lane) {
      for (size_t k = 0; k < 4; ++k) {
        const size_t sub = 2 * c + k % 2;  // the sub-block
        const size_t group_a = 4 * lane + k / 2, group_b = group_a + 2;
        const size_t at = 4 * (4 * lane + k);
        if (b != nullptr) {
          std::memcpy(a + at, b->qs + 32 * sub + 4 * group_a, 4);
          std::memcpy(bb + at, b->qs + 32 * sub + 4 * group_b, 4);
        } else {
          std::memset(a + at, 0, 4);
          std::memset(bb + at, 0, 4);
        }
      }
    }
  }
  for (size_t k = 0; k < 16; ++k) out.bsums[16 * h + k] = b != nullptr ? b->bsums[k] : int16_t{0};
  for (size_t i = 0; i < 8; ++i) out.d[8 * h + i] = b != nullptr ? b->d : 0.0f;
}

}  // namespace

void matmul_q4_k_tiled(Q4KRowGroupKernel kernel, size_t group_rows, const BlockQ4_K* w,
                       size_t n_rows, size_t n_blocks, const BlockQ8_K* x, size_t n_tokens,
                       float* out, size_t out_stride) {
  if (n_rows == 0 || n_tokens == 0 || n_blocks == 0) return;
  // An even number of tokens a chunk (whole pairs), a multiple of 8 (the tiles divide it).
  const size_t chunk =
      std::max<size_t>(8, kChunkBytes / (n_blocks * sizeof(Q8KTokenPair) / 2) / 8 * 8);
  thread_local std::vector<Q8KTokenPair> xs;  // ((chunk + 1) / 2, n_blocks)
  thread_local std::vector<Q4KUnpacked> us;   // (group_rows, n_blocks)
  xs.resize((std::min(chunk, n_tokens) + 1) / 2 * n_blocks);
  us.resize(group_rows * n_blocks);
  for (size_t t0 = 0; t0 < n_tokens; t0 += chunk) {
    const size_t nt = std::min(chunk, n_tokens - t0);
    for (size_t i = 0; i < (nt + 1) / 2; ++i) {
      const BlockQ8_K* first = x + (t0 + 2 * i) * n_blocks;
      const BlockQ8_K* second = 2 * i + 1 < nt ? first + n_blocks : nullptr;
      for (size_t b = 0; b < n_blocks; ++b) {
        Q8KTokenPair& p = xs[i * n_blocks + b];
        pack_half(first + b, 0, p);
        pack_half(second != nullptr ? second + b : nullptr, 1, p);
      }
    }
    for (size_t r = 0; r < n_rows; r += group_rows) {
      kernel(w + r * n_blocks, std::min(group_rows, n_rows - r), n_blocks, us.data(), xs.data(), nt,
             out + t0 * out_stride + r, out_stride);
    }
  }
}

}  // namespace sy::engine::kernels
