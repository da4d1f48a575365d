#include "runtime/llama_cpu.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/row_groups.h"
#include "runtime/vector_exp.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"

namespace sy::engine {
namespace {

// The sum of squares in double, in 8 lanes (4 SSE2 pairs) added pairwise at the end: the plain
// loop is one dependent double add per element (a 576-wide row ~4x slower). The order depends
// on n only, never on the row's neighbours or the thread, so batch invariance holds.
using F64x2 = double __attribute__((vector_size(16)));
void rms_norm(float* out, const float* x, const float* weight, size_t n, float eps) {
  F64x2 acc[4] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t k = 0; k < 4; ++k) {
      const F64x2 v{x[i + 2 * k], x[i + 2 * k + 1]};
      acc[k] += v * v;
    }
  }
  const F64x2 pair = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  double sum_squares = pair[0] + pair[1];
  for (; i < n; ++i) sum_squares += double(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum_squares / n) + eps);
  i = 0;
  for (; i + 4 <= n; i += 4) store4(out + i, load4(x + i) * scale * load4(weight + i));
  for (; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void add_bias(float* v, const std::vector<float>& bias) {
  for (size_t i = 0; i < bias.size(); ++i) v[i] += bias[i];
}

// out += p * v (n), four elements at a time in portable vector code (GCC's -O2 leaves the plain
// loop scalar). Element by element, a product then a sum, as the scalar tail: same values.
using F32x4 = float __attribute__((vector_size(16)));
void add_scaled(float* __restrict out, const float* __restrict v, float p, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    F32x4 o, x;
    std::memcpy(&o, out + i, sizeof(o));
    std::memcpy(&x, v + i, sizeof(x));
    o += p * x;
    std::memcpy(out + i, &o, sizeof(o));
  }
  for (; i < n; ++i) out[i] += p * v[i];
}

// gate[i] = SiLU(gate[i]) * up[i] = gate[i] / (1 + exp(-gate[i])) * up[i] for i in [begin, end),
// four lanes at a time with exp4 (libm's scalar expf here was ~8% of a 16-stream step); the
// tail goes through the same lanes, so an element's value depends on neither the range nor
// the thread that computes it.
void silu_mul(float* gate, const float* up, size_t begin, size_t end) {
  size_t i = begin;
  for (; i + 4 <= end; i += 4) {
    const F32x4 g = load4(gate + i);
    store4(gate + i, g / (1.0f + exp4(-g)) * load4(up + i));
  }
  if (i == end) return;
  float g[4] = {}, u[4] = {};
  std::copy(gate + i, gate + end, g);
  std::copy(up + i, up + end, u);
  store4(g, load4(g) / (1.0f + exp4(-load4(g))) * load4(u));
  std::copy(g, g + (end - i), gate + i);
}

float gelu_tanh(float x) {
  const float sqrt_2_over_pi = 0.7978845608f;
  return 0.5f * x * (1.0f + std::tanh(sqrt_2_over_pi * (x + 0.044715f * x * x * x)));
}

// scale * base^(-2i/rope_dim) / factor_i for each rotated pair i.
std::vector<float> inverse_frequencies(const ModelConfig& c, float base, float scale,
                                       const std::vector<float>& factors) {
  std::vector<float> inv(c.rope_dim / 2);
  for (size_t i = 0; i < inv.size(); ++i) {
    inv[i] = scale * std::pow(base, -static_cast<float>(2 * i) / static_cast<float>(c.rope_dim));
    if (!factors.empty()) inv[i] /= factors[i];
  }
  return inv;
}

// Adds the wall time of its scope to one op of a profile; free when there is none.
class ProfileScope {
 public:
  ProfileScope(ForwardProfile* profile, ForwardProfile::Op op) : profile_(profile), op_(op) {
    if (!profile_) return;
    start_ = std::chrono::steady_clock::now();
    wait_ = profile_->pool.wait_seconds;
  }
  ~ProfileScope() {
    if (!profile_) return;
    profile_->seconds[op_] +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    profile_->wait[op_] += profile_->pool.wait_seconds - wait_;
    ++profile_->calls[op_];
  }
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  ForwardProfile* profile_;
  ForwardProfile::Op op_;
  std::chrono::steady_clock::time_point start_;
  double wait_ = 0;  // the pool's wait_seconds at the start
};

// Block size of the single-sequence constructor's private cache; any size gives the same values.
// One attention run (kAttentionRun) fits in a block: its key and value rows for a layer are then
// one contiguous span each instead of four 16-position slots 30-odd layers apart (a decode A/B
// on 135M, 1 thread, loaded machine: 15.5 vs 17.5 CPU ms per token, median of 3).
constexpr size_t kOwnBlockTokens = 64;

}  // namespace

LlamaCpu::LlamaCpu(const Model& model, size_t max_positions, size_t threads, KvCacheType kv_type)
    : model_(model),
      c_(model.config()),
      kernels_(kernels::select_cpu_kernels()),
      pool_(threads),
      own_cache_(std::make_unique<KvCache>(
          model.config(),
          KvCacheOptions{.block_tokens = kOwnBlockTokens,
                         .max_blocks = std::max<size_t>(
                             1, (max_positions + kOwnBlockTokens - 1) / kOwnBlockTokens),
                         .type = kv_type})),
      cache_(*own_cache_),
      max_positions_(max_positions),
      max_step_tokens_(kPrefillChunk) {
  cache_.reserve(own_seq_, max_positions);
  init();
  reserve_attention(max_positions);
}

LlamaCpu::LlamaCpu(const Model& model, KvCache& cache, size_t max_step_tokens, size_t threads)
    : model_(model),
      c_(model.config()),
      kernels_(kernels::select_cpu_kernels()),
      pool_(threads),
      cache_(cache),
      max_step_tokens_(max_step_tokens) {
  if (max_step_tokens == 0) throw EngineError("the CPU pass needs max_step_tokens > 0");
  if (cache.n_layers() != c_.n_layers || cache.kv_width() != size_t{c_.n_kv_heads} * c_.head_dim) {
    throw EngineError("the KV cache was made for another model shape");
  }
  init();
}

void LlamaCpu::init() {
  if (model_.file() == nullptr) throw EngineError("the CPU pass needs a GGUF model");
  const size_t q_width = size_t{c_.n_heads} * c_.head_dim;
  const size_t kv_width = size_t{c_.n_kv_heads} * c_.head_dim;
  token_embd_ = view("token_embd.weight", c_.n_vocab, c_.dim);
  output_ = c_.tied_output ? token_embd_ : view("output.weight", c_.n_vocab, c_.dim);
  for (uint32_t l = 0; l < c_.n_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    Layer layer{view(b + "attn_q.weight", q_width, c_.dim),
                view(b + "attn_k.weight", kv_width, c_.dim),
                view(b + "attn_v.weight", kv_width, c_.dim),
                view(b + "attn_output.weight", c_.dim, q_width),
                view(b + "ffn_gate.weight", c_.ffn_dim, c_.dim),
                view(b + "ffn_up.weight", c_.ffn_dim, c_.dim),
                view(b + "ffn_down.weight", c_.dim, c_.ffn_dim),
                vector_f32(b + "attn_norm.weight", c_.dim),
                vector_f32(b + "ffn_norm.weight", c_.dim)};
    if (c_.qkv_bias) {
      layer.bq = vector_f32(b + "attn_q.bias", q_width);
      layer.bk = vector_f32(b + "attn_k.bias", kv_width);
      layer.bv = vector_f32(b + "attn_v.bias", kv_width);
    }
    if (c_.qk_norm) {
      layer.q_norm = vector_f32(b + "attn_q_norm.weight", c_.head_dim);
      layer.k_norm = vector_f32(b + "attn_k_norm.weight", c_.head_dim);
    }
    if (c_.post_norms) {
      layer.attn_post_norm = vector_f32(b + "post_attention_norm.weight", c_.dim);
      layer.ffn_post_norm = vector_f32(b + "post_ffw_norm.weight", c_.dim);
    }
    layers_.push_back(std::move(layer));
    any_sliding_ = any_sliding_ || c_.is_sliding(l);
  }
  output_norm_ = vector_f32("output_norm.weight", c_.dim);
  std::vector<float> factors;
  if (c_.rope_freq_factors) factors = vector_f32("rope_freqs.weight", c_.rope_dim / 2);
  inv_freq_ = inverse_frequencies(c_, c_.rope_freq_base, c_.rope_freq_scale, factors);
  inv_freq_swa_ = inverse_frequencies(c_, c_.rope_freq_base_swa, c_.rope_freq_scale_swa, factors);
  const size_t rows = max_step_tokens_, half = c_.rope_dim / 2;
  rope_cos_.resize(rows * half);
  rope_sin_.resize(rows * half);
  if (any_sliding_) {
    rope_cos_swa_.resize(rows * half);
    rope_sin_swa_.resize(rows * half);
  }
  bx_.resize(rows * c_.dim);
  bxb_.resize(rows * c_.dim);
  bq_.resize(rows * q_width);
  bk_.resize(rows * kv_width);
  bv_.resize(rows * kv_width);
  batt_.resize(rows * q_width);
  bgate_.resize(rows * c_.ffn_dim);
  bup_.resize(rows * c_.ffn_dim);
  group_weights();
}

namespace {

// Gives the whole pages of [begin, end) of the file mapping back to the kernel: clean private
// file pages, so a later read faults them in from the file unchanged.
void drop_pages(const std::byte* begin, const std::byte* end) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t lo = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
  const uintptr_t hi = reinterpret_cast<uintptr_t>(end) / page * page;
  if (lo < hi) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

// Bytes regrouped between two page drops: the most the copy and the file pages overlap.
constexpr size_t kGroupChunkBytes = size_t{1} << 20;

}  // namespace

namespace {

// Anonymous memory for the copies of the weights, in 2 MiB pages where the kernel gives them: a
// decode step streams every weight once, and in 4 KiB pages that is a TLB miss and a hardware
// prefetch stream cut short every 4 KiB (one thread's matvec streaming, engine_matvec_bench
// --huge: Q8_0 17-20 -> 28-31 GB/s). One mapping for all the matrices: most are smaller than a
// huge page. `keep` owns it; returns the 2 MiB-aligned start.
std::byte* allocate_weights(size_t bytes, std::vector<std::shared_ptr<void>>& keep) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t mapped = bytes + kHuge;
  void* mem = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw EngineError("cannot allocate memory for the weights");
  keep.emplace_back(mem, [mapped](void* p) { ::munmap(p, mapped); });
  const uintptr_t start = (reinterpret_cast<uintptr_t>(mem) + kHuge - 1) / kHuge * kHuge;
  ::madvise(reinterpret_cast<void*>(start), bytes, MADV_HUGEPAGE);  // advice: may be refused
  return reinterpret_cast<std::byte*>(start);
}

size_t matrix_bytes(const kernels::MatrixView& w) {
  const auto traits = tensor_type_traits(w.type);
  return w.rows * (w.cols / traits.block_size * traits.block_bytes);
}

}  // namespace

std::vector<kernels::MatrixView*> LlamaCpu::step_matrices() {
  std::vector<kernels::MatrixView*> matrices;
  for (Layer& layer : layers_) {
    for (kernels::MatrixView* w : {&layer.wq, &layer.wk, &layer.wv, &layer.wo, &layer.w_gate,
                                   &layer.w_up, &layer.w_down}) {
      matrices.push_back(w);
    }
  }
  matrices.push_back(&output_);
  return matrices;
}

double LlamaCpu::weights_read_bytes_per_second(size_t passes) {
  // The matrices by address, each joined to the one before when it starts by the end of the
  // page that one ends in (the copies lie back to back in one mapping, 4 KiB aligned): the read
  // streams as far as the memory allows, as a probe's buffer would. Only padding inside a page
  // already read lies between joined ones; a matrix further on may follow a hole in the
  // address space.
  std::vector<std::pair<const std::byte*, size_t>> spans;
  for (const kernels::MatrixView* w : step_matrices()) {
    spans.emplace_back(static_cast<const std::byte*>(w->data), matrix_bytes(*w));
  }
  std::sort(spans.begin(), spans.end());
  std::vector<std::pair<const std::byte*, size_t>> runs;
  auto page_end = [](const std::byte* p) {
    constexpr uintptr_t kPage = 4096;
    return (reinterpret_cast<uintptr_t>(p) + kPage - 1) / kPage * kPage;
  };
  for (const auto& [p, bytes] : spans) {
    if (!runs.empty() && p >= runs.back().first &&
        reinterpret_cast<uintptr_t>(p) <= page_end(runs.back().first + runs.back().second)) {
      runs.back().second = std::max<size_t>(runs.back().second, p + bytes - runs.back().first);
    } else {
      runs.emplace_back(p, bytes);
    }
  }
  // Whole 256-byte pieces of each run (read_lines' unit); thread i reads pieces
  // [pieces * i / threads, pieces * (i + 1) / threads) of the runs laid end to end.
  constexpr size_t kPiece = 256;
  size_t pieces = 0;
  for (const auto& run : runs) pieces += run.second / kPiece;
  const size_t threads = pool_.size();
  std::vector<uint64_t> sinks(threads * 8);  // a cache line a thread
  std::vector<double> rates;
  for (size_t pass = 0; pass < std::max<size_t>(passes, 1); ++pass) {
    const auto start = std::chrono::steady_clock::now();
    pool_.parallel_for(threads, [&](size_t i) {
      const size_t lo = pieces * i / threads, hi = pieces * (i + 1) / threads;
      uint64_t sink = 0;
      size_t at = 0;
      for (const auto& [p, bytes] : runs) {
        const size_t n = bytes / kPiece, a = std::max(lo, at), b = std::min(hi, at + n);
        if (a < b) sink += kernels_.read_lines(p + (a - at) * kPiece, (b - a) * kPiece);
        at += n;
      }
      sinks[i * 8] += sink;
    });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rates.push_back(seconds > 0 ? pieces * kPiece / seconds : 0);
  }
  uint64_t all = 0;
  for (uint64_t s : sinks) all += s;
  volatile uint64_t keep = all;  // the reads have a use, so they stay
  (void)keep;
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

void LlamaCpu::group_weights() {
  const bool mapped = model_.file()->is_mapped();
  const std::vector<kernels::MatrixView*> matrices = step_matrices();
  // Regrouped (Q8_0 / Q4_0 of at least one group) or, from a mapped file, copied as they are;
  // the rest (the file read into memory) stays where it is.
  auto regroups = [](const kernels::MatrixView& w) {
    return kernels::groupable(w.type) && w.rows >= kernels::kGroupRows;
  };
  auto moves = [&](const kernels::MatrixView& w) { return !w.grouped && (regroups(w) || mapped); };
  // Each matrix at a cache-line multiple: 4 KiB, so that no page holds two.
  constexpr size_t kAlign = 4096;
  size_t total = 0;
  for (const kernels::MatrixView* w : matrices)
    if (moves(*w)) total += (matrix_bytes(*w) + kAlign - 1) / kAlign * kAlign;
  if (total == 0) return;
  std::byte* next = allocate_weights(total, grouped_);
  for (kernels::MatrixView* w : matrices) {
    if (!moves(*w)) continue;
    const auto* src = static_cast<const std::byte*>(w->data);
    std::byte* dst = next;
    const size_t bytes = matrix_bytes(*w);
    next += (bytes + kAlign - 1) / kAlign * kAlign;
    if (!regroups(*w)) {
      // Row-major as in the file: copied a chunk at a time, each replacing the file's pages.
      for (size_t at = 0; at < bytes; at += kGroupChunkBytes) {
        const size_t n = std::min(kGroupChunkBytes, bytes - at);
        std::memcpy(dst + at, src + at, n);
        drop_pages(src + at, src + at + n);
      }
      drop_pages(src, src + bytes);
      w->data = dst;
      continue;
    }
    const size_t gb = kernels::group_bytes(w->type, w->cols);
    const size_t n_groups = w->rows / kernels::kGroupRows;
    const size_t chunk = std::max<size_t>(1, kGroupChunkBytes / gb);
    for (size_t g = 0; g < n_groups; g += chunk) {
      const size_t n = std::min(chunk, n_groups - g);
      kernels::regroup(w->type, w->cols, src + g * gb, dst + g * gb, n);
      if (mapped) drop_pages(src + g * gb, src + (g + n) * gb);
    }
    // The rows past the last group stay row-major, where they were.
    std::memcpy(dst + n_groups * gb, src + n_groups * gb, bytes - n_groups * gb);
    if (mapped) drop_pages(src, src + bytes);
    w->data = dst;
    w->grouped = true;
  }
  if (c_.tied_output) token_embd_ = output_;
}

namespace {

// Each run's scores start a cache line (of 16 floats): the scores kernels store them 64 bytes
// at a time and scale_max / softmax_exp load them back the same way, and a store that straddles
// two lines is not forwarded to such a load, which then waits for it to reach the cache. With
// the scratch 16 bytes off a line, a decode step's attention took 2-5% longer.
constexpr size_t kLineFloats = 16;

size_t line_floats(size_t n) { return (n + kLineFloats - 1) / kLineFloats * kLineFloats; }

// The first line-aligned float of v, which holds kLineFloats spare floats for it.
float* line_start(std::vector<float>& v) {
  const size_t misaligned = reinterpret_cast<uintptr_t>(v.data()) % 64;
  return v.data() + (misaligned == 0 ? 0 : (64 - misaligned) / sizeof(float));
}

}  // namespace

void LlamaCpu::reserve_attention(size_t positions) {
  // Positions [first, pos] with pos < positions touch at most this many runs.
  const size_t max_runs = positions / kAttentionRun + 1;
  if (max_runs <= attn_max_runs_) return;
  attn_max_runs_ = max_runs;
  const size_t group = c_.n_heads / c_.n_kv_heads;
  const size_t slice = c_.n_kv_heads;  // the widest slice attention_slice() gives
  // One slot per chunk of the items branch of attention().
  const size_t slots = pool_.size() == 1 ? 1 : pool_.size() * kStepChunksPerThread;
  attn_scratch_.resize(
      slots * (slice * group * kAttentionRun + line_floats(max_runs * slice * run_floats())) +
      kLineFloats);
}

kernels::MatrixView LlamaCpu::view(std::string_view name, size_t rows, size_t cols) const {
  const GgufTensor& t = model_.file()->tensor(name);
  if (t.shape.size() != 2 || t.shape[0] != cols || t.shape[1] != rows) {
    throw EngineError("tensor " + std::string(name) + ": unexpected shape");
  }
  if (t.type != TensorType::f32 && t.type != TensorType::f16 && t.type != TensorType::bf16 &&
      t.type != TensorType::q8_0 && t.type != TensorType::q4_0 && t.type != TensorType::q4_k &&
      t.type != TensorType::q6_k) {
    throw EngineError("tensor " + std::string(name) + ": type " + std::string(to_string(t.type)) +
                      " is not supported by the CPU pass yet");
  }
  return {t.type, t.data.data(), rows, cols};
}

std::vector<float> LlamaCpu::vector_f32(std::string_view name, size_t n) const {
  const GgufTensor& t = model_.file()->tensor(name);
  if (t.shape.size() != 1 || t.shape[0] != n) {
    throw EngineError("tensor " + std::string(name) + ": unexpected shape");
  }
  std::vector<float> out(n);
  kernels::dequantize(t.type, t.data, out);
  return out;
}

namespace {

// Edge i (0..chunks) of `chunks` near-equal shares of `total` rows, on a row-group boundary
// (16 rows) so that no group is split between threads (a split one would be computed twice).
size_t share_edge(size_t total, size_t i, size_t chunks) {
  if (i >= chunks) return total;
  const size_t g = kernels::kGroupRows;
  return std::min(total, (total * i / chunks + g / 2) / g * g);
}

}  // namespace

void LlamaCpu::matvec(const kernels::MatrixView& w, const float* x, float* out) {
  // The activations are quantized once, here, and then only read by every thread.
  kernels::MatvecScratch& activations = scratch_;
  kernels::quantize_activations(w, x, activations);
  const size_t chunks = std::min(pool_.size(), w.rows);
  pool_.parallel_for(chunks, [&](size_t i) {
    const size_t begin = share_edge(w.rows, i, chunks), end = share_edge(w.rows, i + 1, chunks);
    kernels::matvec_rows(kernels_, w, x, activations, out, begin, end);
  });
}

namespace {

// Which quantized activations a weight type reads: matrices of one class share them.
int activation_class(TensorType type) {
  switch (type) {
    case TensorType::q8_0:
    case TensorType::q4_0:
      return 1;
    case TensorType::q4_k:
    case TensorType::q6_k:
      return 2;
    default:
      return 0;
  }
}

// fn(product, lo, hi) for each product with rows [lo, hi) (its own numbering) inside
// [begin, end) of the products' rows laid end to end.
template <class Products, class Fn>
void for_each_share(const Products& products, size_t begin, size_t end, Fn fn) {
  size_t first = 0;
  for (const auto& p : products) {
    const size_t lo = std::max(begin, first), hi = std::min(end, first + p.w->rows);
    if (lo < hi) fn(p, lo - first, hi - first);
    first += p.w->rows;
  }
}

}  // namespace

bool LlamaCpu::decode_row(const Row* rows, size_t n, size_t r) {
  return (r == 0 || rows[r - 1].kv != rows[r].kv) && (r + 1 == n || rows[r + 1].kv != rows[r].kv);
}

void LlamaCpu::plan_kv_prefetch(const KvPrefetch& kv, size_t part, size_t parts,
                                kernels::SidePrefetch& side) const {
  side.clear();
  const size_t l = kv.layer, bt = cache_.block_tokens();
  const size_t row_bytes = size_t{c_.n_kv_heads} * c_.head_dim * sizeof(uint16_t);
  if (cache_.type() != KvCacheType::f16 || bt * row_bytes > kKvPrefetchPieceBytes) return;
  // Positions [first_position, pos) of each decode row, laid end to end; this share is
  // [lo, hi) of them.
  size_t total = 0;
  for (size_t r = 0; r < kv.n; ++r) {
    if (decode_row(kv.rows, kv.n, r)) total += kv.rows[r].pos - first_position(l, kv.rows[r]);
  }
  const size_t lo = total * part / parts, hi = total * (part + 1) / parts;
  size_t at = 0;
  for (size_t r = 0; r < kv.n && at < hi; ++r) {
    if (!decode_row(kv.rows, kv.n, r)) continue;
    const Row& row = kv.rows[r];
    const size_t first = first_position(l, row), count = row.pos - first;
    const size_t begin = first + (std::max(lo, at) - at);
    const size_t end = first + (std::min(hi, at + count) - at);
    for (size_t t = begin; t < end;) {
      const size_t b = t / bt, piece_end = std::min(end, (b + 1) * bt);
      const size_t offset = (t - b * bt) * size_t{c_.n_kv_heads} * c_.head_dim;
      side.add(cache_.keys_f16(row.kv->blocks[b], l) + offset, (piece_end - t) * row_bytes);
      side.add(cache_.values_f16(row.kv->blocks[b], l) + offset, (piece_end - t) * row_bytes);
      t = piece_end;
    }
    at += count;
  }
}

kernels::SidePrefetch* LlamaCpu::kv_prefetch_share(const KvPrefetch* kv,
                                                   std::span<const Product> products, size_t begin,
                                                   size_t end, size_t i, size_t chunks) {
  if (kv == nullptr) return nullptr;
  kernels::SidePrefetch& side = side_prefetch_[i];
  plan_kv_prefetch(*kv, i, chunks, side);
  if (side.lines() == 0) return nullptr;
  size_t steps = 0;
  for_each_share(products, begin, end, [&](const Product& p, size_t lo, size_t hi) {
    steps += kernels::group_steps(*p.w, lo, hi);
  });
  // A chunk without whole groups (a matrix of another type, or one under 16 rows) steps no
  // kernel: its share is left to attention to read, as before.
  if (steps == 0) return nullptr;
  side.pace(steps);
  return &side;
}

void LlamaCpu::matvecs(std::span<const Product> products, const float* x, const KvPrefetch* kv) {
  kernels::MatvecScratch& activations = scratch_;
  bool quantized[3] = {};
  size_t total = 0;
  for (const Product& p : products) {
    const int c = activation_class(p.w->type);
    if (!quantized[c]) kernels::quantize_activations(*p.w, x, activations);
    quantized[c] = true;
    total += p.w->rows;
  }
  const size_t chunks = std::min(pool_.size(), total);
  if (side_prefetch_.size() < chunks) side_prefetch_.resize(chunks);
  pool_.parallel_for(chunks, [&](size_t i) {
    // This share is [begin, end) of the products' rows laid end to end.
    const size_t begin = share_edge(total, i, chunks), end = share_edge(total, i + 1, chunks);
    kernels::SidePrefetch* side = kv_prefetch_share(kv, products, begin, end, i, chunks);
    for_each_share(products, begin, end, [&](const Product& p, size_t lo, size_t hi) {
      kernels::matvec_rows(kernels_, *p.w, x, activations, p.out, lo, hi, side);
    });
  });
}

void LlamaCpu::activate(float* gate, const float* up, size_t begin, size_t end) const {
  if (c_.activation == FfnActivation::silu) {
    if (kernels_.silu_mul != nullptr) {
      kernels_.silu_mul(gate + begin, up + begin, end - begin);
    } else {
      silu_mul(gate, up, begin, end);
    }
  } else {
    for (size_t i = begin; i < end; ++i) gate[i] = gelu_tanh(gate[i]) * up[i];
  }
}

void LlamaCpu::matvec_gate_up(const Layer& lw, const float* x) {
  kernels::MatvecScratch& activations = scratch_;
  kernels::quantize_activations(lw.w_gate, x, activations);
  if (activation_class(lw.w_up.type) != activation_class(lw.w_gate.type)) {
    kernels::quantize_activations(lw.w_up, x, activations);
  }
  const size_t rows = lw.w_gate.rows, chunks = std::min(pool_.size(), rows);
  pool_.parallel_for(chunks, [&](size_t i) {
    const size_t begin = share_edge(rows, i, chunks), end = share_edge(rows, i + 1, chunks);
    kernels::matvec_rows(kernels_, lw.w_gate, x, activations, bgate_.data(), begin, end);
    kernels::matvec_rows(kernels_, lw.w_up, x, activations, bup_.data(), begin, end);
    activate(bgate_.data(), bup_.data(), begin, end);
  });
}

void LlamaCpu::matmul(const kernels::MatrixView& w, const float* x, size_t n, float* out) {
  kernels::prepare_batch(w, x, n, batch_);
  const size_t token_chunks = std::min(pool_.size(), n);
  pool_.parallel_for(token_chunks, [&](size_t i) {
    kernels::quantize_batch(w, batch_, n * i / token_chunks, n * (i + 1) / token_chunks);
  });
  const size_t chunks = std::min(pool_.size(), w.rows);
  pool_.parallel_for(chunks, [&](size_t i) {
    const size_t begin = share_edge(w.rows, i, chunks), end = share_edge(w.rows, i + 1, chunks);
    kernels::matmul(kernels_, w, batch_, out, begin, end);
  });
}

bool LlamaCpu::shares_activations(std::span<const Product> products) {
  for (const Product& p : products) {
    if (activation_class(p.w->type) != activation_class(products[0].w->type) ||
        p.w->cols != products[0].w->cols) {
      return false;
    }
  }
  return true;
}

void LlamaCpu::matmuls(std::span<const Product> products, const float* x, size_t n, bool quantized,
                       const KvPrefetch* kv) {
  if (!shares_activations(products)) {  // rare (mixed types): no KV prefetch
    for (const Product& q : products) matmul(*q.w, x, n, q.out);
    return;
  }
  size_t total = 0;
  for (const Product& p : products) total += p.w->rows;
  const kernels::MatrixView& first = *products[0].w;
  const size_t threads = pool_.size();
  if (!quantized) {
    kernels::prepare_batch(first, x, n, batch_);
    const size_t token_chunks = std::min(threads, n);
    pool_.parallel_for(token_chunks, [&](size_t i) {
      kernels::quantize_batch(first, batch_, n * i / token_chunks, n * (i + 1) / token_chunks);
    });
  }
  const size_t most = threads * kStepChunksPerThread;
  const size_t chunks =
      threads == 1 ? 1 : std::clamp<size_t>(total / kernels::kGroupRows, 1, most);
  if (side_prefetch_.size() < chunks) side_prefetch_.resize(chunks);
  pool_.parallel_for(chunks, [&](size_t i) {
    // This chunk is [begin, end) of the products' rows laid end to end.
    const size_t begin = share_edge(total, i, chunks), end = share_edge(total, i + 1, chunks);
    kernels::SidePrefetch* side = kv_prefetch_share(kv, products, begin, end, i, chunks);
    for_each_share(products, begin, end, [&](const Product& p, size_t lo, size_t hi) {
      kernels::matmul(kernels_, *p.w, batch_, p.out, lo, hi, side);
    });
  });
}

void LlamaCpu::matmul_gate_up(const Layer& lw, const float* x, size_t n, bool quantized) {
  const size_t ffn = c_.ffn_dim;
  if (activation_class(lw.w_gate.type) != activation_class(lw.w_up.type)) {
    matmul(lw.w_gate, x, n, bgate_.data());
    matmul(lw.w_up, x, n, bup_.data());
    for_rows(n,
             [&](size_t t) { activate(bgate_.data() + t * ffn, bup_.data() + t * ffn, 0, ffn); });
    return;
  }
  const size_t threads = pool_.size();
  if (!quantized) {
    kernels::prepare_batch(lw.w_gate, x, n, batch_);
    const size_t token_chunks = std::min(threads, n);
    pool_.parallel_for(token_chunks, [&](size_t i) {
      kernels::quantize_batch(lw.w_gate, batch_, n * i / token_chunks, n * (i + 1) / token_chunks);
    });
  }
  const size_t most = threads * kStepChunksPerThread;
  const size_t chunks = threads == 1 ? 1 : std::clamp<size_t>(ffn / kernels::kGroupRows, 1, most);
  pool_.parallel_for(chunks, [&](size_t i) {
    const size_t begin = share_edge(ffn, i, chunks), end = share_edge(ffn, i + 1, chunks);
    if (begin == end) return;
    kernels::matmul(kernels_, lw.w_gate, batch_, bgate_.data(), begin, end);
    kernels::matmul(kernels_, lw.w_up, batch_, bup_.data(), begin, end);
    for (size_t t = 0; t < n; ++t) {
      activate(bgate_.data() + t * ffn, bup_.data() + t * ffn, begin, end);
    }
  });
}

void LlamaCpu::project_step(const kernels::MatrixView& w, const float* x, size_t n, float* out) {
  if (n == 1) {
    matvec(w, x, out);
    return;
  }
  const Product one[] = {{&w, out}};
  matmuls(one, x, n);
}

void LlamaCpu::embed(TokenId token, float* out) const {
  if (token < 0 || static_cast<uint32_t>(token) >= c_.n_vocab) {
    throw EngineError("token id " + std::to_string(token) + " outside the vocabulary");
  }
  const auto traits = tensor_type_traits(token_embd_.type);
  const size_t row_bytes = c_.dim / traits.block_size * traits.block_bytes;
  const auto* base = static_cast<const std::byte*>(token_embd_.data);
  const size_t r = static_cast<size_t>(token);
  if (token_embd_.grouped && r < token_embd_.rows / kernels::kGroupRows * kernels::kGroupRows) {
    // A tied embedding regrouped for the output product: the row's blocks back from its group.
    std::vector<std::byte> row(row_bytes);
    const size_t g = r / kernels::kGroupRows;
    kernels::ungroup_row(token_embd_.type, c_.dim, base + g * kernels::kGroupRows * row_bytes,
                         r % kernels::kGroupRows, row.data());
    kernels::dequantize(token_embd_.type, row, std::span<float>(out, c_.dim));
  } else {
    kernels::dequantize(token_embd_.type, {base + r * row_bytes, row_bytes},
                        std::span<float>(out, c_.dim));
  }
  if (c_.embedding_scale != 1.0f) {
    for (size_t i = 0; i < c_.dim; ++i) out[i] *= c_.embedding_scale;
  }
}

void LlamaCpu::project(const kernels::MatrixView& w, const float* x, size_t n, float* out) {
  if (n == 1)
    matvec(w, x, out);
  else
    matmul(w, x, n, out);
}

void LlamaCpu::rope_angles(const std::vector<float>& inv_freq, size_t pos, float* cos,
                           float* sin) const {
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    const float angle = static_cast<float>(pos) * inv_freq[i];
    cos[i] = std::cos(angle);
    sin[i] = std::sin(angle);
  }
}

void LlamaCpu::rope(float* v, size_t n_heads, const float* cos, const float* sin) const {
  const size_t half = c_.rope_dim / 2;
  const bool adjacent = c_.rope_style == RopeStyle::adjacent_pairs;
  for (size_t h = 0; h < n_heads; ++h) {
    float* head = v + h * c_.head_dim;
    for (size_t i = 0; i < half; ++i) {
      const size_t ia = adjacent ? 2 * i : i, ib = adjacent ? 2 * i + 1 : i + half;
      const float a = head[ia], b = head[ib];
      head[ia] = a * cos[i] - b * sin[i];
      head[ib] = a * sin[i] + b * cos[i];
    }
  }
}

void LlamaCpu::store_kv(size_t l, const Row& row, const float* k, const float* v) {
  const size_t kv_width = size_t{c_.n_kv_heads} * c_.head_dim;
  const size_t bt = cache_.block_tokens();
  const BlockId block = row.kv->blocks[row.pos / bt];
  const size_t at = (row.pos % bt) * kv_width;
  if (cache_.type() == KvCacheType::f16) {
    uint16_t* keys = cache_.keys_f16(block, l) + at;
    uint16_t* values = cache_.values_f16(block, l) + at;
    if (kernels_.fp32_to_fp16_row != nullptr) {  // the same bits as the loop
      kernels_.fp32_to_fp16_row(k, keys, kv_width);
      kernels_.fp32_to_fp16_row(v, values, kv_width);
      return;
    }
    for (size_t i = 0; i < kv_width; ++i) {
      keys[i] = kernels::fp32_to_fp16(k[i]);
      values[i] = kernels::fp32_to_fp16(v[i]);
    }
  } else {
    std::copy_n(k, kv_width, cache_.keys_f32(block, l) + at);
    std::copy_n(v, kv_width, cache_.values_f32(block, l) + at);
  }
}

size_t LlamaCpu::attention_slice(size_t tokens) const {
  const bool whole_tokens_go_round = tokens >= kItemsPerThread * pool_.size();
  const bool runs_cross_blocks = cache_.block_tokens() < kAttentionRun;
  return c_.n_kv_heads >= kSideBySideHeads || whole_tokens_go_round || runs_cross_blocks
             ? c_.n_kv_heads
             : 1;
}

size_t LlamaCpu::run_floats() const {
  const size_t group = c_.n_heads / c_.n_kv_heads;
  return group * (c_.head_dim + 2);
}

size_t LlamaCpu::first_position(size_t l, const Row& row) const {
  return c_.is_sliding(l) && row.pos >= c_.sliding_window ? row.pos - c_.sliding_window + 1 : 0;
}

// The query heads that share one KV head are taken together, so each cached value row is read
// (and, in F16, converted) once for the whole group. Positions are visited in order, block by
// block, so every head's sums run in the same order whatever the block size, the chunking or
// the slice of heads it is attended with.
void LlamaCpu::attend_run(size_t l, const Row& row, size_t head, size_t n_heads,
                          const float* q_heads, size_t begin, size_t end, float* results,
                          float* scores_heads, bool cold) const {
  const size_t head_dim = c_.head_dim;
  const size_t kv_width = size_t{c_.n_kv_heads} * head_dim;
  const size_t group = c_.n_heads / c_.n_kv_heads;
  const size_t bt = cache_.block_tokens();
  const bool f16 = cache_.type() == KvCacheType::f16;
  const size_t stride = kAttentionRun, rf = run_floats();
  const std::vector<BlockId>& blocks = row.kv->blocks;
  const bool side_by_side = n_heads > 1;
  // fn(t, run_end, offset of position t's row within its block's layer storage, block) over
  // [begin, end) in pieces inside one block.
  auto for_each_block = [&](auto fn) {
    for (size_t t = begin; t < end;) {
      const size_t b = t / bt, run_end = std::min(end, (b + 1) * bt);
      fn(t, run_end, (t - b * bt) * kv_width + head * head_dim, blocks[b]);
      t = run_end;
    }
  };
  // A run over several blocks (serving's 16-position blocks, each block every layer's rows, so
  // a run's pieces lie far apart) asks for the next block's keys and this block's values while
  // it reads this block's keys: the hardware prefetchers start over at every piece. Its rows
  // are whole (a side-by-side slice is every head). bench_engine_step, 135M Q8_0, 16 streams,
  // 1 thread, alternated 4 rounds: attention 28.0 -> 21.0-22.5 ms a step at 448-token prompts,
  // 4.46 -> 3.49 at 64. A run inside one block (the single-sequence pass's 64-position blocks)
  // asks for nothing: 1.7B decode measured no better. Nor does a prefill row (not `cold`), whose
  // positions its chunk has just written: 16 streams' 448-token prefill took 4% longer with it.
  const bool prefetch = cold && f16 && side_by_side && begin / bt != (end - 1) / bt;
  auto prefetch_rows = [&](const uint16_t* row, size_t rows) {
    const char* p = reinterpret_cast<const char*>(row);
    for (size_t at = 0; at < rows * kv_width * sizeof(uint16_t); at += 64) {
      __builtin_prefetch(p + at, 0, 3);
    }
  };
  // Unnormalized probabilities: scores_heads is (n_heads, group, stride). q.k first (the whole
  // group per key row, the slice's heads row by row), then scale and soft-cap.
  for_each_block([&](size_t t, size_t run_end, size_t at, BlockId block) {
    if (prefetch) {
      if (run_end < end) {
        prefetch_rows(cache_.keys_f16(blocks[run_end / bt], l), std::min(bt, end - run_end));
      }
      prefetch_rows(cache_.values_f16(block, l) + (t % bt) * kv_width, run_end - t);
    }
    if (f16 && side_by_side) {
      kernels_.attention_scores_heads_f16(cache_.keys_f16(block, l) + at, kv_width, run_end - t,
                                          n_heads, q_heads, group, head_dim,
                                          scores_heads + (t - begin), stride);
      return;
    }
    if (f16) {
      for (size_t h = 0; h < n_heads; ++h) {
        kernels_.attention_scores_f16(cache_.keys_f16(block, l) + at + h * head_dim, kv_width,
                                      run_end - t, q_heads + h * group * head_dim, group, head_dim,
                                      scores_heads + h * group * stride + (t - begin), stride);
      }
      return;
    }
    for (size_t i = 0; i < run_end - t; ++i) {
      for (size_t h = 0; h < n_heads; ++h) {
        const float* k = cache_.keys_f32(block, l) + at + i * kv_width + h * head_dim;
        for (size_t g = 0; g < group; ++g) {
          scores_heads[(h * group + g) * stride + t - begin + i] =
              kernels_.dot_f32(q_heads + (h * group + g) * head_dim, k, head_dim);
        }
      }
    }
  });
  for (size_t h = 0; h < n_heads; ++h) {
    float* out_group = results + h * rf;
    float* maxima = out_group + group * head_dim;
    float* sums = maxima + group;
    for (size_t g = 0; g < group; ++g) {
      float* scores = scores_heads + (h * group + g) * stride;
      float max = -INFINITY;
      if (c_.attn_softcap > 0) {
        for (size_t i = 0; i < end - begin; ++i) {
          const float score = scores[i] * c_.attention_scale;
          scores[i] = c_.attn_softcap * std::tanh(score / c_.attn_softcap);
          max = std::max(max, scores[i]);
        }
      } else {
        max = kernels_.scale_max(scores, end - begin, c_.attention_scale);
      }
      maxima[g] = max;
      sums[g] = kernels_.softmax_exp(scores, end - begin, max);
      std::fill(out_group + g * head_dim, out_group + (g + 1) * head_dim, 0.0f);
    }
  }
  // The values kernels give the same bits however the rows are split, so prefill and decode
  // (and any batch) agree exactly.
  for_each_block([&](size_t t, size_t run_end, size_t at, BlockId block) {
    if (f16 && side_by_side) {
      kernels_.attention_values_heads_f16(cache_.values_f16(block, l) + at, kv_width, run_end - t,
                                          n_heads, scores_heads + (t - begin), stride, group,
                                          head_dim, results, rf);
      return;
    }
    if (f16) {
      for (size_t h = 0; h < n_heads; ++h) {
        kernels_.attention_values_f16(cache_.values_f16(block, l) + at + h * head_dim, kv_width,
                                      run_end - t, scores_heads + h * group * stride + (t - begin),
                                      stride, group, head_dim, results + h * rf);
      }
      return;
    }
    for (size_t i = 0; i < run_end - t; ++i) {
      for (size_t h = 0; h < n_heads; ++h) {
        const float* v = cache_.values_f32(block, l) + at + i * kv_width + h * head_dim;
        for (size_t g = 0; g < group; ++g) {
          add_scaled(results + h * rf + g * head_dim, v,
                     scores_heads[(h * group + g) * stride + t - begin + i], head_dim);
        }
      }
    }
  });
}

// softmax over all runs: each run's sums are rescaled from its own maximum to the overall one.
void LlamaCpu::merge_runs(const float* results, size_t n_runs, size_t run_stride,
                          float* out) const {
  const size_t head_dim = c_.head_dim, group = c_.n_heads / c_.n_kv_heads;
  // Each run's exp(max_j - max), computed once and used twice (the same values as computing
  // it at each use): the scalar exp was most of a decode step's merge.
  thread_local std::vector<float> rescale;
  rescale.resize(n_runs);
  for (size_t g = 0; g < group; ++g) {
    auto run_max = [&](size_t j) { return results[j * run_stride + group * head_dim + g]; };
    auto run_sum = [&](size_t j) { return results[j * run_stride + group * head_dim + group + g]; };
    float max = -INFINITY;
    for (size_t j = 0; j < n_runs; ++j) max = std::max(max, run_max(j));
    float total = 0;
    for (size_t j = 0; j < n_runs; ++j) {
      rescale[j] = std::exp(run_max(j) - max);
      total += rescale[j] * run_sum(j);
    }
    float* o = out + g * head_dim;
    std::fill(o, o + head_dim, 0.0f);
    for (size_t j = 0; j < n_runs; ++j) {
      add_scaled(o, results + j * run_stride + g * head_dim, rescale[j] / total, head_dim);
    }
  }
}

void LlamaCpu::attention(size_t l, const Row* rows, size_t n) {
  const size_t head_dim = c_.head_dim, group = c_.n_heads / c_.n_kv_heads;
  const size_t q_width = size_t{c_.n_heads} * head_dim;
  const size_t threads = pool_.size(), rf = run_floats();
  // Item i is token i / slices, KV heads [slice_head(i), slice_head(i) + slice_heads(i)); their
  // query heads and outputs sit at the same offset of bq_ and batt_.
  const size_t slice = attention_slice(n);
  const size_t slices = (c_.n_kv_heads + slice - 1) / slice, items = n * slices;
  const size_t scores_size = slice * group * kAttentionRun;
  auto slice_head = [&](size_t i) { return (i % slices) * slice; };
  auto slice_heads = [&](size_t i) { return std::min(slice, c_.n_kv_heads - slice_head(i)); };
  auto offset = [&](size_t i) { return (i / slices) * q_width + slice_head(i) * group * head_dim; };
  // Run k of item i covers [run_begin(i, k), run_begin(i, k + 1)) clipped to what it sees.
  auto first_run = [&](size_t i) { return first_position(l, rows[i / slices]) / kAttentionRun; };
  auto runs = [&](size_t i) { return rows[i / slices].pos / kAttentionRun + 1 - first_run(i); };
  auto run = [&](size_t i, size_t k, float* results, float* scores) {
    const Row& row = rows[i / slices];
    const size_t first = first_position(l, row), j = first_run(i) + k;
    const size_t begin = std::max(first, j * kAttentionRun);
    const size_t end = std::min(row.pos + 1, (j + 1) * kAttentionRun);
    attend_run(l, row, slice_head(i), slice_heads(i), bq_.data() + offset(i), begin, end, results,
               scores, decode_row(rows, n, i / slices));
  };
  // Head h of item i from its runs' results, run_stride apart.
  auto merge = [&](size_t i, const float* results, size_t n_runs, size_t run_stride) {
    for (size_t h = 0; h < slice_heads(i); ++h) {
      merge_runs(results + h * rf, n_runs, run_stride,
                 batt_.data() + offset(i) + h * group * head_dim);
    }
  };
  if (items >= kItemsPerThread * threads || threads == 1) {
    // Enough items to go round: each chunk attends whole items, every chunks-th one (later
    // tokens attend over more positions, striding keeps the shares even); kStepChunksPerThread
    // chunks a thread, claimed one at a time, so a preempted thread holds up only its chunk.
    const size_t chunks = std::min(threads == 1 ? 1 : threads * kStepChunksPerThread, items);
    const size_t per_thread = scores_size + line_floats(attn_max_runs_ * slice * rf);
    float* const scratch = line_start(attn_scratch_);
    pool_.parallel_for(chunks, [&](size_t c) {
      float* scores = scratch + c * per_thread;
      float* results = scores + scores_size;
      for (size_t i = c; i < items; i += chunks) {
        const size_t k_runs = runs(i);
        for (size_t k = 0; k < k_runs; ++k) run(i, k, results + k * slice * rf, scores);
        merge(i, results, k_runs, slice * rf);
      }
    });
    return;
  }
  // Few items (a decode step): every run of an item is a unit of work, claimed one at a time.
  // Whole items would leave threads idle: a 360M decode step's 5 KV heads went 3 and 2 to the
  // two threads (its attention took 5% longer than in runs, alternated in one process).
  attn_pair_units_.assign(items + 1, 0);
  for (size_t i = 0; i < items; ++i) attn_pair_units_[i + 1] = attn_pair_units_[i] + runs(i);
  const size_t units = attn_pair_units_[items], unit_results = slice * rf;
  const size_t scores_at = line_floats(units * unit_results);
  if (attn_units_.size() < scores_at + units * scores_size + kLineFloats) {
    attn_units_.resize(scores_at + units * scores_size + kLineFloats);
  }
  float* const unit_scratch = line_start(attn_units_);
  pool_.parallel_for(units, [&](size_t u) {
    size_t i = 0;
    while (attn_pair_units_[i + 1] <= u) ++i;
    run(i, u - attn_pair_units_[i], unit_scratch + u * unit_results,
        unit_scratch + scores_at + u * scores_size);
  });
  for (size_t i = 0; i < items; ++i) {
    merge(i, unit_scratch + attn_pair_units_[i] * unit_results,
          attn_pair_units_[i + 1] - attn_pair_units_[i], unit_results);
  }
}

std::span<const float> LlamaCpu::forward(TokenId token, size_t pos) {
  return forward_batch(std::span(&token, 1), pos);
}

std::span<const float> LlamaCpu::forward_batch(std::span<const TokenId> tokens, size_t start_pos) {
  if (!own_cache_) throw EngineError("forward needs a LlamaCpu with its own KV cache");
  if (tokens.empty()) throw EngineError("forward_batch: no tokens");
  if (start_pos + tokens.size() > max_positions_) throw EngineError("position past the KV cache");
  const BatchSequence seq{tokens, start_pos, &own_seq_, true};
  auto logits = forward_step(std::span(&seq, 1));
  own_seq_.length = std::max(own_seq_.length, start_pos + tokens.size());
  return logits;
}

std::span<const float> LlamaCpu::forward_step(std::span<const BatchSequence> batch) {
  if (batch.empty()) throw EngineError("forward_step: no sequences");
  // Everything is checked before the cache is touched.
  rows_.clear();
  logit_rows_.clear();
  size_t span = 0;
  for (const BatchSequence& s : batch) {
    if (s.tokens.empty()) throw EngineError("forward_step: a sequence without tokens");
    if (s.kv == nullptr) throw EngineError("forward_step: a sequence without KV blocks");
    const size_t end = s.start_pos + s.tokens.size();
    if (end > s.kv->blocks.size() * cache_.block_tokens()) {
      throw EngineError("forward_step: positions past the sequence's reserved KV blocks");
    }
    // Published blocks may be shared with other sequences: never written again.
    if (s.start_pos < s.kv->published * cache_.block_tokens()) {
      throw EngineError("forward_step: positions inside the sequence's published KV blocks");
    }
    for (size_t i = 0; i < s.tokens.size(); ++i) {
      const TokenId token = s.tokens[i];
      if (token < 0 || static_cast<uint32_t>(token) >= c_.n_vocab) {
        throw EngineError("token id " + std::to_string(token) + " outside the vocabulary");
      }
      rows_.push_back({s.kv, s.start_pos + i, token});
    }
    if (s.want_logits) logit_rows_.push_back(rows_.size() - 1);
    span = std::max(span, end);
  }
  reserve_attention(span);

  const size_t dim = c_.dim, n_logits = logit_rows_.size();
  final_.resize(n_logits * dim);
  size_t next_logit = 0;
  for (size_t begin = 0; begin < rows_.size(); begin += max_step_tokens_) {
    const size_t n = std::min(max_step_tokens_, rows_.size() - begin);
    forward_rows(begin, n);
    // Final states of this chunk's logit rows, before the next chunk overwrites bx_.
    ProfileScope scope(profile_, ForwardProfile::output_norm);
    for (; next_logit < n_logits && logit_rows_[next_logit] < begin + n; ++next_logit) {
      rms_norm(final_.data() + next_logit * dim,
               bx_.data() + (logit_rows_[next_logit] - begin) * dim, output_norm_.data(), dim,
               c_.rms_eps);
    }
  }
  if (n_logits == 0) return {};
  ProfileScope scope(profile_, ForwardProfile::lm_head);
  logits_.resize(n_logits * c_.n_vocab);
  project_step(output_, final_.data(), n_logits, logits_.data());
  if (c_.final_softcap > 0) {
    for (float& l : logits_) l = c_.final_softcap * std::tanh(l / c_.final_softcap);
  }
  return logits_;
}

// One chunk of rows through every layer, the steps of the reference pass per token: the
// projections as one matmul over the chunk, attention per token over its own sequence.
void LlamaCpu::for_rows(size_t n, const std::function<void(size_t)>& fn) {
  const size_t chunks = std::min(pool_.size(), n);
  if (chunks <= 1) {
    for (size_t t = 0; t < n; ++t) fn(t);
    return;
  }
  pool_.parallel_for(chunks, [&](size_t i) {
    for (size_t t = n * i / chunks; t < n * (i + 1) / chunks; ++t) fn(t);
  });
}

void LlamaCpu::forward_rows(size_t begin, size_t n) {
  const Row* rows = rows_.data() + begin;
  const size_t dim = c_.dim, head_dim = c_.head_dim, half = c_.rope_dim / 2;
  const size_t q_width = size_t{c_.n_heads} * head_dim;
  const size_t kv_width = size_t{c_.n_kv_heads} * head_dim;
  using P = ForwardProfile;
  std::optional<ProfileScope> scope(std::in_place, profile_, P::embed);
  for_rows(n, [&](size_t t) {
    embed(rows[t].token, bx_.data() + t * dim);
    rope_angles(inv_freq_, rows[t].pos, rope_cos_.data() + t * half, rope_sin_.data() + t * half);
    if (any_sliding_) {
      rope_angles(inv_freq_swa_, rows[t].pos, rope_cos_swa_.data() + t * half,
                  rope_sin_swa_.data() + t * half);
    }
  });

  const size_t first_layer =
      offload_ ? offload_(std::span(rows, n), cache_.block_tokens(), bx_.data()) : 0;
  // Batched steps (n > 1) quantize a matmul's activations in the per-row step that writes them
  // (the norms), one pool call fewer each, and run a layer's closing residual add and the next
  // layer's attention norm in one call: three pool barriers fewer per layer. Each row's values
  // are computed as apart, so nothing changes but the barriers.
  const bool fuse = n > 1;
  // Starts a batched matmul of x's n rows by `w`'s type; quantize_row(t) then does row t.
  auto prepare = [&](const kernels::MatrixView& w, const float* x) {
    kernels::prepare_batch(w, x, n, batch_);
  };
  auto quantize_row = [&](const kernels::MatrixView& w, size_t t) {
    kernels::quantize_batch(w, batch_, t, t + 1);
  };
  bool attn_normed = false;  // bxb_ holds layer l's attention norm (and batch_ its activations)
  for (size_t l = first_layer; l < c_.n_layers; ++l) {
    const Layer& lw = layers_[l];
    const Product qkv[] = {{&lw.wq, bq_.data()}, {&lw.wk, bk_.data()}, {&lw.wv, bv_.data()}};
    if (!attn_normed) {
      scope.emplace(profile_, P::attn_norm);
      if (fuse) prepare(lw.wq, bxb_.data());
      for_rows(n, [&](size_t t) {
        rms_norm(bxb_.data() + t * dim, bx_.data() + t * dim, lw.attn_norm.data(), dim, c_.rms_eps);
        if (fuse) quantize_row(lw.wq, t);
      });
    }
    scope.emplace(profile_, P::qkv);
    const KvPrefetch kv{l, rows, n};
    if (n == 1) {
      matvecs(qkv, bxb_.data(), &kv);
    } else {
      matmuls(qkv, bxb_.data(), n, /*quantized=*/true, &kv);
    }
    const bool sliding = c_.is_sliding(l);
    const float* cos = (sliding ? rope_cos_swa_ : rope_cos_).data();
    const float* sin = (sliding ? rope_sin_swa_ : rope_sin_).data();
    // Rows write their own keys and values: distinct positions, so in parallel.
    scope.emplace(profile_, P::rope_store);
    for_rows(n, [&](size_t t) {
      float* q = bq_.data() + t * q_width;
      float* k = bk_.data() + t * kv_width;
      float* v = bv_.data() + t * kv_width;
      add_bias(q, lw.bq);
      add_bias(k, lw.bk);
      add_bias(v, lw.bv);
      if (c_.qk_norm) {
        for (size_t h = 0; h < c_.n_heads; ++h) {
          rms_norm(q + h * head_dim, q + h * head_dim, lw.q_norm.data(), head_dim, c_.rms_eps);
        }
        for (size_t h = 0; h < c_.n_kv_heads; ++h) {
          rms_norm(k + h * head_dim, k + h * head_dim, lw.k_norm.data(), head_dim, c_.rms_eps);
        }
      }
      rope(q, c_.n_heads, cos + t * half, sin + t * half);
      rope(k, c_.n_kv_heads, cos + t * half, sin + t * half);
      store_kv(l, rows[t], k, v);
    });
    // A token reads its sequence's cache up to its own position only, so every token's keys
    // and values are stored first and then attended in parallel.
    scope.emplace(profile_, P::attention);
    attention(l, rows, n);
    scope.emplace(profile_, P::attn_out);
    project_step(lw.wo, batt_.data(), n, bxb_.data());
    scope.emplace(profile_, P::ffn_norm);
    if (fuse) prepare(lw.w_gate, bxb_.data());
    for_rows(n, [&](size_t t) {
      float* x = bx_.data() + t * dim;
      float* xb = bxb_.data() + t * dim;
      if (c_.post_norms) rms_norm(xb, xb, lw.attn_post_norm.data(), dim, c_.rms_eps);
      for (size_t i = 0; i < dim; ++i) x[i] += xb[i];
      rms_norm(xb, x, lw.ffn_norm.data(), dim, c_.rms_eps);
      if (fuse) quantize_row(lw.w_gate, t);
    });
    scope.emplace(profile_, P::gate_up);
    if (n == 1) {
      matvec_gate_up(lw, bxb_.data());  // the activation included, per thread
    } else {
      matmul_gate_up(lw, bxb_.data(), n, /*quantized=*/true);  // the activation per chunk
    }
    scope.emplace(profile_, P::ffn_down);
    project_step(lw.w_down, bgate_.data(), n, bxb_.data());
    scope.emplace(profile_, P::ffn_residual);
    const Layer* next = fuse && l + 1 < c_.n_layers ? &layers_[l + 1] : nullptr;
    if (next != nullptr) prepare(next->wq, bxb_.data());
    for_rows(n, [&](size_t t) {
      float* x = bx_.data() + t * dim;
      float* xb = bxb_.data() + t * dim;
      if (c_.post_norms) rms_norm(xb, xb, lw.ffn_post_norm.data(), dim, c_.rms_eps);
      for (size_t i = 0; i < dim; ++i) x[i] += xb[i];
      if (next == nullptr) return;
      rms_norm(xb, x, next->attn_norm.data(), dim, c_.rms_eps);
      quantize_row(next->wq, t);
    });
    attn_normed = next != nullptr;
  }
}

}  // namespace sy::engine
