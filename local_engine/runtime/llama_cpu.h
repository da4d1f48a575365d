#pragma once
// The CPU forward pass of the Llama family and its relatives: the same computation as
// reference/llama_reference (every architecture of model/architecture.h), but over the weights
// of the GGUF file (Q8_0, Q4_0 and Q4_K matrices regrouped at load into 16-row groups for the
// row-group kernels, kernels/cpu/row_groups.h; the other types copied as they are; both into
// 2 MiB pages where the kernel gives them, each copy replacing the mapped file's pages in
// memory) with the cpuid-selected kernels, and a
// paged KV cache (KvCache) in F16 by default (F32 on request, for tests). Matrix rows are split
// across a thread pool; every row is computed the same way whatever the thread count or the
// other tokens of the step, so results depend on neither.
//
// One mechanism: forward and forward_batch run forward_step on one sequence whose blocks live
// in a private KvCache. Not thread-safe; one caller at a time.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matvec.h"
#include "kernels/cpu/side_prefetch.h"
#include "runtime/kv_cache.h"
#include "runtime/thread_pool.h"
#include "switchyard/local_engine/model.h"

namespace sy::engine {

// One sequence's share of a batched step (forward_step).
struct BatchSequence {
  std::span<const TokenId> tokens;  // run at positions start_pos .. start_pos + tokens.size() - 1
  size_t start_pos = 0;             // positions below it are in `kv` already
  const KvSequence* kv = nullptr;   // blocks reserved for every position the tokens reach
  bool want_logits = false;         // the logits after its last token
};

// Wall time of each kind of step of the forward pass, summed over calls (profiling:
// bench/engine/decode_profile). A pool op's time includes dispatching it and waiting for the
// slowest thread.
struct ForwardProfile {
  enum Op : size_t {
    embed,         // token embedding rows and RoPE angles
    attn_norm,     // RMS norm before attention
    qkv,           // the Q, K, V projections (with their activation quantization)
    rope_store,    // biases, QK-norm, RoPE, keys and values into the cache
    attention,     // scores, softmax and the weighted sum over the cache
    attn_out,      // the output projection
    ffn_norm,      // residual add and the RMS norm before the FFN
    gate_up,       // the gate and up projections (in decode, the activation too)
    activation,    // SiLU/GELU times up
    ffn_down,      // the down projection
    ffn_residual,  // residual add after the FFN (batched steps: and the next layer's attn_norm)
    output_norm,   // the final RMS norm
    lm_head,       // the output projection over the vocabulary (and the final soft-cap)
    kOps
  };
  static constexpr std::array<const char*, kOps> kNames{
      "embed",   "attn_norm",  "qkv",      "rope_store",   "attention",   "attn_out", "ffn_norm",
      "gate_up", "activation", "ffn_down", "ffn_residual", "output_norm", "lm_head"};
  std::array<double, kOps> seconds{};
  std::array<uint64_t, kOps> calls{};
  ThreadPool::Stats pool;  // parallel_for calls, and the caller's wait for the workers in them
  // Of seconds[op]: the caller's wait for the workers (pool.wait_seconds) in that op's calls,
  // i.e. what the op's barriers cost the caller once it had run out of work.
  std::array<double, kOps> wait{};
};

class LlamaCpu {
 public:
  // `model` must come from a GGUF file and outlive this object. Throws EngineError otherwise.
  // `threads` counts the caller; 0 means one per hardware thread.
  LlamaCpu(const Model& model, size_t max_positions, size_t threads = 1,
           KvCacheType kv_type = KvCacheType::f16);

  // Serving: the sequences' keys and values live in `cache` (which must outlive this object and
  // match the model, else EngineError); `max_step_tokens` bounds the rows that go through the
  // layers at once (the step buffers): a larger step runs in chunks of that many, same results.
  // forward and forward_batch throw EngineError on an object made this way.
  LlamaCpu(const Model& model, KvCache& cache, size_t max_step_tokens, size_t threads = 1);

  // Runs every sequence's tokens in one pass: each weight matrix is read once per chunk of the
  // step's tokens (all sequences together), attention runs per token over its own sequence's
  // blocks. Stores the keys and values of every token; the caller then advances each kv->length.
  // Returns (sequences with want_logits, n_vocab) logits in batch order. A token's logits are
  // bit-identical whatever else is in the batch (batch-invariant kernels). Each sequence's tokens
  // are its own, in position order, one BatchSequence per KvSequence. Throws EngineError, before
  // touching the cache, for an empty batch or sequence, a token outside the vocabulary, or
  // positions past the reserved blocks or inside published (shareable) ones. The span lives
  // until the next call.
  std::span<const float> forward_step(std::span<const BatchSequence> batch);

  // Same contract as LlamaReference::forward.
  std::span<const float> forward(TokenId token, size_t pos);

  // Prompt processing: runs tokens[i] at position start_pos + i for every i (positions before
  // start_pos must already be in the cache) and returns the logits after the last token, the
  // same values as calling forward on each token in turn. Tokens go through each layer in
  // chunks of at most kPrefillChunk, so every weight matrix is read once per chunk (batched
  // matmul) rather than once per token; attention stays per token over the cache (causal).
  std::span<const float> forward_batch(std::span<const TokenId> tokens, size_t start_pos);

  // The memory-bandwidth ceiling of a decode step where this pass's weights lie: bytes per
  // second of a plain read (the kernel set's read_lines, the loop of bench/engine's probe) of
  // every matrix a step reads, each byte once, the pool's threads a contiguous share each, the
  // median of `passes` passes. A VM's memory need not
  // read at one speed (on the machines here some regions of a large buffer read at ~50 GB/s and
  // others at ~90), so a probe of another buffer can be far from what the pass meets.
  double weights_read_bytes_per_second(size_t passes);

  // The pass's threads, idle between calls: the serving engine runs its per-sequence work
  // (sampling) on them. Not while a forward call runs.
  ThreadPool& pool() { return pool_; }

  // Starts (or, with nullptr, stops) adding each step's wall time to `profile`, which must
  // outlive its use. Off by default: then the pass reads no clock.
  void set_profile(ForwardProfile* profile) {
    profile_ = profile;
    pool_.set_stats(profile ? &profile->pool : nullptr);
  }

  // Bounds the chunk scratch: (kPrefillChunk, ffn_dim) floats for each FFN buffer.
  static constexpr size_t kPrefillChunk = 128;

  // One token of a step, at its position in its sequence.
  struct Row {
    const KvSequence* kv;
    size_t pos;
    TokenId token;
  };
  // Partial offload (`--gpu-layers`, runtime/llama_cuda): called for every chunk of a step with
  // its rows, the cache's block size and their embeddings x (rows, dim), which it replaces by the
  // hidden states after the leading layers it ran (keeping those layers' keys and values itself);
  // returns how many it ran, and this pass runs the rest. Errors propagate as EngineError.
  using LayerOffload = std::function<size_t(std::span<const Row>, size_t block_tokens, float* x)>;
  void set_layer_offload(LayerOffload offload) { offload_ = std::move(offload); }

  // The KV lines a projection asks for beside its weights (kernels/cpu/side_prefetch.h): layer
  // `layer`'s cached keys and values that the decode rows among rows[0, n) will attend, i.e. a
  // sequence's lone row in the step (decode_row), whose positions were written steps ago. The
  // Q/K/V projection runs right before attention and takes them: a decode row's keys and values
  // of one layer lie in pieces of one block's rows (16 positions in serving, 64 in the
  // single-sequence pass), too short for the hardware prefetchers, so attention read them at
  // 7-10 GB/s a thread (engine_attention_bench --weights-mb 140 --prefetch 0|2, 576 positions:
  // 1.73 -> 0.44 ms a token). Measured alternated at 2 threads (bench/RESULTS.md, stop 22):
  // engine_decode_profile, 512-token prompt, Q/K/V + attention 0.76 -> 0.69 ms a token for
  // SmolLM2-135M Q4_0, 1.07 -> 0.93 for Q8_0; bench_engine_step, 135M Q8_0, 16 streams, 64-token
  // prompts, the step 9.0 -> 8.3 ms; 360M Q8_0 the same, Q/K/V + attention 5.5-6.0 -> 4.3-6.0.
  // Only where a block's piece of a layer (block_tokens x the KV row) is at most
  // kKvPrefetchPieceBytes: longer pieces the hardware prefetchers stream well enough that the
  // lines asked for during the projection only add to its memory traffic (SmolLM2-1.7B, 32 KV
  // heads, 256 KB pieces: Q/K/V 2.4-3.9 -> 5.0-6.2 ms a token, attention 2.8-3.1 -> 1.6-2.4, the
  // token 0.8-2.7 ms slower; 360M's 40 KB pieces in the single-sequence pass: even).
  static constexpr size_t kKvPrefetchPieceBytes = 32 << 10;
  struct KvPrefetch {
    size_t layer;
    const Row* rows;
    size_t n;
  };
  // Whether rows[r] is its sequence's only row among rows[0, n) (a step's rows are grouped by
  // sequence): a decode step's row, attending positions written before (in earlier steps, or,
  // for a prefill row that a step's chunking left alone, in earlier chunks of this step).
  static bool decode_row(const Row* rows, size_t n, size_t r);
  // Share `part` of `parts` (by position, over the decode rows in order) of kv's lines into
  // `side` (cleared first); nothing unless the cache is F16 and its pieces are short (above).
  void plan_kv_prefetch(const KvPrefetch& kv, size_t part, size_t parts,
                        kernels::SidePrefetch& side) const;

 private:
  struct Layer {
    kernels::MatrixView wq, wk, wv, wo, w_gate, w_up, w_down;
    // Small tensors, kept as F32 copies; the optional ones are empty when absent.
    std::vector<float> attn_norm, ffn_norm;            // (dim)
    std::vector<float> bq, bk, bv;                     // (q width), (kv width), (kv width)
    std::vector<float> q_norm, k_norm;                 // (head_dim)
    std::vector<float> attn_post_norm, ffn_post_norm;  // (dim)
  };
  // The weights and step buffers; both constructors end here.
  void init();
  // Regroups every Q8_0 / Q4_0 matrix the pass multiplies (the tied embedding too: embed reads
  // its rows back from the groups), and copies the others of a mapped file as they are, into
  // anonymous memory in huge pages, a chunk at a time, dropping each
  // chunk's pages of the file mapping as soon as it is copied: the copy replaces the file's
  // pages, so peak RSS stays the file's size plus one chunk. The file itself is untouched (a
  // dropped page reads back from it), so the GGUF writer and the CUDA path see the original.
  void group_weights();
  // Every matrix a step reads: each layer's seven, then the output projection.
  std::vector<kernels::MatrixView*> step_matrices();
  kernels::MatrixView view(std::string_view name, size_t rows, size_t cols) const;
  std::vector<float> vector_f32(std::string_view name, size_t n) const;
  void matvec(const kernels::MatrixView& w, const float* x, float* out);
  // out (n, w.rows) = x (n, w.cols) times W^T, rows split across the pool.
  void matmul(const kernels::MatrixView& w, const float* x, size_t n, float* out);
  // matvec for one row (the decode path), matmul otherwise: the same values either way.
  void project(const kernels::MatrixView& w, const float* x, size_t n, float* out);
  // Decode: out_i = W_i x for several matrices of one input (Q, K, V) in one pool call, the
  // concatenated rows split in contiguous shares and the activations quantized once per format,
  // so the threads meet at one barrier instead of one per matrix. Same values as matvec.
  struct Product {
    const kernels::MatrixView* w;
    float* out;
  };
  // Chunk i of `chunks` (rows [begin, end) of the products end to end): side_prefetch_[i]
  // planned with its share of kv's lines and paced over the chunk's weight blocks, or nullptr
  // without kv or lines.
  kernels::SidePrefetch* kv_prefetch_share(const KvPrefetch* kv, std::span<const Product> products,
                                           size_t begin, size_t end, size_t i, size_t chunks);
  // `kv` (or nullptr): each chunk asks for its share of those lines, paced over its weight blocks.
  void matvecs(std::span<const Product> products, const float* x, const KvPrefetch* kv = nullptr);
  // Decode: gate = act(W_gate x) * (W_up x) (ffn) in one pool call, each thread applying the
  // activation to the rows it just computed. Same values as the two matvecs and the activation.
  void matvec_gate_up(const Layer& lw, const float* x);
  // Batched steps (n > 1 rows): out_i (n, w_i.rows) = x (n, cols) times W_i^T for matrices of
  // one input (Q, K, V; or one matrix), the activations quantized once for all of them and the
  // matrices' rows laid end to end in row-group chunks, kStepChunksPerThread per thread, claimed
  // one at a time: a thread the scheduler preempts holds up only the chunk it is in, the others
  // take the rest. Products whose weights quantize the activations differently run one by one.
  // Same values as matmul (every output row is computed the same way). `quantized`: batch_
  // already holds x's activations for products[0]'s type (prepared and quantized row by row by
  // the caller's per-row step); ignored where the products do not share activations
  // (shares_activations), which quantize their own.
  static constexpr size_t kStepChunksPerThread = 4;
  void matmuls(std::span<const Product> products, const float* x, size_t n, bool quantized = false,
               const KvPrefetch* kv = nullptr);
  static bool shares_activations(std::span<const Product> products);
  // Batched steps: bgate_ (n, ffn) = act(x W_gate^T) * (x W_up^T) in one pool call over row
  // chunks of both matrices, each chunk applying the activation to the rows it just computed
  // for every token. Same values as the two matmuls and the activation. `quantized` as for
  // matmuls (for w_gate's type).
  void matmul_gate_up(const Layer& lw, const float* x, size_t n, bool quantized = false);
  // matvec for one row, matmuls of the one matrix otherwise: the same values either way.
  void project_step(const kernels::MatrixView& w, const float* x, size_t n, float* out);
  // act(gate[i]) * up[i] for i in [begin, end): SiLU or GELU-tanh, as the reference.
  void activate(float* gate, const float* up, size_t begin, size_t end) const;
  // fn(t) for every t in [0, n), contiguous shares of the rows across the pool (in the caller
  // for one row): for the per-row steps, whose values do not depend on the thread.
  void for_rows(size_t n, const std::function<void(size_t)>& fn);
  // Runs rows_[begin, begin + n) through every layer; leaves their final hidden states in
  // bx_ (n, dim).
  void forward_rows(size_t begin, size_t n);
  void embed(TokenId token, float* out) const;
  // cos/sin (rope_dim / 2) of `pos` times `inv_freq`.
  void rope_angles(const std::vector<float>& inv_freq, size_t pos, float* cos, float* sin) const;
  void rope(float* v, size_t n_heads, const float* cos, const float* sin) const;
  // Stores k, v (kv width each) of `row` in its block for layer l.
  void store_kv(size_t layer, const Row& row, const float* k, const float* v);
  // Attention (softmax(q.K^T * scale) V for the query heads of one KV head) runs over runs of
  // positions [j * kAttentionRun, (j + 1) * kAttentionRun) clipped to what the token sees, and
  // then merges the runs in position order. The runs depend on the position only, never on the
  // batch or the thread count, so neither changes a result; in a step with few tokens (decode)
  // the runs are what the threads share.
  static constexpr size_t kAttentionRun = 64;
  // attention() attends whole items (a token's slice of KV heads) from this many a thread, and
  // run by run below it (kAttentionRun positions of an item each).
  static constexpr size_t kItemsPerThread = 4;
  // A run is attended for a slice of consecutive KV heads of a token at once: all of them when
  // there are kSideBySideHeads or more, read 16 rows at a time, every head on those rows before
  // the next 16, i.e. the cache in address order, which the hardware prefetchers stream. Head by
  // head, each head's rows are one head_dim slice per kv_width row, one per 4 KiB page at 32 heads;
  // half rows (slices of 16) are no better (engine_attention_bench, 1 thread, 576 positions,
  // SmolLM2-1.7B's 32 KV heads, one loaded session: head by head 28.4 ms a token, whole rows
  // 16.1; slices of 16 heads 34.8 against 32.2 head by head).
  // With fewer heads a slice is one head, over a block's run in one kernel call. Whole rows
  // for a decode step's runs (3 KV heads, SmolLM2-135M Q4_0, 512 + 64 tokens) were tried and
  // measured slower: 1 thread 4.41-4.58 CPU ms a token against 3.94-4.07 head by head,
  // engine_attention_bench with 76 MB of distinct weights between layers 1.99 against 1.55
  // ms (with the 16-row side-by-side scores, which are as fast as head by head from cache:
  // 0.35 against 0.33 ms); at 2 threads on a loaded machine no better.
  // Those runs were a decode step's over the single-sequence pass's 64-position blocks. A
  // token's slice is every head, whatever their number, in two more cases, each run then one
  // pass over its blocks' rows instead of one pass per head:
  // - a step of many tokens (serving's batches, prefill), with whole tokens enough to go round
  //   (kItemsPerThread a thread): bench_engine_step, 135M Q8_0, 16 streams, 2 threads,
  //   alternated 3 rounds: attention 2.30 -> 2.19 ms a step at 64-token prompts, 14.0 -> 12.9
  //   at 448;
  // - a cache whose blocks are shorter than a run (serving's 16 positions), where a run's pieces
  //   lie far apart and attend_run prefetches the next one: the same bench at 2 and 4 streams,
  //   attention -15 to -35% (2 streams, 448-token prompts: 2.14-2.35 -> 1.45-1.51 ms), even at 1.
  static constexpr size_t kSideBySideHeads = 8;
  // Heads a slice takes in a step of `tokens` tokens: n_kv_heads or 1, as above.
  size_t attention_slice(size_t tokens) const;
  // Floats of one run's result for one KV head: (group, head_dim) sums of p * v with
  // p = exp(score - max), then (group) maxima, then (group) sums of p.
  size_t run_floats() const;
  // The first position row's token sees in layer l.
  size_t first_position(size_t layer, const Row& row) const;
  // One run, positions [begin, end) of row's sequence, for KV heads [head, head + n_heads)
  // (their query heads at q, consecutive): writes head h's result (run_floats()) to
  // results + (h - head) * run_floats(); scores (n_heads * group, kAttentionRun) is the caller's
  // scratch. Reads only the cache, so threads may attend at once. `cold`: the positions were
  // written steps ago (row is its sequence's only row in the step), so out of the caches.
  void attend_run(size_t layer, const Row& row, size_t head, size_t n_heads, const float* q,
                  size_t begin, size_t end, float* results, float* scores, bool cold) const;
  // out (group * head_dim) from n_runs run results in position order, run_stride floats apart.
  void merge_runs(const float* results, size_t n_runs, size_t run_stride, float* out) const;
  // All of one layer's attention for the n rows of the chunk (bq_ -> batt_).
  void attention(size_t layer, const Row* rows, size_t n);
  // Sizes the attention scratch for spans of up to `positions` positions.
  void reserve_attention(size_t positions);

  const Model& model_;
  const ModelConfig& c_;
  const kernels::CpuKernels& kernels_;
  ThreadPool pool_;
  kernels::MatvecScratch scratch_;      // the current matvec's activations, shared by the threads
  std::unique_ptr<KvCache> own_cache_;  // the single-sequence constructor's
  KvCache& cache_;
  KvSequence own_seq_;        // forward / forward_batch's sequence: every position reserved
  size_t max_positions_ = 0;  // of own_seq_; 0 in serving mode
  size_t max_step_tokens_;    // rows of the step buffers
  kernels::MatrixView token_embd_;
  kernels::MatrixView output_;
  std::vector<Layer> layers_;
  std::vector<float> output_norm_;   // (dim)
  std::vector<float> inv_freq_;      // (rope_dim / 2) global layers, scaling folded in
  std::vector<float> inv_freq_swa_;  // (rope_dim / 2) sliding-window layers
  bool any_sliding_ = false;
  std::vector<Row> rows_;           // (step tokens) the current step, sequence by sequence
  std::vector<size_t> logit_rows_;  // indices into rows_ of the tokens that want logits
  // (max_step_tokens, rope_dim / 2) each: the chunk's RoPE angles, global and sliding layers.
  std::vector<float> rope_cos_, rope_sin_, rope_cos_swa_, rope_sin_swa_;
  // (max_step_tokens, width) each: the chunk's activations.
  std::vector<float> bx_, bxb_, bq_, bk_, bv_, batt_, bgate_, bup_;
  std::vector<float> final_;   // (logit rows, dim) normalized final hidden states
  std::vector<float> logits_;  // (logit rows, n_vocab)
  size_t attn_max_runs_ = 0;   // runs one token may need
  // (chunks, slice * group * kAttentionRun scores + attn_max_runs_ * slice * run_floats()
  // results, rounded up to a cache line), slice being n_kv_heads (the widest), from the first
  // line-aligned float: scores and results of the (token, slice) items a chunk attends whole
  // (pool threads x kStepChunksPerThread chunks, 1 on one thread).
  std::vector<float> attn_scratch_;
  // Decode-sized steps, where every (item, run) is its own unit of work, from the first
  // line-aligned float: (units, slice * run_floats()) results, then from the next cache line
  // (units, slice * group * kAttentionRun) scores; and the first unit of each item (items + 1).
  std::vector<float> attn_units_;
  std::vector<size_t> attn_pair_units_;
  std::vector<kernels::SidePrefetch> side_prefetch_;  // one per chunk of a projection's pool call
  kernels::ActivationBatch batch_;              // the quantized activations of the current matmul
  std::vector<std::shared_ptr<void>> grouped_;  // the copied matrices' memory (munmap)
  LayerOffload offload_;                        // empty: every layer here
  ForwardProfile* profile_ = nullptr;
};

}  // namespace sy::engine
