#pragma once
// Decode (one token) reads every weight once, in address order. The x86 group kernels ask for
// the weights kStreamAhead bytes ahead of the block they are on, with the non-temporal hint: it
// runs further ahead than the hardware prefetchers, and the hint should keep the streamed
// weights from displacing the KV cache rows that attention reads from the L3
// (engine_attention_bench --weights-mb 76 --nt 1: 1.43 against 1.55 ms). Prefetches only: the
// kernels' values are unchanged.
//
// The distance, measured per kernel (engine_decode_profile, 1 thread, 512-token prompt, loaded
// machine, alternated; CPU ms a token):
//   SmolLM2-135M Q4_0: none 3.86-4.25, 4 KB 3.68-3.78, 8 KB 3.45-3.63, 16 KB 3.47-3.75
//   SmolLM2-1.7B Q4_K: 4 KB 26.7-27.0, 8 KB 25.2-26.4, 16 KB 28.4-28.6, 32 KB 28.0-30.3

#include <immintrin.h>

#include <cstddef>

namespace sy::engine::kernels {

inline constexpr size_t kStreamAhead = 8192;

// A line per 64 bytes of the `bytes` that lie kStreamAhead bytes past `block`.
inline void prefetch_stream_ahead(const void* block, size_t bytes) {
  const char* line = static_cast<const char*>(block) + kStreamAhead;
  for (size_t at = 0; at < bytes; at += 64) _mm_prefetch(line + at, _MM_HINT_NTA);
}

}  // namespace sy::engine::kernels
