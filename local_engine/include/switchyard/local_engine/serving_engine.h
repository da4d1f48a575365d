#pragma once
// Serves many generation requests at once from one copy of a model's weights: continuous
// batching (sequences join and leave the running batch between steps; each step runs the
// decode token of every running sequence plus chunks of waiting prompts, in one weight pass),
// a paged KV cache shared by every sequence with a prefix cache, priorities, deadlines and
// cancellation.
//
// Threading: submit(), cancel() and stats() may be called from any thread. Callbacks run on the
// engine's step thread, one sequence's in order; they must be quick (hand the data to another
// executor) and may call cancel() but not submit(). Destroying the engine ends every sequence
// with SequenceEnd::cancelled and joins the step thread.
//
// When the KV pool runs out, the most recently admitted sequence (bulk first) is preempted: it
// gives back its blocks, waits at the front of its queue and is recomputed when readmitted. Its
// callbacks see nothing of it but a longer pause; the tokens are those it would have produced.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/sampler.h"
#include "switchyard/local_engine/token_constraint.h"

namespace sy::engine {

enum class Priority : uint8_t { interactive, bulk };

struct ServingOptions {
  size_t kv_budget_bytes = 256u << 20;  // the paged KV cache (F16), all sequences together
  size_t block_tokens = 16;             // positions per KV block
  size_t max_running = 64;              // sequences in the batch at once
  size_t max_step_tokens = 256;         // decode tokens + prefill chunk tokens per step
  // Flat inter-token latency. A step costs about one pass over the weights plus a share per
  // token, so a prefill chunk beside decoding sequences would stall them for many decode
  // steps' worth. While sequences are generating, a step's prefill tokens are capped at
  // prefill_ratio * (running sequences + weight_pass_tokens), which keeps it within about
  // 1 + prefill_ratio times the decode step of the whole batch, every running sequence
  // decoding (weight_pass_tokens: the tokens whose compute costs about one weight pass; at
  // least one prefill token per step, so prompts always progress). While none is generating
  // yet, prompts prefill at the full step budget and start together once the rest fit in one
  // step; an idle engine lets a burst of submissions in together for that (gather_quiet). 0
  // turns the cap and the holding off (prefill fills the step budget).
  double prefill_ratio = 0.5;
  size_t weight_pass_tokens = 8;
  // An idle engine that gets a submission waits until submissions pause for gather_quiet (at
  // most gather_max in all) before its first step, so that a burst of concurrent requests is
  // admitted together and starts generating in one step. Over HTTP a burst reaches the engine
  // spread by the gateway's per-request work (1 to 4 ms between the first two of 4 streams
  // sent at once, measured on 2 loaded cores); a request that misses the window prefills beside
  // the others' decoding instead, under the cap above, for tens of steps that each cost up to
  // 1 + prefill_ratio decode steps. A lone request pays gather_quiet once, against a first
  // (prefill) step of tens of milliseconds.
  std::chrono::microseconds gather_quiet{3000};
  std::chrono::microseconds gather_max{10000};
  size_t max_waiting = 256;             // queued requests beyond which submit() refuses
  // Out of this many admissions while interactive requests wait, one goes to a waiting bulk
  // request, so bulk work always progresses.
  size_t bulk_share = 4;
  bool prefix_cache = true;
  // Populate the KV budget's memory when the engine starts (KvCacheOptions::prefault): the
  // budget is resident from then on, and no decode step pays the page faults of fresh blocks
  // (64 streams crossing a block boundary together: a step +60-90% every 16th step).
  bool prefault_kv = true;
  // CPU pass threads including the step thread; 0: one per CPU this process may use
  // (usable_cpu_count: its affinity mask).
  size_t threads = 0;
  // Positions a sequence may reach (prompt and generated): 0, or more than the model's
  // context_length, means the model's. A smaller one serves a long-context model from a KV
  // budget that holds only that many positions (the budget must hold one such context).
  size_t max_context = 0;
};

struct TokenLogprob {
  TokenId token = 0;
  std::string text;  // the token's bytes (may be part of a UTF-8 character)
  float logprob = 0;
};

// One generated token of one sequence.
struct GeneratedToken {
  TokenId token = 0;
  // Text released by this token: whole UTF-8 characters that can no longer be part of a stop
  // string. Often empty (held back); held text comes out with a later token or at the end.
  std::string text;
  // The model's log-probability of the token, before sampling transforms, when the request
  // asked (SequenceRequest::logprobs or top_logprobs); else 0.
  float logprob = 0;
  std::vector<TokenLogprob> top;  // the top_logprobs most likely, when asked
  uint64_t step = 0;               // the engine step that produced it (ServingStats::steps)
};

struct SequenceRequest {
  std::vector<TokenId> prompt;  // rendered and tokenized by the caller; not empty
  size_t max_tokens = 256;      // capped by the context left after the prompt
  SamplerOptions sampling;
  std::vector<std::string> stop;  // generation ends before the first; its text is not returned
  bool ignore_eos = false;
  // GeneratedToken::logprob for every token (a log-softmax over the vocabulary, off by default:
  // a 16-stream step would compute 16 of them). top_logprobs > 0 implies it.
  bool logprobs = false;
  size_t top_logprobs = 0;  // 0: no alternatives in GeneratedToken::top
  Priority priority = Priority::interactive;
  // Past it the sequence ends with SequenceEnd::deadline at the next step.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::unique_ptr<TokenConstraint> constraint;  // optional: only tokens it allows are sampled
};

enum class SequenceEnd : uint8_t {
  stop,       // EOS, a stop string, or the constraint's value complete
  length,     // max_tokens or the context reached
  cancelled,  // cancel() or the engine shutting down
  deadline,   // the request's deadline passed
  failed,     // an internal error; the message says what
};

struct SequenceUsage {
  size_t prompt_tokens = 0;
  size_t cached_prompt_tokens = 0;  // of which taken from the prefix cache
  size_t completion_tokens = 0;
  double queue_seconds = 0;          // submit() to the first step that ran it
  double first_token_seconds = 0;    // submit() to the first generated token; 0 if none
};

struct SequenceCallbacks {
  std::function<void(const GeneratedToken& token)> on_token;
  // Exactly once, last. `text` is whatever text was still held back (possibly empty).
  std::function<void(SequenceEnd end, std::string_view text, const SequenceUsage& usage,
                     std::string_view error)>
      on_end;
};

class SequenceHandle {
 public:
  virtual ~SequenceHandle() = default;
  // Idempotent; the sequence's slot and KV blocks are freed at the next step and on_end
  // (cancelled) follows, unless it had already ended.
  virtual void cancel() = 0;
};

struct SubmitRefusal {
  enum class Kind : uint8_t { queue_full, prompt_too_long, invalid, shutting_down } kind;
  std::string message;
  double retry_after_seconds = 0;  // queue_full: a hint from the current drain rate
};

struct ServingStats {
  size_t running = 0;  // sequences in the batch (prefilling or decoding)
  size_t waiting = 0;  // queued for admission
  size_t kv_blocks_total = 0;
  size_t kv_blocks_used = 0;    // referenced by live sequences
  size_t kv_blocks_cached = 0;  // unreferenced, holding published prefixes
  uint64_t prefix_lookup_tokens = 0;
  uint64_t prefix_hit_tokens = 0;
  uint64_t steps = 0;
  uint64_t generated_tokens = 0;
  uint64_t prefill_tokens = 0;  // prompt (and recomputed) positions run, cache hits excluded
  uint64_t preemptions = 0;     // sequences put back in the queue when KV blocks ran out
};

class ServingEngine {
 public:
  // `model` must outlive the engine. Throws EngineError when the KV budget cannot hold one
  // full context (the message gives the bytes needed) or the model cannot run on the CPU pass.
  ServingEngine(const Model& model, ServingOptions options);
  ~ServingEngine();
  ServingEngine(const ServingEngine&) = delete;
  ServingEngine& operator=(const ServingEngine&) = delete;

  // Queues a request. Refuses, without calling a callback, a prompt that leaves no room to
  // generate in the context (prompt_too_long), an empty prompt or a token outside the
  // vocabulary (invalid), a full queue (queue_full), or an engine being destroyed.
  std::expected<std::shared_ptr<SequenceHandle>, SubmitRefusal> submit(SequenceRequest request,
                                                                       SequenceCallbacks callbacks);

  ServingStats stats() const;
  const Model& model() const;
  size_t context_length() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sy::engine
