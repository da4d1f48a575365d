#pragma once
// The CUDA path's interface: device discovery, device memory, and one launch wrapper per op
// (one op per .cu file in this folder). Compiled by nvcc and g++ alike, so C++20-clean and free
// of CUDA headers: host code (runtime/llama_cuda.cpp) never includes cuda_runtime.h.
//
// Contract: every call checks the CUDA runtime and every launch (cudaGetLastError right after
// it); a failure comes back as a Status with the runtime's own words and the operation's name,
// never an abort. Launches are asynchronous on the default stream: an error raised while a
// kernel runs surfaces at the next synchronizing call (copy_to_host, synchronize). Pointers
// named d_* are device pointers. Built without the toolkit (SWITCHYARD_CUDA off or not found),
// compiled() is false, list_devices() finds none and every other call fails with a Status that
// says so (kernels/cuda/cuda_unavailable.cpp). Not thread-safe per device: one caller at a time.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda/dequant_math.h"

namespace sy::engine::cuda {

// Empty error: success.
struct Status {
  std::string error;
  bool ok() const { return error.empty(); }
};

bool compiled();

struct DeviceInfo {
  int index = 0;
  std::string name;
  size_t total_bytes = 0;
  size_t free_bytes = 0;
  int major = 0, minor = 0;  // compute capability
  int multiprocessors = 0;
};

// The GPUs present. No driver (cudaErrorInsufficientDriver), no device, or a build without the
// toolkit all mean "no GPU": an empty list and success. Other runtime errors fail.
Status list_devices(std::vector<DeviceInfo>& out);
// Selects the device for this thread's later calls.
Status set_device(int index);

Status device_alloc(size_t bytes, void** d_out);  // plain cudaMalloc, never managed memory
void device_free(void* d) noexcept;
Status copy_to_device(void* d_dst, const void* src, size_t bytes);
Status copy_to_host(void* dst, const void* d_src, size_t bytes);
Status copy_on_device(void* d_dst, const void* d_src, size_t bytes);
Status synchronize();
// Device-to-device copy bandwidth (read + write bytes per second) over `bytes`-sized buffers,
// the best of `reps` timed copies: the floor the benchmark compares generation with.
Status measure_copy_bandwidth(size_t bytes, int reps, double& bytes_per_second);

// ---- ops ----

// out (n_tokens, rows) = x (n_tokens, cols) times W^T, W (rows, cols) in format t, row-major as
// in the GGUF file. `kernel`: warp_rows reads each weight row once per 8 tokens (one warp per
// row: decode and small batches), tiled stages 64 x 64 tiles in shared memory (prefill); automatic
// picks warp_rows up to 8 tokens. cols must be a multiple of t's block size.
enum class MatmulKernel { automatic, warp_rows, tiled };
Status matmul(WeightType t, const void* d_w, size_t rows, size_t cols, const float* d_x,
              size_t n_tokens, float* d_out, MatmulKernel kernel = MatmulKernel::automatic);

// out (n, dim) = row tokens[i] of the table (n_vocab, dim) in format t, times scale.
Status embed(WeightType t, const void* d_table, size_t dim, const int32_t* d_tokens, size_t n,
             float scale, float* d_out);

// out (rows, dim) = RMSNorm of each row of x with weight (dim); out may be x.
Status rms_norm(const float* d_x, const float* d_weight, size_t rows, size_t dim, float eps,
                float* d_out);

// Rotates v (rows, n_heads * head_dim) in place: the first rope_dim dims of every head, row r at
// position positions[r], pair i by angle position * inv_freq[i] (rope_dim / 2 of them).
Status rope(float* d_v, size_t rows, size_t n_heads, size_t head_dim, size_t rope_dim,
            const int32_t* d_positions, const float* d_inv_freq, bool neox);

// gate (n) = act(gate) * up, act SiLU or GELU-tanh (SwiGLU / GeGLU).
Status gated_ffn(float* d_gate, const float* d_up, size_t n, bool gelu);

// x (rows, width) += bias (width) broadcast over the rows, or += y (rows * width) element-wise.
Status add_bias(float* d_x, const float* d_bias, size_t rows, size_t width);
Status add(float* d_x, const float* d_y, size_t n);
// x = cap * tanh(x / cap) element-wise (Gemma 2's final soft-cap).
Status soft_cap(float* d_x, size_t n, float cap);

// Each row of x (rows, n) becomes its softmax; -inf entries become 0 (masked positions).
Status softmax_rows(float* d_x, size_t rows, size_t n);

// The paged KV cache on the device, F16, KvCache's layout (layer_math.h, kv_offset).
struct PagedKv {
  uint16_t* d_storage = nullptr;
  size_t block_tokens = 0, n_layers = 0, n_kv_heads = 0, head_dim = 0;
};
// The rows of a step: row r is at d_positions[r] in a sequence whose block ids start at
// d_tables + d_table_offsets[r].
struct StepRows {
  size_t n = 0;
  const int32_t* d_positions = nullptr;
  const uint32_t* d_tables = nullptr;
  const uint32_t* d_table_offsets = nullptr;
};

// Stores k and v (rows, n_kv_heads * head_dim) of every row of the step at its position.
Status store_kv(const PagedKv& kv, size_t layer, const StepRows& rows, const float* d_k,
                const float* d_v);

// out (rows, n_heads * head_dim) = softmax(q.K^T * scale, soft-capped) V per query head over the
// positions its row sees (its own and earlier ones of its sequence, the last `window` only when
// window > 0); query head h reads KV head h / (n_heads / n_kv_heads) (GQA). d_scores is scratch
// of (rows, n_heads, max_span) floats, max_span >= every row's position + 1.
Status attention(const PagedKv& kv, size_t layer, const StepRows& rows, const float* d_q,
                 size_t n_heads, float scale, float softcap, size_t window, size_t max_span,
                 float* d_scores, float* d_out);

}  // namespace sy::engine::cuda
