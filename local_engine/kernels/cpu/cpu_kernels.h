#pragma once
// CPU dot-product kernels, op x ISA (STYLE.md): a generic C++ version of every op always exists;
// an ISA file overrides the ops it speeds up. select_cpu_kernels() picks the best set the
// processor supports (cpuid) once; callers keep the returned table, there is no global state.
//
// Quantized dots take activations already quantized as llama.cpp's formats call for: Q8_0 x Q8_0
// and Q4_0 x Q8_0 (quantize_row_q8_0) are integer dots scaled per 32-block; Q4_K x Q8_K and
// Q6_K x Q8_K (quantize_row_q8_k) are integer dots scaled per sub-block, over 256-element
// super-blocks. BF16 weights are dotted with F32 activations (widened exactly, no rounding).
//
// The numeric contract of Q8_0 x Q8_0 and Q4_0 x Q8_0, in every set and every kernel (dot,
// matvec, matmul, row-major or row-grouped weights): each output is ONE chain over the blocks
// in order,
//   acc = 0;  for b in 0..n_blocks-1:  acc = fma(float(isum_b), wd_b * xd_b, acc)
// where isum_b is the block's integer dot, exact in int32 (|isum_b| <= 32 * 128 * 127 < 2^24, so
// float(isum_b) is exact too), wd_b * xd_b the float product of the two fp16 scales widened, and
// fma a single rounding. Nothing else is rounded, so every set, and a dot, a matvec or a matmul
// of the same row and activation, give the same bits (generic == AVX2 == AVX-512; batch
// invariance). Vector kernels keep one row (and token) per float lane, never a row across lanes.
//
// Q4_K x Q8_K, likewise in every set and kernel (dot, matmul, row-major or row-grouped): each
// output is ONE chain over the super-blocks in order,
//   acc = 0;  for b:  acc = fma(float(S_b), d_b * xd_b, acc);
//                     acc = fma(-float(M_b), dmin_b * xd_b, acc)
// with S_b = sum_j sc_j * (q . x)_j and M_b = sum_j m_j * (bsums_2j + bsums_2j+1) over the 8
// sub-blocks, both exact in int32 (|S_b| <= 8 * 63 * 32 * 15 * 127 < 2^25; float(S_b) rounds to
// nearest even wherever it is computed), d_b * xd_b and dmin_b * xd_b float products of the
// widened fp16 scales. The integers' order is free, so a kernel may sum 16 rows in the lanes of
// one register (RowGroupQ4_K) and convert once per super-block.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sy::engine::kernels {

class SidePrefetch;

// ggml block layouts, bit exact (34 and 18 bytes).
struct BlockQ8_0 {
  uint16_t d;  // fp16 scale
  int8_t qs[32];
};
struct BlockQ4_0 {
  uint16_t d;      // fp16 scale
  uint8_t qs[16];  // element j in the low nibble of byte j, element j+16 in its high nibble
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18);

// K-quant super-blocks of 256 elements, ggml's layouts bit for bit (144, 210 and 292 bytes).
inline constexpr size_t kQK = 256;

// 8 sub-blocks of 32: x = d * sc[j] * q - dmin * m[j], q in [0, 15]. The 6-bit sc/m pairs are
// packed in `scales`: bytes 0-3 hold sc[0..3] in their low 6 bits, bytes 4-7 m[0..3]; bytes 8-11
// hold the low 4 bits of sc[4..7] (low nibble) and m[4..7] (high nibble), whose top 2 bits sit in
// the top 2 bits of bytes 0-3 (sc) and 4-7 (m). qs: four runs of 32 bytes, run c holding
// sub-block 2c in its low nibbles and sub-block 2c+1 in its high nibbles.
struct BlockQ4_K {
  uint16_t d;     // fp16 scale of the sub-block scales
  uint16_t dmin;  // fp16 scale of the sub-block mins
  uint8_t scales[12];
  uint8_t qs[128];
};
// 16 sub-blocks of 16: x = d * scales[k] * (q - 32), q in [0, 63] as 4 low bits in ql and 2 high
// bits in qh. Each half of 128 elements (h = 0, 1) uses ql[64h..64h+63] and qh[32h..32h+31]:
// element 128h + 32g + l (g in 0..3, l in 0..31) takes the low (g = 0, 1) or high (g = 2, 3)
// nibble of ql[64h + 32*(g&1) + l] and bits 2g, 2g+1 of qh[32h + l].
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;  // fp16
};
// Activations for K-quant dots: x = d * qs, with the sums of each 16 quants kept for the
// formats' offsets (mins, the -32 of Q6_K).
struct BlockQ8_K {
  float d;
  int8_t qs[256];  // in [-127, 127]
  int16_t bsums[16];
};
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);

// A Q8_0 activation block as the row-group kernels read it: the quants, their sum (for the
// offsets those kernels fold into their start values) and the scale widened to float.
struct ActivationQ8 {
  int8_t qs[32];
  int32_t sum;
  float d;
};
static_assert(sizeof(ActivationQ8) == 40);

// Row groups: 16 consecutive rows of a Q8_0 or Q4_0 matrix repacked block by block, so that a
// 512-bit vpdpbusd sums 4 elements of each of the 16 rows at once and one register holds the 16
// rows' int32 block sums for one token (one convert, one multiply and one FMA per block per 16
// outputs). A group of n_blocks blocks takes exactly the bytes of its 16 rows (544 or 288 per
// block), so a matrix can be regrouped in place (row_groups.h).
// Q8_0: qs[k][4i + j] = element 4k + j of row i, xor 0x80 (w + 128, unsigned).
struct RowGroupQ8_0 {
  uint16_t d[16];  // fp16 scale of each row's block
  uint8_t qs[8][64];
};
// Q4_0: qs[k][4i + j] = byte 4k + j of row i's block, i.e. element 4k + j in its low nibble and
// element 16 + 4k + j in its high nibble (both unsigned, q - 8 being the value).
struct RowGroupQ4_0 {
  uint16_t d[16];
  uint8_t qs[4][64];
};
static_assert(sizeof(RowGroupQ8_0) == 16 * sizeof(BlockQ8_0) &&
              sizeof(RowGroupQ4_0) == 16 * sizeof(BlockQ4_0));
// Q4_K: super-block b of 16 rows (row i's block b), in the bytes of 16 BlockQ4_K: the fp16
// scales side by side, scales[k][i] = bytes 4k..4k+3 of row i's packed 6-bit scales and mins
// (one 32-bit lane a row, so the unpacking runs on 16 rows at once), and qs[8c + g][4i + k] =
// byte 4g + k of row i's run c: sub-block 2c's element 4g + k in the low nibble, sub-block
// 2c + 1's in the high nibble, so that one vpdpbusd with a broadcast of 4 activation bytes sums
// 4 elements of each of the 16 rows.
struct RowGroupQ4_K {
  uint16_t d[16];
  uint16_t dmin[16];
  uint32_t scales[3][16];
  uint8_t qs[32][64];
};
static_assert(sizeof(RowGroupQ4_K) == 16 * sizeof(BlockQ4_K));
inline constexpr size_t kGroupRows = 16;

struct CpuKernels {
  std::string_view isa;  // "generic", "avx2", "avx512"
  float (*dot_f32)(const float* a, const float* b, size_t n);
  float (*dot_f16_f32)(const uint16_t* a, const float* b, size_t n);
  float (*dot_q8_0_q8_0)(const BlockQ8_0* w, const BlockQ8_0* x, size_t n_blocks);
  float (*dot_q4_0_q8_0)(const BlockQ4_0* w, const BlockQ8_0* x, size_t n_blocks);
  float (*dot_bf16_f32)(const uint16_t* a, const float* b, size_t n);
  float (*dot_q4_k_q8_k)(const BlockQ4_K* w, const BlockQ8_K* x, size_t n_blocks);
  float (*dot_q6_k_q8_k)(const BlockQ6_K* w, const BlockQ8_K* x, size_t n_blocks);

  // Matrix-vector products over n_rows consecutive rows (row r at w + r * n elements, or
  // w + r * n_blocks blocks): out[r] = row r . x. Each out[r] equals the matching dot of this set
  // on that row bit for bit (same per-row summation order), so a matvec through these and a
  // matmul through the dots agree exactly (batch invariance); the gain is that a group of rows
  // shares each load of x, its scale and its offset sums, and prefetches its span ahead.
  void (*matvec_f16_f32)(const uint16_t* w, size_t n_rows, const float* x, size_t n, float* out);
  void (*matvec_bf16_f32)(const uint16_t* w, size_t n_rows, const float* x, size_t n, float* out);
  void (*matvec_q8_0_q8_0)(const BlockQ8_0* w, size_t n_rows, const BlockQ8_0* x, size_t n_blocks,
                           float* out);
  void (*matvec_q4_0_q8_0)(const BlockQ4_0* w, size_t n_rows, const BlockQ8_0* x, size_t n_blocks,
                           float* out);
  // quantize_row_q8_0 below, byte for byte (the same rounding, half away from zero), vectorized.
  void (*quantize_q8_0)(const float* x, BlockQ8_0* y, size_t n);

  // Attention's weighted sum over an F16 value cache: for every query g < n_queries and
  // i < head_dim, out[g * head_dim + i] += probs[g * probs_stride + t] * v_t[i] for t = 0, 1,
  // ..., n_rows - 1 in that order, v_t being the head_dim halves at values + t * row_stride.
  // Each output element is one chain over t in order, whatever n_queries is, so a range split
  // into consecutive calls (pages of a cache) or queries taken one at a time give the same bits
  // as one call; the generic set multiplies then adds, the x86 sets fuse the two (within the
  // dots' bound of it).
  void (*attention_values_f16)(const uint16_t* values, size_t row_stride, size_t n_rows,
                               const float* probs, size_t probs_stride, size_t n_queries,
                               size_t head_dim, float* out);

  // Products over row-grouped weights (RowGroupQ8_0 / RowGroupQ4_0): n_groups groups of
  // n_blocks blocks each (group g at w + g * n_blocks) times n_tokens activations (token t's
  // blocks at x + t * n_blocks): out[t * out_stride + 16 * g + i] = row 16g + i . token t, under
  // the contract above (the same bits as the dot on the row-major row). n_tokens = 1 is the
  // decode matvec; more tokens share each load of the weights (a register tile of 16 rows x
  // several tokens). `side` (or nullptr): lines to ask for beside the weights, a step per block
  // of each group's first token tile (side_prefetch.h); the generic set ignores it.
  void (*matmul_q8_0_groups)(const RowGroupQ8_0* w, size_t n_groups, size_t n_blocks,
                             const ActivationQ8* x, size_t n_tokens, float* out, size_t out_stride,
                             SidePrefetch* side);
  void (*matmul_q4_0_groups)(const RowGroupQ4_0* w, size_t n_groups, size_t n_blocks,
                             const ActivationQ8* x, size_t n_tokens, float* out, size_t out_stride,
                             SidePrefetch* side);

  // Attention's scores over an F16 key cache: scores[g * scores_stride + t] = this set's
  // dot_f16_f32(k_t, q + g * head_dim, head_dim) bit for bit, k_t being the head_dim halves at
  // keys + t * row_stride, for t < n_rows and g < n_queries. The gain over calling the dot is
  // that each key row is loaded and widened once for all the queries that share it.
  void (*attention_scores_f16)(const uint16_t* keys, size_t row_stride, size_t n_rows,
                               const float* q, size_t n_queries, size_t head_dim, float* scores,
                               size_t scores_stride);

  // Q4_K x Q8_K over n_rows rows (n_blocks super-blocks each) and n_tokens activations (x:
  // (n_tokens, n_blocks) blocks): out[t * out_stride + r] = dot_q4_k_q8_k on row r and
  // activation t, bit for bit (the Q4_K contract above; matmul_q4_k.h). nullptr where the set
  // has none.
  void (*matmul_q4_k_q8_k)(const BlockQ4_K* w, size_t n_rows, size_t n_blocks, const BlockQ8_K* x,
                           size_t n_tokens, float* out, size_t out_stride);

  // Attention's scores before the softmax: x[i] *= scale for i < n; returns the largest new
  // x[i] (-inf for n = 0; NaN never wins, as in std::max(max, x[i])). Equal on every set: one
  // product each, and the maximum is the same in any order. The x86 sets store at
  // their full width, as the scores kernels do, so softmax_exp's loads of the result are
  // forwarded from the stores (narrower stores read back by one wide load stall until they
  // reach the cache: most of the softmax's time in a decode step).
  float (*scale_max)(float* x, size_t n, float scale);

  // Attention's softmax: x[i] = exp(x[i] - max) for i < n; returns the sum of the new x[i].
  // The generic set calls std::exp and sums in index order; the x86 sets evaluate exp with a
  // polynomial within a few float ulps of it and sum in lanes (bounds in tests/local_engine/
  // kernels/exp_kernels_test.cpp): the same bits for the same input on one set, so results
  // still depend on neither the batch nor the thread count.
  float (*softmax_exp)(float* x, size_t n, float max);

  // The FFN's SiLU gate: gate[i] = gate[i] / (1 + exp(-gate[i])) * up[i] for i < n, each element
  // from its own gate[i] and up[i] only (not from n, its neighbours or where a call's range
  // starts), so any split of a row gives the same bits on one set. Within a few float ulps of
  // the formula with std::exp (tests/local_engine/kernels/silu_kernels_test.cpp). nullptr where
  // the set has none: the caller's portable version applies (LlamaCpu::activate).
  void (*silu_mul)(float* gate, const float* up, size_t n);

  // out[i] = fp32_to_fp16(x[i]) (dequantize.h: round to nearest even, any NaN to the sign and
  // 0x7E00) for i < n, bit for bit: the KV cache's F16 stores. nullptr where the set has none:
  // the caller loops over fp32_to_fp16.
  void (*fp32_to_fp16_row)(const float* x, uint16_t* out, size_t n);

  // The log-softmax's normalizer: the sum of exp(x[i] - max) for i < n, x[i] <= max (-inf gives
  // 0), each block of 64 elements summed in float lanes and the block totals in double, so the
  // rounding stays within a few 1e-7 of the exact sum over a whole vocabulary (bound in
  // tests/local_engine/runtime/sampler_test.cpp, which runs the selected set). Reads x only.
  // nullptr where the set has none: log_softmax's portable lanes (sampler.cpp).
  double (*exp_sum)(const float* x, size_t n, float max);

  // Q4_K x Q8_K over row-grouped weights (RowGroupQ4_K): n_groups groups of n_blocks
  // super-blocks (group g at w + g * n_blocks) times n_tokens activations (token t's blocks at
  // x + t * n_blocks): out[t * out_stride + 16 * g + i] = row 16g + i . token t under the Q4_K
  // contract above. n_tokens = 1 is the decode matvec. `side` as for matmul_q8_0_groups.
  void (*matmul_q4_k_groups)(const RowGroupQ4_K* w, size_t n_groups, size_t n_blocks,
                             const BlockQ8_K* x, size_t n_tokens, float* out, size_t out_stride,
                             SidePrefetch* side);

  // quantize_row_q8_k below, byte for byte for finite inputs (the same float products and
  // round-to-nearest-even), vectorized.
  void (*quantize_q8_k)(const float* x, BlockQ8_K* y, size_t n);

  // Attention over a slice of n_heads consecutive KV heads of one token at once: head h's slice
  // of row t at keys (values) + t * row_stride + h * head_dim, its group of queries at
  // q + h * group * head_dim, its scores (probabilities) at row h * group of a (n_heads * group,
  // stride) array, its (group, head_dim) outputs at out + h * out_stride. Each head's results are
  // this set's attention_scores_f16 / attention_values_f16 of that head alone, bit for bit; the
  // rows are read in address order, every head of the slice on a row before the next row
  // (attention_heads.h).
  void (*attention_scores_heads_f16)(const uint16_t* keys, size_t row_stride, size_t n_rows,
                                     size_t n_heads, const float* q, size_t group, size_t head_dim,
                                     float* scores, size_t scores_stride);
  void (*attention_values_heads_f16)(const uint16_t* values, size_t row_stride, size_t n_rows,
                                     size_t n_heads, const float* probs, size_t probs_stride,
                                     size_t group, size_t head_dim, float* out, size_t out_stride);

  // The sum of the 64-bit words of [p, p + bytes) (bytes a multiple of 256), read at the set's
  // full width, four lines at a time into independent sums: a plain read at the memory's speed,
  // the loop of bench/engine's bandwidth probe (LlamaCpu::weights_read_bytes_per_second).
  uint64_t (*read_lines)(const std::byte* p, size_t bytes);
};

// x (n, a multiple of 32) -> n/32 blocks, ggml's reference rounding.
void quantize_row_q8_0(const float* x, BlockQ8_0* y, size_t n);
void quantize_row_q4_0(const float* x, BlockQ4_0* y, size_t n);
// n_blocks quantized blocks -> n_blocks ActivationQ8 for the row-group kernels.
void pack_activations_q8(const BlockQ8_0* x, size_t n_blocks, ActivationQ8* out);
// x (n, a multiple of 256) -> n/256 super-blocks (k_quants.cpp). Q8_K maps the largest magnitude
// to +-127. Q4_K and Q6_K fit each sub-block's scale (and Q4_K's min) by least squares over a
// few candidate ranges, then quantize those to 6/8 bits: lossy but sane (bounds in the tests).
void quantize_row_q8_k(const float* x, BlockQ8_K* y, size_t n);
void quantize_row_q4_k(const float* x, BlockQ4_K* y, size_t n);
void quantize_row_q6_k(const float* x, BlockQ6_K* y, size_t n);
// The 6-bit scale and min of Q4_K sub-block j (0..7).
void q4_k_scale_min(const uint8_t* scales, int j, uint8_t& scale, uint8_t& min);

const CpuKernels& generic_cpu_kernels();
// nullptr when this processor (or the build) lacks the ISA.
const CpuKernels* avx2_cpu_kernels();
const CpuKernels* avx512_cpu_kernels();
// The fastest set available here.
const CpuKernels& select_cpu_kernels();

}  // namespace sy::engine::kernels
