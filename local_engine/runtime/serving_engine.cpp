#include "switchyard/local_engine/serving_engine.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "runtime/admission_queue.h"
#include "runtime/kv_cache.h"
#include "runtime/llama_cpu.h"
#include "runtime/text_streamer.h"
#include "switchyard/local_engine/engine_error.h"

// One step thread owns the model pass, the KV cache and every admitted sequence; other threads
// only touch the waiting queue and the stats snapshot, under `Signal::mutex`.
//
// A step: end cancelled and expired sequences; admit waiting ones while there are slots and KV
// blocks (keeping one free block per running sequence so that admitting does not immediately
// force a preemption); plan the batch (every decoding sequence's one token first, then chunks of
// prompts still prefilling, oldest first, up to max_step_tokens and the prefill cap that keeps
// inter-token latency flat, see prefill_ratio); reserve the blocks the step
// needs; run one forward_step; sample each sequence that reached the end of its tokens (the
// choices in parallel on the pass's threads, the callbacks in plan order on this thread).
//
// Preemption: when a decoding sequence needs a new block and the pool has none (even after
// evicting cached prefixes), the most recently admitted bulk sequence, else the most recently
// admitted interactive one, gives back all its blocks and returns to the front of its queue. Its
// tokens (prompt and generated so far) are kept; readmitted, it recomputes them as a prompt
// (mostly prefix-cache hits, since its full blocks were published) and continues sampling from
// where it stopped, with the same sampler state, so its output is the same as if it had run on.

namespace sy::engine {
namespace {

using Clock = std::chrono::steady_clock;

// Bounds how long prompts wait for each other to start together (step()): prompts that keep
// arriving cannot hold back the first tokens of those already prefilled.
constexpr size_t kMaxHeldSteps = 32;

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// What a SequenceHandle shares with the engine; it may outlive the engine.
struct Signal {
  std::mutex mutex;
  std::condition_variable wake;
  bool pending = false;  // something for the step thread (a submit or a cancel)
};

class Handle final : public SequenceHandle {
 public:
  explicit Handle(std::shared_ptr<Signal> signal) : signal_(std::move(signal)) {}
  void cancel() override {
    if (cancelled_.exchange(true)) return;
    std::lock_guard lock(signal_->mutex);
    signal_->pending = true;
    signal_->wake.notify_one();
  }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::shared_ptr<Signal> signal_;
  std::atomic<bool> cancelled_{false};
};

struct Sequence {
  Sequence(const Tokenizer& tokenizer, SequenceRequest r, SequenceCallbacks c,
           std::shared_ptr<Handle> h)
      : handle(std::move(h)),
        request(std::move(r)),
        callbacks(std::move(c)),
        tokens(std::move(request.prompt)),
        prompt_tokens(tokens.size()),
        sampler(request.sampling),
        streamer(tokenizer, request.stop),
        submitted(Clock::now()) {
    usage.prompt_tokens = prompt_tokens;
  }

  // Positions still to run before the next sample: 1 while decoding.
  size_t remaining() const { return tokens.size() - kv.length; }

  std::shared_ptr<Handle> handle;
  SequenceRequest request;  // prompt moved into `tokens`
  SequenceCallbacks callbacks;
  std::vector<TokenId> tokens;  // the prompt, then every generated token
  size_t prompt_tokens;
  Sampler sampler;
  TextStreamer streamer;
  KvSequence kv;
  Clock::time_point submitted;
  uint64_t admission = 0;  // order of the last admission, for picking preemption victims
  bool started = false;    // a step has run it
  size_t held_steps = 0;   // steps its last prompt token waited for the others (step())
  bool preempted = false;  // put back in the queue during this step's planning
  SequenceUsage usage;
};

using SequencePtr = std::unique_ptr<Sequence>;

// What an ending sequence still holds back (on_end's text), cut before a stop string.
std::string held_text(Sequence& seq) {
  return seq.streamer.stopped() ? std::string() : std::string(seq.streamer.finish());
}

// A finished sequence waiting for its on_end call at the end of the step.
struct Ending {
  SequencePtr seq;
  SequenceEnd end;
  std::string text;
  std::string error;
};

// One sequence's choice of its next token from this step's logits: what choose() finds, before
// deliver() acts on it (callbacks, stop checks). choose() of distinct unconstrained sequences
// runs in parallel; the rest of a step stays on the step thread.
struct Draw {
  Sequence* seq = nullptr;
  std::span<const float> logits;  // (n_vocab) the sequence's row of the step's logits
  bool ready = false;             // choose() ran
  TokenId token = 0;
  float logprob = 0;
  std::vector<std::pair<float, TokenId>> top;  // (logprob, token) most likely first, when asked
  std::string error;                           // the sampler or constraint threw
};

}  // namespace

struct ServingEngine::Impl {
  Impl(const Model& m, ServingOptions o);
  ~Impl();

  std::expected<std::shared_ptr<SequenceHandle>, SubmitRefusal> submit(SequenceRequest request,
                                                                       SequenceCallbacks callbacks);
  ServingStats stats() const;

  void run();
  // An idle engine that gets work waits until submissions pause (options.gather_quiet, at
  // most options.gather_max) before its first step, so that a burst of requests (a client's
  // concurrent streams, a batch job's lines) is admitted together: their prompts then prefill
  // in full steps and start generating in one step, instead of the first one starting alone
  // and the rest prefilling beside it under the flat-latency cap. Called with signal->mutex
  // held.
  void gather(std::unique_lock<std::mutex>& lock);
  void step();
  void end_cancelled_and_expired(Clock::time_point now);
  void admit();
  bool admissible(const Sequence& seq) const;
  // Reserves blocks for `length` positions of `seq`, preempting others (or `seq`) as needed;
  // false when `seq` itself was preempted.
  bool reserve(Sequence& seq, size_t length);
  Sequence* preemption_victim();
  void preempt(Sequence& seq);
  // Samples every sequence of the step that wants a token, in plan order: the choices in
  // parallel on the pass's threads (bit for bit what one thread finds), then the deliveries.
  void sample_all();
  // The token, its log-probability and the top alternatives; `masked` is the constraint's
  // scratch (n_vocab), so constrained sequences are chosen one at a time.
  void choose(Draw& d, std::vector<float>& masked, std::vector<std::pair<float, TokenId>>& ranked);
  void deliver(Draw& d);
  void end(Sequence& seq, SequenceEnd end, std::string text, std::string error = {});
  // Removes ended and preempted sequences from running_, refreshes the stats, calls on_end.
  void settle();
  void publish_stats();

  const Model& model;
  const Tokenizer& tokenizer;
  const ServingOptions options;
  const size_t context;
  const size_t max_running;
  KvCache kv;
  LlamaCpu cpu;

  std::shared_ptr<Signal> signal = std::make_shared<Signal>();
  // Guarded by signal->mutex.
  AdmissionQueue<SequencePtr> queue;
  bool stopping = false;
  ServingStats snapshot;
  double completion_interval = 0;  // smoothed seconds between sequence ends (retry hints)
  Clock::time_point last_completion{};

  // Step thread only.
  std::vector<SequencePtr> running;                // in admission order
  std::vector<Ending> endings;                     // this step's, called at its end
  std::vector<std::pair<Sequence*, size_t>> plan;  // (sequence, tokens) of this step
  // This step's scratch, kept for the capacity: running sequences by priority, the pass's batch.
  std::vector<Sequence*> order;
  std::vector<BatchSequence> batch;
  std::vector<float> masked;                       // (n_vocab) logits a constraint masks
  std::vector<std::pair<float, TokenId>> ranked;   // top-logprob scratch (constrained ones)
  std::vector<Draw> draws;                         // this step's samples, in plan order
  uint64_t admissions = 0;
  ServingStats counters;  // steps, tokens, preemptions; copied into the snapshot

  std::thread thread;  // last: starts after everything above exists
};

namespace {

// The positions a sequence may reach: the model's context, or the smaller max_context.
size_t served_context(const Model& model, const ServingOptions& o) {
  const size_t model_context = model.config().context_length;
  return o.max_context > 0 && o.max_context < model_context ? o.max_context : model_context;
}

size_t checked_blocks(const Model& model, const ServingOptions& o) {
  if (o.block_tokens == 0 || o.max_running == 0 || o.max_step_tokens == 0) {
    throw EngineError("serving options: block_tokens, max_running and max_step_tokens must be > 0");
  }
  const ModelConfig& c = model.config();
  const size_t context = served_context(model, o);
  const size_t block = KvCache::block_bytes(c, o.block_tokens, KvCacheType::f16);
  const size_t needed = (context + o.block_tokens - 1) / o.block_tokens;
  const size_t blocks = o.kv_budget_bytes / block;
  if (blocks < needed) {
    throw EngineError("KV budget of " + std::to_string(o.kv_budget_bytes) +
                      " bytes cannot hold one full context of " + std::to_string(context) +
                      " positions: it needs " + std::to_string(needed * block) + " bytes (" +
                      std::to_string(needed) + " blocks of " + std::to_string(block) + ")");
  }
  return blocks;
}

}  // namespace

ServingEngine::Impl::Impl(const Model& m, ServingOptions o)
    : model(m),
      tokenizer(m.tokenizer()),
      options(o),
      context(served_context(m, o)),
      // Every running sequence may need a decode token per step; capping running sequences at
      // the step budget leaves at least one token per step for each prefilling one.
      max_running(std::min(o.max_running, o.max_step_tokens)),
      kv(m.config(), KvCacheOptions{.block_tokens = o.block_tokens,
                                    .max_blocks = checked_blocks(m, o),
                                    .type = KvCacheType::f16,
                                    .prefault = o.prefault_kv}),
      cpu(m, kv, o.max_step_tokens, o.threads),
      queue(o.bulk_share) {
  masked.resize(m.config().n_vocab);
  publish_stats();
  thread = std::thread([this] { run(); });
}

ServingEngine::Impl::~Impl() {
  {
    std::lock_guard lock(signal->mutex);
    stopping = true;
    signal->wake.notify_one();
  }
  thread.join();
}

std::expected<std::shared_ptr<SequenceHandle>, SubmitRefusal> ServingEngine::Impl::submit(
    SequenceRequest request, SequenceCallbacks callbacks) {
  using Kind = SubmitRefusal::Kind;
  auto refuse = [](Kind kind, std::string message, double retry = 0) {
    return std::unexpected(SubmitRefusal{kind, std::move(message), retry});
  };
  if (request.prompt.empty()) return refuse(Kind::invalid, "empty prompt");
  if (request.max_tokens == 0) return refuse(Kind::invalid, "max_tokens must be at least 1");
  const auto n_vocab = static_cast<TokenId>(model.config().n_vocab);
  for (TokenId t : request.prompt) {
    if (t < 0 || t >= n_vocab) {
      return refuse(Kind::invalid, "token id " + std::to_string(t) + " outside the vocabulary of " +
                                       std::to_string(n_vocab));
    }
  }
  if (request.prompt.size() >= context) {
    return refuse(Kind::prompt_too_long,
                  "prompt of " + std::to_string(request.prompt.size()) +
                      " tokens leaves no room to generate in the context of " +
                      std::to_string(context));
  }
  const Priority priority = request.priority;
  auto handle = std::make_shared<Handle>(signal);
  auto seq =
      std::make_unique<Sequence>(tokenizer, std::move(request), std::move(callbacks), handle);
  std::lock_guard lock(signal->mutex);
  if (stopping) return refuse(Kind::shutting_down, "the engine is shutting down");
  if (queue.size() >= options.max_waiting) {
    // One queue slot frees per admission, and admissions follow sequence ends.
    const double retry = completion_interval > 0 ? completion_interval : 1.0;
    return refuse(Kind::queue_full,
                  std::to_string(queue.size()) + " requests already waiting (max_waiting)", retry);
  }
  queue.push_back(priority, std::move(seq));
  signal->pending = true;
  signal->wake.notify_one();
  return handle;
}

ServingStats ServingEngine::Impl::stats() const {
  std::lock_guard lock(signal->mutex);
  ServingStats s = snapshot;
  s.waiting = queue.size();
  return s;
}

void ServingEngine::Impl::publish_stats() {
  ServingStats s = counters;
  s.running = running.size();
  s.kv_blocks_total = kv.total_blocks();
  s.kv_blocks_used = kv.used_blocks();
  s.kv_blocks_cached = kv.cached_blocks();
  s.prefix_lookup_tokens = kv.prefix_stats().lookup_tokens;
  s.prefix_hit_tokens = kv.prefix_stats().hit_tokens;
  std::lock_guard lock(signal->mutex);
  snapshot = s;
}

void ServingEngine::Impl::run() {
  for (;;) {
    {
      std::unique_lock lock(signal->mutex);
      signal->wake.wait(
          lock, [&] { return stopping || signal->pending || !running.empty() || !queue.empty(); });
      signal->pending = false;
      if (stopping) break;
      if (running.empty()) gather(lock);
    }
    step();
  }
  // Shutting down: everything still here ends cancelled.
  for (auto& seq : running) end(*seq, SequenceEnd::cancelled, held_text(*seq));
  {
    std::lock_guard lock(signal->mutex);
    queue.remove_if([](const SequencePtr&) { return true; },
                    [&](SequencePtr seq) {
                      std::string held = held_text(*seq);
                      endings.push_back({std::move(seq), SequenceEnd::cancelled, held, {}});
                    });
  }
  settle();
}

void ServingEngine::Impl::gather(std::unique_lock<std::mutex>& lock) {
  const auto until = Clock::now() + options.gather_max;
  for (;;) {
    const auto quiet = std::min(Clock::now() + options.gather_quiet, until);
    if (!signal->wake.wait_until(lock, quiet, [&] { return stopping || signal->pending; })) return;
    if (stopping || Clock::now() >= until) return;
    signal->pending = false;
  }
}

void ServingEngine::Impl::step() {
  end_cancelled_and_expired(Clock::now());
  settle();
  admit();
  if (running.empty()) {
    settle();
    return;
  }

  // Plan: decode tokens first (interactive, then bulk, oldest first within each), then prefill
  // chunks in the same order with what is left of the budget.
  plan.clear();
  size_t budget = options.max_step_tokens;
  order.clear();
  for (Priority p : {Priority::interactive, Priority::bulk}) {
    for (auto& seq : running) {
      if (seq->request.priority == p) order.push_back(seq.get());
    }
  }
  // Flat inter-token latency (ServingOptions::prefill_ratio). While no sequence is generating
  // and the prompts left cannot all finish in this step, prompts stop one token short and their
  // last tokens wait, so the sequences start together in one step instead of decoding one by
  // one beside the rest of the prefill; once some are generating, the prefill beside them is
  // capped so that a step costs about what their decode step costs.
  const bool flat = options.prefill_ratio > 0;
  bool hold_last = false;
  if (flat) {
    size_t prefill_left = 0;
    bool generating = false;
    bool held_long = false;
    for (const auto& seq : running) {
      if (seq->preempted) continue;
      generating = generating || seq->usage.completion_tokens > 0;
      prefill_left += seq->remaining();  // the held last tokens too: all start in one step
      held_long = held_long || seq->held_steps >= kMaxHeldSteps;
    }
    hold_last = !generating && !held_long && prefill_left > budget;
  }
  // The batch this step's decoders are heading for: every running sequence decodes once its
  // prompt is in. The prefill beside them is capped against that batch's decode step, not
  // against the few already decoding: capped against one decoder, a prompt would go in at ~4
  // tokens a step, each step a whole weight pass, and the streams behind it would wait
  // hundreds of steps for their first token.
  size_t batch_size = 0;
  for (const auto& seq : running) batch_size += !seq->preempted;
  // Only tokens of sequences already generating count: a prompt's last token (held or not)
  // starts its sequence, and the step that releases the held ones must take the rest of the
  // prompts whole for all of them to start together.
  size_t decode_tokens = 0;
  for (bool decoding : {true, false}) {
    if (!decoding && flat && decode_tokens > 0) {
      const double cap =
          options.prefill_ratio * static_cast<double>(batch_size + options.weight_pass_tokens);
      budget = std::min(budget, std::max<size_t>(1, static_cast<size_t>(cap)));
    }
    for (Sequence* seq : order) {
      if (seq->preempted || (seq->remaining() == 1) != decoding || budget == 0) continue;
      const bool waiting_start = seq->usage.completion_tokens == 0;
      if (hold_last && decoding && waiting_start) {  // its last prompt token waits
        ++seq->held_steps;
        continue;
      }
      size_t n = std::min(seq->remaining(), budget);
      if (hold_last && !decoding && n == seq->remaining()) --n;
      if (!reserve(*seq, seq->kv.length + n)) continue;
      plan.emplace_back(seq, n);
      budget -= n;
      if (decoding && !waiting_start) decode_tokens += n;
    }
  }
  // Sequences preempted after they were planned (as another's victim) leave the plan.
  std::erase_if(plan, [](const auto& p) { return p.first->preempted; });
  if (plan.empty()) {
    settle();
    return;
  }

  batch.clear();
  for (auto [seq, n] : plan) {
    batch.push_back({.tokens = std::span<const TokenId>(seq->tokens).subspan(seq->kv.length, n),
                     .start_pos = seq->kv.length,
                     .kv = &seq->kv,
                     .want_logits = seq->kv.length + n == seq->tokens.size()});
  }
  const auto step_start = Clock::now();
  std::span<const float> logits;
  try {
    logits = cpu.forward_step(batch);
  } catch (const std::exception& e) {
    for (auto [seq, n] : plan) end(*seq, SequenceEnd::failed, "", e.what());
    settle();
    return;
  }
  ++counters.steps;
  const size_t n_vocab = model.config().n_vocab;
  size_t row = 0;
  size_t n_draws = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    auto [seq, n] = plan[i];
    if (!seq->started) {
      seq->started = true;
      seq->usage.queue_seconds = seconds_between(seq->submitted, step_start);
    }
    const bool decoding = seq->remaining() == 1 && seq->usage.completion_tokens > 0;
    if (!decoding) counters.prefill_tokens += n;
    seq->kv.length += n;
    if (options.prefix_cache) {
      kv.publish(seq->kv, std::span<const TokenId>(seq->tokens).first(seq->kv.length));
    }
    if (batch[i].want_logits) {
      if (draws.size() <= n_draws) draws.emplace_back();
      Draw& d = draws[n_draws++];
      d.seq = seq;
      d.logits = logits.subspan(row * n_vocab, n_vocab);
      d.ready = false;
      d.error.clear();
      ++row;
    }
  }
  draws.resize(n_draws);  // keeps the capacity (and each Draw's buffers) for the next steps
  sample_all();
  settle();
}

void ServingEngine::Impl::sample_all() {
  // The log-softmax behind a requested logprob and the sampler's sort are up to hundreds of
  // microseconds a sequence: on the step thread alone they would leave the other threads idle
  // for a fraction of every step. A sequence's choice reads only its own state, so distinct
  // sequences are chosen at once; constrained ones (a grammar's mask) stay on this thread.
  auto parallel = [](const Draw& d) {
    return !d.seq->request.constraint && !d.seq->handle->cancelled();
  };
  size_t n_parallel = 0;
  for (const Draw& d : draws) n_parallel += parallel(d);
  if (n_parallel > 1) {
    cpu.pool().parallel_for(draws.size(), [&](size_t i) {
      Draw& d = draws[i];
      if (!parallel(d)) return;
      thread_local std::vector<float> no_mask;
      thread_local std::vector<std::pair<float, TokenId>> scratch;
      choose(d, no_mask, scratch);
    });
  }
  for (Draw& d : draws) deliver(d);
}

void ServingEngine::Impl::choose(Draw& d, std::vector<float>& masked_logits,
                                 std::vector<std::pair<float, TokenId>>& ranked_logits) {
  Sequence& seq = *d.seq;
  d.ready = true;
  d.logprob = 0;
  d.top.clear();
  try {
    std::span<const float> logits = d.logits;
    std::span<const float> choose_from = logits;
    if (seq.request.constraint) {
      masked_logits.assign(logits.begin(), logits.end());
      seq.request.constraint->mask(masked_logits);
      choose_from = masked_logits;
    }
    d.token = seq.sampler.sample(choose_from, seq.tokens);
    if (d.token == tokenizer.eos() && !seq.request.ignore_eos) return;  // no logprob needed
    // The model's own probabilities, log-softmax of the unmodified logits, as generate() has
    // them: only when asked (a pass over the vocabulary per token).
    if (!seq.request.logprobs && seq.request.top_logprobs == 0) return;
    const LogSoftmax softmax = log_softmax(logits);
    auto logprob = [&](TokenId t) { return softmax.at(logits, t); };
    d.logprob = logprob(d.token);
    if (seq.request.top_logprobs > 0) {
      const size_t k = std::min(seq.request.top_logprobs, logits.size());
      ranked_logits.resize(logits.size());
      for (size_t i = 0; i < logits.size(); ++i) {
        ranked_logits[i] = {-logits[i], static_cast<TokenId>(i)};
      }
      // Most likely first, lower id first on ties.
      std::partial_sort(ranked_logits.begin(), ranked_logits.begin() + k, ranked_logits.end());
      for (size_t i = 0; i < k; ++i) {
        const TokenId t = ranked_logits[i].second;
        d.top.emplace_back(logprob(t), t);
      }
    }
  } catch (const std::exception& e) {  // a constraint or the sampler: this sequence only
    d.error = e.what();
    if (d.error.empty()) d.error = "sampling failed";
  }
}

void ServingEngine::Impl::end_cancelled_and_expired(Clock::time_point now) {
  for (auto& seq : running) {
    if (seq->handle->cancelled()) {
      end(*seq, SequenceEnd::cancelled, held_text(*seq));
    } else if (now >= seq->request.deadline) {
      end(*seq, SequenceEnd::deadline, held_text(*seq));
    }
  }
  std::lock_guard lock(signal->mutex);
  queue.remove_if(
      [&](const SequencePtr& seq) {
        return seq->handle->cancelled() || now >= seq->request.deadline;
      },
      [&](SequencePtr seq) {
        const SequenceEnd why =
            seq->handle->cancelled() ? SequenceEnd::cancelled : SequenceEnd::deadline;
        std::string held = held_text(*seq);  // a preempted sequence may hold some
        endings.push_back({std::move(seq), why, std::move(held), {}});
      });
}

bool ServingEngine::Impl::admissible(const Sequence& seq) const {
  // Conservative: as if no prompt block were cached, plus one spare block per running sequence
  // for its next decode token.
  const size_t bt = kv.block_tokens();
  const size_t need = (seq.tokens.size() + bt - 1) / bt;
  return kv.free_blocks() >= need + running.size();
}

void ServingEngine::Impl::admit() {
  std::lock_guard lock(signal->mutex);
  while (running.size() < max_running && !queue.empty()) {
    const Priority p = queue.next();
    Sequence& seq = *queue.front(p);
    if (!admissible(seq)) break;  // head of line: FIFO holds even when a later one would fit
    if (options.prefix_cache) {
      const size_t cached = kv.attach_prefix(seq.kv, seq.tokens);
      // Counted once, on the first admission; a recomputed sequence hits its own blocks.
      if (!seq.started) seq.usage.cached_prompt_tokens = cached;
    }
    if (!kv.reserve(seq.kv, seq.tokens.size())) {
      kv.release(seq.kv);
      seq.kv = {};
      break;
    }
    seq.admission = ++admissions;
    seq.preempted = false;
    running.push_back(queue.pop(p));
  }
}

Sequence* ServingEngine::Impl::preemption_victim() {
  for (Priority p : {Priority::bulk, Priority::interactive}) {
    Sequence* victim = nullptr;
    for (auto& seq : running) {
      if (!seq || seq->preempted || seq->request.priority != p) continue;
      if (!victim || seq->admission > victim->admission) victim = seq.get();
    }
    if (victim) return victim;
  }
  return nullptr;
}

bool ServingEngine::Impl::reserve(Sequence& seq, size_t length) {
  while (!kv.reserve(seq.kv, length)) {
    Sequence* victim = preemption_victim();
    if (victim == nullptr) {  // cannot happen: the pool holds a full context
      end(seq, SequenceEnd::failed, "", "no KV blocks left for one sequence");
      return false;
    }
    preempt(*victim);
    if (victim == &seq) return false;
  }
  return true;
}

void ServingEngine::Impl::preempt(Sequence& seq) {
  kv.release(seq.kv);
  seq.kv = {};
  seq.preempted = true;
  ++counters.preemptions;
}

void ServingEngine::Impl::deliver(Draw& d) {
  Sequence& seq = *d.seq;
  if (seq.handle->cancelled()) {
    end(seq, SequenceEnd::cancelled, held_text(seq));
    return;
  }
  if (!d.ready) choose(d, masked, ranked);
  if (!d.error.empty()) {
    end(seq, SequenceEnd::failed, "", d.error);
    return;
  }
  const TokenId token = d.token;
  if (token == tokenizer.eos() && !seq.request.ignore_eos) {
    end(seq, SequenceEnd::stop, std::string(seq.streamer.finish()));
    return;
  }
  GeneratedToken out;
  out.token = token;
  out.logprob = d.logprob;
  out.step = counters.steps;
  for (auto [logprob, t] : d.top) out.top.push_back({t, tokenizer.token_to_piece(t), logprob});
  seq.tokens.push_back(token);
  ++seq.usage.completion_tokens;
  ++counters.generated_tokens;
  if (seq.usage.completion_tokens == 1) {
    seq.usage.first_token_seconds = seconds_between(seq.submitted, Clock::now());
  }
  out.text = seq.streamer.push(token);
  if (seq.callbacks.on_token) {
    try {
      seq.callbacks.on_token(out);
    } catch (const std::exception& e) {
      end(seq, SequenceEnd::failed, "", std::string("on_token threw: ") + e.what());
      return;
    }
  }
  if (seq.streamer.stopped()) {
    end(seq, SequenceEnd::stop, "");
    return;
  }
  if (seq.request.constraint) {
    seq.request.constraint->accept(token);
    if (seq.request.constraint->complete()) {
      end(seq, SequenceEnd::stop, std::string(seq.streamer.finish()));
      return;
    }
  }
  // The next token would run at position tokens.size() - 1: past the context, it cannot.
  if (seq.usage.completion_tokens >= seq.request.max_tokens || seq.tokens.size() > context) {
    std::string held(seq.streamer.finish());
    end(seq, seq.streamer.stopped() ? SequenceEnd::stop : SequenceEnd::length, std::move(held));
  }
}

void ServingEngine::Impl::end(Sequence& seq, SequenceEnd why, std::string text, std::string error) {
  kv.release(seq.kv);
  seq.kv = {};
  // Found again in settle(): moved out of `running` there, so iteration here stays valid.
  auto it = std::find_if(running.begin(), running.end(),
                         [&](const SequencePtr& p) { return p.get() == &seq; });
  if (it == running.end()) return;
  endings.push_back({std::move(*it), why, std::move(text), std::move(error)});
}

void ServingEngine::Impl::settle() {
  // end() left null entries in `running`; preempted sequences go back to the queue front, the
  // most recently admitted first so that the queue keeps their admission order.
  std::vector<SequencePtr> put_back;
  for (auto& seq : running) {
    if (seq && seq->preempted) put_back.push_back(std::move(seq));
  }
  std::erase(running, nullptr);
  if (!put_back.empty()) {
    std::sort(put_back.begin(), put_back.end(), [](const SequencePtr& a, const SequencePtr& b) {
      return a->admission > b->admission;
    });
    std::lock_guard lock(signal->mutex);
    for (auto& seq : put_back) {
      const Priority p = seq->request.priority;
      queue.push_front(p, std::move(seq));
    }
  }
  if (!endings.empty()) {
    const auto now = Clock::now();
    std::lock_guard lock(signal->mutex);
    if (last_completion != Clock::time_point{}) {
      const double dt = seconds_between(last_completion, now) / endings.size();
      completion_interval = completion_interval > 0 ? 0.8 * completion_interval + 0.2 * dt : dt;
    }
    last_completion = now;
  }
  publish_stats();
  std::vector<Ending> done = std::move(endings);
  endings.clear();
  for (auto& e : done) {
    if (!e.seq->callbacks.on_end) continue;
    try {
      e.seq->callbacks.on_end(e.end, e.text, e.seq->usage, e.error);
    } catch (...) {
      // Nothing left to report it to; the sequence is over either way.
    }
  }
}

ServingEngine::ServingEngine(const Model& model, ServingOptions options)
    : impl_(std::make_unique<Impl>(model, options)) {}

ServingEngine::~ServingEngine() = default;

std::expected<std::shared_ptr<SequenceHandle>, SubmitRefusal> ServingEngine::submit(
    SequenceRequest request, SequenceCallbacks callbacks) {
  return impl_->submit(std::move(request), std::move(callbacks));
}

ServingStats ServingEngine::stats() const { return impl_->stats(); }

const Model& ServingEngine::model() const { return impl_->model; }

size_t ServingEngine::context_length() const { return impl_->context; }

}  // namespace sy::engine
