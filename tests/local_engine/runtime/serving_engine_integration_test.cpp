// ServingEngine on stories260K and on a tiny synthetic Llama: concurrent greedy sequences give
// exactly the tokens of a solo generate() (forward_step is batch-invariant), whatever joins or
// leaves the batch, prefix-cache hits and preemptions included; cancellation, deadlines, queue
// limits, priorities, chunked prefill and shutdown.

#include "switchyard/local_engine/serving_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "local_engine/model/tiny_preset.h"
#include "runtime/kv_cache.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/generate.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/synthetic_model.h"

namespace sy::engine {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::filesystem::path kStories =
    std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K/stories260K.gguf";

const Model& stories() {
  static const std::unique_ptr<Model> model = Model::load(kStories);
  return *model;
}

// A 3-layer tiny Llama with Q8_0 weights and the stories vocabulary (padded to 603).
const Model& tiny() {
  static const std::unique_ptr<Model> model = [] {
    auto path = std::filesystem::temp_directory_path() /
                ("sy_serving_tiny_" + std::to_string(::getpid()) + ".gguf");
    write_synthetic_model(testing::tiny_preset("llama", true, 3),
                          vocabulary_from_gguf(*GgufFile::open(kStories)),
                          {.type = TensorType::q8_0, .seed = 5}, path);
    auto m = Model::load(path);
    std::filesystem::remove(path);  // the mapping stays valid
    return m;
  }();
  return *model;
}

// The same with 3 KV heads of 64 (SmolLM2-135M's head shape, 2 layers): the width the AVX-512
// heads kernels tile, which a batch of 8 or more tokens attends side by side and a decode step
// head by head.
const Model& heads_of_64() {
  static const std::unique_ptr<Model> model = [] {
    auto path = std::filesystem::temp_directory_path() /
                ("sy_serving_heads64_" + std::to_string(::getpid()) + ".gguf");
    SyntheticPreset preset = testing::tiny_preset("llama", true, 2);
    preset.config.n_kv_heads = 3;
    preset.config.head_dim = 64;
    preset.config.rope_dim = 64;
    write_synthetic_model(preset, vocabulary_from_gguf(*GgufFile::open(kStories)),
                          {.type = TensorType::q8_0, .seed = 7}, path);
    auto m = Model::load(path);
    std::filesystem::remove(path);  // the mapping stays valid
    return m;
  }();
  return *model;
}

const char* const kTexts[] = {
    "Once upon a time",
    "Lily and Ben went to the park to play with a big red ball",
    "The cat",
    "One day, a little bird saw a shiny thing in the grass. It was",
    "Tom had a toy car.",
    "The sun was hot and the children",
    "Mom said",
    "There was a big tree in the garden, and under the tree lived a small, happy frog who",
};

// What the callbacks of one sequence saw.
struct Seen {
  std::vector<TokenId> tokens;
  std::vector<uint64_t> steps;
  std::vector<float> logprobs;
  std::vector<std::vector<TokenLogprob>> top;
  std::string text;      // released by tokens, then on_end's
  std::string end_text;  // on_end's alone
  int ends = 0;
  SequenceEnd end = SequenceEnd::failed;
  SequenceUsage usage;
  std::string error;
};

class Recorder {
 public:
  explicit Recorder(size_t n) : seen_(n) {}

  SequenceCallbacks callbacks(size_t i) {
    return {.on_token =
                [this, i](const GeneratedToken& t) {
                  std::lock_guard lock(mutex_);
                  seen_[i].tokens.push_back(t.token);
                  seen_[i].steps.push_back(t.step);
                  seen_[i].text += t.text;
                  seen_[i].logprobs.push_back(t.logprob);
                  seen_[i].top.push_back(t.top);
                  if (seen_[i].tokens.size() == 1) first_token_order_.push_back(i);
                  ++total_tokens_;
                  changed_.notify_all();
                },
            .on_end =
                [this, i](SequenceEnd end, std::string_view text, const SequenceUsage& usage,
                          std::string_view error) {
                  std::lock_guard lock(mutex_);
                  Seen& s = seen_[i];
                  ++s.ends;
                  s.end = end;
                  s.text += text;
                  s.end_text = text;
                  s.usage = usage;
                  s.error = error;
                  ++ended_;
                  changed_.notify_all();
                }};
  }

  // False after 60 s (a hang); the tests are bounded either way.
  bool wait_ended(size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 60s, [&] { return ended_ >= n; });
  }
  bool wait_tokens(size_t i, size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 60s, [&] { return seen_[i].tokens.size() >= n; });
  }
  bool wait_total_tokens(size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 60s, [&] { return total_tokens_ >= n; });
  }
  Seen seen(size_t i) {
    std::lock_guard lock(mutex_);
    return seen_[i];
  }
  std::vector<size_t> first_token_order() {
    std::lock_guard lock(mutex_);
    return first_token_order_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Seen> seen_;
  std::vector<size_t> first_token_order_;
  size_t ended_ = 0;
  size_t total_tokens_ = 0;
};

// A request submitted from a decoding stream's third token callback (on the step thread,
// which holds no engine lock there), so the decoders are surely mid-stream when it arrives
// however late the test thread gets a core. `step` is the step of that third token.
struct SubmitAtThirdToken {
  std::atomic<uint64_t> step{0};
  std::atomic<bool> accepted{false};

  SequenceCallbacks wrap(Recorder& rec, size_t stream, ServingEngine& engine, SequenceRequest late,
                         SequenceCallbacks late_callbacks) {
    SequenceCallbacks callbacks = rec.callbacks(stream);
    auto record = callbacks.on_token;
    auto pending = std::make_shared<std::pair<SequenceRequest, SequenceCallbacks>>(
        std::move(late), std::move(late_callbacks));
    callbacks.on_token = [this, &rec, &engine, stream, record, pending](const GeneratedToken& t) {
      record(t);
      if (rec.seen(stream).tokens.size() != 3) return;
      step = t.step;
      accepted = engine.submit(std::move(pending->first), std::move(pending->second)).has_value();
    };
    return callbacks;
  }
};

// Blocks the step thread inside a callback until opened, so the test controls the queue.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mutex_);
    entered_ = true;
    changed_.notify_all();
    changed_.wait_for(lock, 60s, [&] { return open_; });
  }
  bool wait_entered() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 60s, [&] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool entered_ = false;
  bool open_ = false;
};

std::vector<TokenId> tokens_of(const Model& model, const std::string& text) {
  return model.tokenizer().encode(text, {.add_special = true});
}

SequenceRequest greedy(std::vector<TokenId> prompt, size_t max_tokens, bool ignore_eos = true) {
  SequenceRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.ignore_eos = ignore_eos;
  return r;
}

struct Case {
  std::string text;
  size_t max_tokens;
  bool ignore_eos;
};

// N sequences of different prompts and lengths, submitted in four waves while earlier ones run:
// each must equal generate() alone, tokens, text and end.
void expect_solo_equal(const Model& model, size_t n, ServingOptions options) {
  std::vector<Case> cases;
  for (size_t i = 0; i < n; ++i) {
    std::string text = kTexts[i % std::size(kTexts)];
    if (i >= std::size(kTexts)) text += " and " + std::string(kTexts[(i * 5 + 3) % 8]);
    cases.push_back({text, 6 + (i * 7) % 40, i % 3 != 0});
  }
  std::vector<GenerateResult> solo;
  for (const Case& c : cases) {
    GenerateOptions g;
    g.max_tokens = c.max_tokens;
    g.ignore_eos = c.ignore_eos;
    g.threads = 1;
    solo.push_back(generate(model, c.text, g));
  }

  Recorder rec(n);
  ServingEngine engine(model, options);
  const size_t waves = std::min<size_t>(4, n);
  size_t submitted = 0;
  for (size_t w = 0; w < waves; ++w) {
    const size_t until = n * (w + 1) / waves;
    for (; submitted < until; ++submitted) {
      const Case& c = cases[submitted];
      auto handle = engine.submit(greedy(solo[submitted].prompt_tokens, c.max_tokens, c.ignore_eos),
                                  rec.callbacks(submitted));
      ASSERT_TRUE(handle.has_value()) << handle.error().message;
    }
    // The next wave joins a batch already decoding.
    if (w + 1 < waves) {
      ASSERT_TRUE(rec.wait_tokens(submitted - 1, 2));
    }
  }
  ASSERT_TRUE(rec.wait_ended(n));
  for (size_t i = 0; i < n; ++i) {
    const Seen s = rec.seen(i);
    EXPECT_EQ(s.tokens, solo[i].tokens) << "sequence " << i << " of " << n;
    EXPECT_EQ(s.text, solo[i].text) << "sequence " << i;
    EXPECT_EQ(s.ends, 1);
    EXPECT_EQ(s.end, solo[i].finish == FinishReason::stop ? SequenceEnd::stop : SequenceEnd::length)
        << "sequence " << i;
    EXPECT_EQ(s.usage.prompt_tokens, solo[i].prompt_tokens.size());
    EXPECT_EQ(s.usage.completion_tokens, solo[i].tokens.size());
  }
  const ServingStats stats = engine.stats();
  EXPECT_EQ(stats.running, 0u);
  EXPECT_EQ(stats.waiting, 0u);
  EXPECT_EQ(stats.kv_blocks_used, 0u);
}

ServingOptions small_options() {
  ServingOptions o;
  o.kv_budget_bytes = 64u << 20;
  o.threads = 2;
  return o;
}

class ServingEngineSolo : public ::testing::TestWithParam<size_t> {};

TEST_P(ServingEngineSolo, ConcurrentGreedySequencesEqualSoloGenerateOnStories) {
  expect_solo_equal(stories(), GetParam(), small_options());
}

TEST_P(ServingEngineSolo, ConcurrentGreedySequencesEqualSoloGenerateOnTinySynthetic) {
  expect_solo_equal(tiny(), GetParam(), small_options());
}

TEST_P(ServingEngineSolo, ConcurrentGreedySequencesEqualSoloGenerateOnHeadsOf64) {
  expect_solo_equal(heads_of_64(), GetParam(), small_options());
}

INSTANTIATE_TEST_SUITE_P(Streams, ServingEngineSolo, ::testing::Values(1, 4, 16, 64));

TEST(ServingEngine, SmallStepBudgetAndNoPrefixCacheStillEqualSolo) {
  ServingOptions o = small_options();
  o.max_step_tokens = 8;  // prompts split over several steps
  o.max_running = 8;
  o.prefix_cache = false;
  expect_solo_equal(stories(), 16, o);
}

TEST(ServingEngine, PreemptedSequencesRecomputeAndStillEqualSolo) {
  ServingOptions o = small_options();
  const size_t context = tiny().config().context_length;
  // One full context (256) and a few blocks more: eight long generations cannot all fit.
  o.kv_budget_bytes = KvCache::block_bytes(tiny().config(), o.block_tokens, KvCacheType::f16) *
                      (context / o.block_tokens + 6);
  std::vector<GenerateResult> solo;
  for (size_t i = 0; i < 8; ++i) {
    GenerateOptions g;
    g.max_tokens = 120;
    g.ignore_eos = true;
    g.threads = 1;
    solo.push_back(generate(tiny(), kTexts[i], g));
  }
  Recorder rec(8);
  ServingEngine engine(tiny(), o);
  for (size_t i = 0; i < 8; ++i) {
    SequenceRequest r = greedy(solo[i].prompt_tokens, 120);
    r.priority = i % 2 ? Priority::bulk : Priority::interactive;
    ASSERT_TRUE(engine.submit(std::move(r), rec.callbacks(i)).has_value());
  }
  ASSERT_TRUE(rec.wait_ended(8));
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(rec.seen(i).tokens, solo[i].tokens) << i;
  EXPECT_GT(engine.stats().preemptions, 0u);
  EXPECT_EQ(engine.stats().kv_blocks_used, 0u);
}

TEST(ServingEngine, PrefixCacheHitGivesTheColdTokensAndIsCounted) {
  ServingEngine engine(stories(), small_options());
  const auto prompt = tokens_of(stories(), std::string(kTexts[7]) + " " + kTexts[3]);
  ASSERT_GT(prompt.size(), 33u);
  Recorder rec(2);
  ASSERT_TRUE(engine.submit(greedy(prompt, 30), rec.callbacks(0)).has_value());
  ASSERT_TRUE(rec.wait_ended(1));
  const ServingStats cold = engine.stats();
  EXPECT_EQ(cold.prefix_hit_tokens, 0u);
  EXPECT_GT(cold.kv_blocks_cached, 0u);
  ASSERT_TRUE(engine.submit(greedy(prompt, 30), rec.callbacks(1)).has_value());
  ASSERT_TRUE(rec.wait_ended(2));
  const ServingStats warm = engine.stats();
  const size_t reusable = (prompt.size() - 1) / 16 * 16;  // whole blocks, last token left to run
  EXPECT_EQ(warm.prefix_hit_tokens - cold.prefix_hit_tokens, reusable);
  EXPECT_EQ(rec.seen(1).usage.cached_prompt_tokens, reusable);
  EXPECT_EQ(rec.seen(0).usage.cached_prompt_tokens, 0u);
  EXPECT_EQ(rec.seen(1).tokens, rec.seen(0).tokens);
  EXPECT_EQ(warm.prefill_tokens - cold.prefill_tokens, prompt.size() - reusable);
}

TEST(ServingEngine, CancelMidStreamFreesTheSlotAndBlocksAndEndsOnce) {
  ServingEngine engine(stories(), small_options());
  Recorder rec(1);
  std::shared_ptr<SequenceHandle> handle;
  Gate gate;
  SequenceCallbacks cb = rec.callbacks(0);
  auto on_token = cb.on_token;
  cb.on_token = [&, on_token](const GeneratedToken& t) {
    on_token(t);
    if (rec.seen(0).tokens.size() == 5) gate.wait();
  };
  // A stop string that starts with the first five tokens' text holds all of it back: the
  // cancellation hands it over in on_end.
  GenerateOptions g;
  g.max_tokens = 5;
  g.ignore_eos = true;
  const std::string five = generate(stories(), kTexts[0], g).text;
  ASSERT_FALSE(five.empty());
  SequenceRequest r = greedy(tokens_of(stories(), kTexts[0]), 400);
  r.stop = {five + "\x01never"};
  auto submitted = engine.submit(std::move(r), std::move(cb));
  ASSERT_TRUE(submitted.has_value());
  handle = *submitted;
  ASSERT_TRUE(gate.wait_entered());
  EXPECT_EQ(engine.stats().running, 1u);
  EXPECT_GT(engine.stats().kv_blocks_used, 0u);
  handle->cancel();
  handle->cancel();  // idempotent
  gate.open();
  ASSERT_TRUE(rec.wait_ended(1));
  const Seen s = rec.seen(0);
  EXPECT_EQ(s.end, SequenceEnd::cancelled);
  EXPECT_EQ(s.tokens.size(), 5u);
  EXPECT_EQ(s.end_text, five);
  EXPECT_EQ(s.text, five);  // nothing was released before
  EXPECT_EQ(engine.stats().running, 0u);
  EXPECT_EQ(engine.stats().kv_blocks_used, 0u);
  handle->cancel();  // after the end: nothing happens
  // The engine still serves.
  Recorder again(1);
  ASSERT_TRUE(engine.submit(greedy(tokens_of(stories(), kTexts[2]), 3), again.callbacks(0)));
  ASSERT_TRUE(again.wait_ended(1));
  EXPECT_EQ(again.seen(0).tokens.size(), 3u);
  EXPECT_EQ(rec.seen(0).ends, 1);
}

TEST(ServingEngine, DeadlineEndsARunningSequence) {
  ServingEngine engine(stories(), small_options());
  Recorder rec(2);
  SequenceRequest r = greedy(tokens_of(stories(), kTexts[1]), 400);
  r.deadline = Clock::now() + 50ms;
  const auto deadline = r.deadline;
  SequenceCallbacks cb = rec.callbacks(0);
  auto on_token = cb.on_token;
  cb.on_token = [&, on_token](const GeneratedToken& t) {
    on_token(t);
    // Hold the step thread past the deadline on the third token: the next step must end it.
    if (rec.seen(0).tokens.size() == 3) {
      while (Clock::now() <= deadline) std::this_thread::yield();
    }
  };
  ASSERT_TRUE(engine.submit(std::move(r), std::move(cb)).has_value());
  // A deadline already passed ends a request that never ran.
  SequenceRequest late = greedy(tokens_of(stories(), kTexts[2]), 10);
  late.deadline = Clock::now() - 1ms;
  ASSERT_TRUE(engine.submit(std::move(late), rec.callbacks(1)).has_value());
  ASSERT_TRUE(rec.wait_ended(2));
  EXPECT_EQ(rec.seen(0).end, SequenceEnd::deadline);
  EXPECT_EQ(rec.seen(0).tokens.size(), 3u);
  EXPECT_EQ(rec.seen(0).ends, 1);
  EXPECT_EQ(rec.seen(1).end, SequenceEnd::deadline);
  EXPECT_TRUE(rec.seen(1).tokens.empty());
  EXPECT_EQ(engine.stats().running, 0u);
  EXPECT_EQ(engine.stats().kv_blocks_used, 0u);
}

TEST(ServingEngine, RefusesBeyondMaxWaitingWithARetryHint) {
  ServingOptions o = small_options();
  o.max_running = 1;
  o.max_waiting = 2;
  ServingEngine engine(stories(), o);
  Gate gate;
  Recorder rec(3);
  SequenceCallbacks cb = rec.callbacks(0);
  auto on_token = cb.on_token;
  cb.on_token = [&, on_token](const GeneratedToken& t) {
    on_token(t);
    gate.wait();
  };
  ASSERT_TRUE(engine.submit(greedy(tokens_of(stories(), kTexts[0]), 4), std::move(cb)));
  ASSERT_TRUE(gate.wait_entered());  // running, and the step thread is held
  ASSERT_TRUE(engine.submit(greedy(tokens_of(stories(), kTexts[1]), 4), rec.callbacks(1)));
  ASSERT_TRUE(engine.submit(greedy(tokens_of(stories(), kTexts[2]), 4), rec.callbacks(2)));
  EXPECT_EQ(engine.stats().waiting, 2u);
  bool called = false;
  auto refused = engine.submit(greedy(tokens_of(stories(), kTexts[3]), 4),
                               {.on_token = [&](const GeneratedToken&) { called = true; },
                                .on_end = [&](auto...) { called = true; }});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, SubmitRefusal::Kind::queue_full);
  EXPECT_GT(refused.error().retry_after_seconds, 0.0);
  gate.open();
  ASSERT_TRUE(rec.wait_ended(3));
  EXPECT_FALSE(called);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(rec.seen(i).tokens.size(), 4u) << i;
}

TEST(ServingEngine, RefusesPromptsThatLeaveNoRoomAndInvalidTokens) {
  ServingEngine engine(tiny(), small_options());
  const size_t context = engine.context_length();
  ASSERT_EQ(context, tiny().config().context_length);
  using Kind = SubmitRefusal::Kind;
  auto kind_of = [&](std::vector<TokenId> prompt) {
    auto r = engine.submit(greedy(std::move(prompt), 1), {});
    return r.has_value() ? std::optional<Kind>() : std::optional<Kind>(r.error().kind);
  };
  EXPECT_EQ(kind_of(std::vector<TokenId>(context, 5)), Kind::prompt_too_long);
  EXPECT_EQ(kind_of(std::vector<TokenId>(context + 10, 5)), Kind::prompt_too_long);
  EXPECT_EQ(kind_of({}), Kind::invalid);
  EXPECT_EQ(kind_of({1, 5, static_cast<TokenId>(tiny().config().n_vocab)}), Kind::invalid);
  EXPECT_EQ(kind_of({1, -1}), Kind::invalid);
  // The longest prompt that fits generates its one token.
  Recorder rec(1);
  ASSERT_TRUE(engine.submit(greedy(std::vector<TokenId>(context - 1, 5), 10), rec.callbacks(0)));
  ASSERT_TRUE(rec.wait_ended(1));
  EXPECT_EQ(rec.seen(0).end, SequenceEnd::length);
  EXPECT_EQ(rec.seen(0).tokens.size(), 2u);  // the second is sampled, never run
}

TEST(ServingEngine, ConstructorRefusesABudgetBelowOneContext) {
  ServingOptions o = small_options();
  const ModelConfig& c = stories().config();
  const size_t block = KvCache::block_bytes(c, o.block_tokens, KvCacheType::f16);
  o.kv_budget_bytes = block * (c.context_length / o.block_tokens) - 1;
  EXPECT_THROW({ ServingEngine engine(stories(), o); }, EngineError);
  o.kv_budget_bytes += 1;
  EXPECT_NO_THROW({ ServingEngine engine(stories(), o); });
}

// max_context serves the model in fewer positions: a budget of one such context is enough, the
// engine reports it, and a prompt that leaves no room in it is refused.
TEST(ServingEngine, MaxContextServesInFewerPositions) {
  ServingOptions o = small_options();
  const ModelConfig& c = stories().config();
  o.max_context = 256;
  ASSERT_LT(o.max_context, c.context_length);
  const size_t block = KvCache::block_bytes(c, o.block_tokens, KvCacheType::f16);
  o.kv_budget_bytes = block * (256 / o.block_tokens);
  ServingEngine engine(stories(), o);
  EXPECT_EQ(engine.context_length(), 256u);
  auto refused = engine.submit(greedy(std::vector<TokenId>(256, 5), 1), {});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, SubmitRefusal::Kind::prompt_too_long);
  Recorder rec(1);
  ASSERT_TRUE(engine.submit(greedy(tokens_of(stories(), kTexts[0]), 1000), rec.callbacks(0)));
  ASSERT_TRUE(rec.wait_ended(1));
  EXPECT_EQ(rec.seen(0).end, SequenceEnd::length);
  EXPECT_EQ(tokens_of(stories(), kTexts[0]).size() + rec.seen(0).tokens.size(), 256u + 1)
      << "generation stops where the served context ends";
  o.max_context = c.context_length * 2;  // more than the model's: the model's
  o.kv_budget_bytes = small_options().kv_budget_bytes;
  ServingEngine model_context(stories(), o);
  EXPECT_EQ(model_context.context_length(), c.context_length);
}

TEST(ServingEngine, AdmitsInteractiveAheadOfBulkAndBulkStillProgresses) {
  ServingOptions o = small_options();
  o.max_running = 1;
  o.bulk_share = 3;
  ServingEngine engine(stories(), o);
  Gate gate;
  constexpr size_t kN = 9;
  Recorder rec(kN);
  SequenceCallbacks cb = rec.callbacks(0);
  auto on_token = cb.on_token;
  cb.on_token = [&, on_token](const GeneratedToken& t) {
    on_token(t);
    gate.wait();
  };
  ASSERT_TRUE(engine.submit(greedy(tokens_of(stories(), kTexts[0]), 2), std::move(cb)));
  ASSERT_TRUE(gate.wait_entered());
  // While 0 runs: bulk 1 and 2 first, then interactive 3..8 (a constant interactive load).
  for (size_t i = 1; i < kN; ++i) {
    SequenceRequest r = greedy(tokens_of(stories(), kTexts[i % 8]), 2);
    r.priority = i <= 2 ? Priority::bulk : Priority::interactive;
    ASSERT_TRUE(engine.submit(std::move(r), rec.callbacks(i)));
  }
  gate.open();
  ASSERT_TRUE(rec.wait_ended(kN));
  // One slot: admission order is first-token order. Two interactive, then one bulk (one in
  // three while interactive waits), FIFO within each class.
  EXPECT_EQ(rec.first_token_order(), (std::vector<size_t>{0, 3, 4, 1, 5, 6, 2, 7, 8}));
}

TEST(ServingEngine, LongPromptPrefillDoesNotStallRunningStreams) {
  ServingOptions o = small_options();
  o.max_step_tokens = 24;
  o.max_running = 4;
  ServingEngine engine(stories(), o);
  Recorder rec(3);
  // 420 tokens: about 20 steps of prefill at 22 tokens a step beside the two decoders.
  std::vector<TokenId> long_prompt = {stories().tokenizer().bos()};
  for (size_t i = 0; long_prompt.size() < 420; ++i) {
    for (TokenId t : stories().tokenizer().encode(kTexts[i % 8], {.add_special = false})) {
      long_prompt.push_back(t);
    }
  }
  long_prompt.resize(420);
  SubmitAtThirdToken late;
  ASSERT_TRUE(engine.submit(greedy(tokens_of(stories(), kTexts[0]), 150),
                            late.wrap(rec, 0, engine, greedy(long_prompt, 5), rec.callbacks(2))));
  ASSERT_TRUE(engine.submit(greedy(tokens_of(stories(), kTexts[1]), 150), rec.callbacks(1)));
  ASSERT_TRUE(rec.wait_ended(3));
  ASSERT_TRUE(late.accepted);
  const Seen long_seq = rec.seen(2);
  ASSERT_EQ(long_seq.tokens.size(), 5u);
  // Its prefill took many steps...
  EXPECT_GE(long_seq.steps.front() - late.step, long_prompt.size() / o.max_step_tokens);
  // ...during which each stream got exactly one token per step.
  for (size_t i = 0; i < 2; ++i) {
    const Seen s = rec.seen(i);
    ASSERT_EQ(s.tokens.size(), 150u);
    EXPECT_GT(s.steps.back(), long_seq.steps.front());
    for (size_t k = 1; k < s.steps.size(); ++k) {
      ASSERT_EQ(s.steps[k], s.steps[k - 1] + 1) << "stream " << i << " token " << k;
    }
  }
}

// Prompts admitted in one step prefill at the full step budget, hold their last tokens, and
// start generating in one step: the step that releases them takes the rest of the prompts
// whole (the flat-latency cap applies beside sequences already generating, not beside the
// released last tokens), so every stream then gets one token per step.
TEST(ServingEngine, PromptsAdmittedTogetherStartGeneratingInOneStep) {
  ServingOptions o = small_options();
  o.max_step_tokens = 32;
  o.max_running = 16;
  ServingEngine engine(stories(), o);
  constexpr size_t kN = 8;
  Recorder rec(kN + 1);
  // The step thread waits in the blocker's callback while the others are queued, so all of
  // them are admitted at the next step, whatever the machine's scheduling.
  std::mutex mutex;
  std::condition_variable cv;
  bool blocking = false, queued = false;
  SequenceCallbacks blocker = rec.callbacks(kN);
  blocker.on_token = [&](const GeneratedToken&) {
    std::unique_lock lock(mutex);
    blocking = true;
    cv.notify_all();
    cv.wait_for(lock, 10s, [&] { return queued; });
  };
  ASSERT_TRUE(engine.submit(greedy(tokens_of(stories(), kTexts[0]), 1), std::move(blocker)));
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return blocking; }));
  }
  size_t prompt_tokens = 0;
  for (size_t i = 0; i < kN; ++i) {
    std::vector<TokenId> prompt = tokens_of(stories(), kTexts[i]);
    prompt.insert(prompt.end(), prompt.begin() + 1, prompt.end());  // ~10-40 tokens each
    prompt_tokens += prompt.size();
    ASSERT_TRUE(engine.submit(greedy(std::move(prompt), 12), rec.callbacks(i)));
  }
  ASSERT_GT(prompt_tokens, 4 * o.max_step_tokens);  // several steps of prefill
  {
    std::lock_guard lock(mutex);
    queued = true;
  }
  cv.notify_all();
  ASSERT_TRUE(rec.wait_ended(kN + 1));
  const uint64_t first = rec.seen(0).steps.front();
  for (size_t i = 0; i < kN; ++i) {
    const Seen s = rec.seen(i);
    ASSERT_EQ(s.tokens.size(), 12u);
    EXPECT_EQ(s.steps.front(), first) << "stream " << i;
    for (size_t k = 1; k < s.steps.size(); ++k) {
      ASSERT_EQ(s.steps[k], s.steps[k - 1] + 1) << "stream " << i << " token " << k;
    }
  }
}

// An idle engine waits for submissions to pause (gather_quiet) before its first step: requests
// that reach it spread out, as concurrent HTTP requests do behind the gateway's per-request
// work, are admitted together and start generating in one step. The window is generous here
// (the submissions are ~20 ms apart) so that a loaded machine is unlikely to split the burst.
TEST(ServingEngine, IdleEngineGathersSpreadSubmissionsIntoOneStart) {
  ServingOptions o = small_options();
  o.gather_quiet = 500ms;
  o.gather_max = 10s;
  ServingEngine engine(stories(), o);
  constexpr size_t kN = 4;
  Recorder rec(kN);
  for (size_t i = 0; i < kN; ++i) {
    if (i > 0) std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(engine.submit(greedy(tokens_of(stories(), kTexts[i]), 4), rec.callbacks(i)));
  }
  ASSERT_TRUE(rec.wait_ended(kN));
  const uint64_t first = rec.seen(0).steps.front();
  for (size_t i = 0; i < kN; ++i) {
    const Seen s = rec.seen(i);
    ASSERT_EQ(s.tokens.size(), 4u);
    EXPECT_EQ(s.steps.front(), first) << "stream " << i;
  }
}

// The flat-latency cap: beside streams already generating, a step takes at most
// prefill_ratio * (R + weight_pass_tokens) prompt tokens, R the running sequences (here
// 0.5 * (3 + 8) = 5), so a long
// prompt prefills over many small steps, still one chunk every step; prefill_ratio 0 lets it
// fill the step budget instead.
TEST(ServingEngine, PrefillBesideDecodingStreamsIsCappedToKeepStepsFlat) {
  std::vector<TokenId> long_prompt = {stories().tokenizer().bos()};
  for (size_t i = 0; long_prompt.size() < 200; ++i) {
    for (TokenId t : stories().tokenizer().encode(kTexts[i % 8], {.add_special = false})) {
      long_prompt.push_back(t);
    }
  }
  long_prompt.resize(200);
  for (double ratio : {0.5, 0.0}) {
    ServingOptions o = small_options();
    o.max_step_tokens = 64;
    o.max_running = 4;
    o.prefill_ratio = ratio;
    o.weight_pass_tokens = 8;
    ServingEngine engine(stories(), o);
    Recorder rec(3);
    SubmitAtThirdToken late;
    ASSERT_TRUE(engine.submit(greedy(tokens_of(stories(), kTexts[0]), 120),
                              late.wrap(rec, 0, engine, greedy(long_prompt, 3), rec.callbacks(2))));
    ASSERT_TRUE(engine.submit(greedy(tokens_of(stories(), kTexts[1]), 120), rec.callbacks(1)));
    ASSERT_TRUE(rec.wait_ended(3));
    ASSERT_TRUE(late.accepted);
    const uint64_t prefill_steps = rec.seen(2).steps.front() - late.step;
    if (ratio > 0) {
      EXPECT_GE(prefill_steps, 200u / 5);       // at most 5 prompt tokens a step...
      EXPECT_LE(prefill_steps, 200u / 5 + 8u);  // ...and some every step
    } else {
      EXPECT_LE(prefill_steps, 200u / 62 + 8u);  // the budget left beside the two decoders
    }
    for (size_t i = 0; i < 2; ++i) {
      const Seen s = rec.seen(i);
      ASSERT_EQ(s.tokens.size(), 120u);
      for (size_t k = 1; k < s.steps.size(); ++k) {
        ASSERT_EQ(s.steps[k], s.steps[k - 1] + 1) << "stream " << i << " token " << k;
      }
    }
  }
}

TEST(ServingEngine, SampledSequencesWithStopStringsEqualSoloGenerate) {
  constexpr size_t kN = 8;
  std::vector<GenerateResult> solo;
  std::vector<GenerateOptions> options(kN);
  for (size_t i = 0; i < kN; ++i) {
    GenerateOptions& g = options[i];
    g.max_tokens = 60;
    g.threads = 1;
    g.sampling = {.temperature = 0.9f, .top_k = 40, .top_p = 0.95f, .seed = 100 + i};
    if (i % 2 == 0) g.sampling.repetition_penalty = 1.1f;
    g.stop = i % 3 == 0 ? std::vector<std::string>{"."} : std::vector<std::string>{"Lily", "\n"};
    solo.push_back(generate(stories(), kTexts[i], g));
  }
  Recorder rec(kN);
  ServingEngine engine(stories(), small_options());
  for (size_t i = 0; i < kN; ++i) {
    SequenceRequest r;
    r.prompt = solo[i].prompt_tokens;
    r.max_tokens = options[i].max_tokens;
    r.sampling = options[i].sampling;
    r.stop = options[i].stop;
    r.logprobs = true;
    ASSERT_TRUE(engine.submit(std::move(r), rec.callbacks(i)));
  }
  ASSERT_TRUE(rec.wait_ended(kN));
  size_t stopped = 0;
  for (size_t i = 0; i < kN; ++i) {
    const Seen s = rec.seen(i);
    EXPECT_EQ(s.tokens, solo[i].tokens) << i;
    EXPECT_EQ(s.text, solo[i].text) << i;
    EXPECT_EQ(s.logprobs, solo[i].logprobs) << i;
    EXPECT_EQ(s.end,
              solo[i].finish == FinishReason::stop ? SequenceEnd::stop : SequenceEnd::length);
    stopped += s.end == SequenceEnd::stop;
  }
  EXPECT_GT(stopped, 0u);  // the stop strings were exercised
}

TEST(ServingEngine, LogprobsAreComputedOnlyWhenAsked) {
  GenerateOptions g;
  g.max_tokens = 16;
  g.threads = 1;
  g.ignore_eos = true;
  const GenerateResult solo = generate(stories(), kTexts[3], g);
  ServingEngine engine(stories(), small_options());
  Recorder rec(2);
  for (size_t i = 0; i < 2; ++i) {
    SequenceRequest r = greedy(solo.prompt_tokens, g.max_tokens);
    r.logprobs = i == 1;
    ASSERT_TRUE(engine.submit(std::move(r), rec.callbacks(i)));
  }
  ASSERT_TRUE(rec.wait_ended(2));
  const Seen plain = rec.seen(0), asked = rec.seen(1);
  EXPECT_EQ(plain.tokens, solo.tokens);
  EXPECT_EQ(asked.tokens, solo.tokens);
  EXPECT_EQ(plain.logprobs, std::vector<float>(solo.tokens.size(), 0.0f));
  EXPECT_EQ(asked.logprobs, solo.logprobs);  // generate()'s, bit for bit
  for (float lp : asked.logprobs) EXPECT_LT(lp, 0.0f);
  for (const auto& top : plain.top) EXPECT_TRUE(top.empty());
  for (const auto& top : asked.top) EXPECT_TRUE(top.empty());
}

TEST(ServingEngine, TopLogprobsAreTheModelsMostLikelyTokens) {
  ServingEngine engine(stories(), small_options());
  Recorder rec(1);
  SequenceRequest r = greedy(tokens_of(stories(), kTexts[0]), 12);
  r.top_logprobs = 5;
  ASSERT_TRUE(engine.submit(std::move(r), rec.callbacks(0)));
  ASSERT_TRUE(rec.wait_ended(1));
  const Seen s = rec.seen(0);
  ASSERT_EQ(s.top.size(), 12u);
  for (size_t k = 0; k < s.top.size(); ++k) {
    ASSERT_EQ(s.top[k].size(), 5u);
    EXPECT_EQ(s.top[k][0].token, s.tokens[k]);  // greedy: the chosen one is the most likely
    EXPECT_EQ(s.top[k][0].logprob, s.logprobs[k]);
    EXPECT_EQ(s.top[k][0].text, stories().tokenizer().token_to_piece(s.tokens[k]));
    for (size_t j = 1; j < 5; ++j) EXPECT_LE(s.top[k][j].logprob, s.top[k][j - 1].logprob);
    EXPECT_LE(s.top[k][0].logprob, 0.0f);
  }
}

// Allows only the tokens of `allowed`; complete after `length` tokens.
class FixedSetConstraint final : public TokenConstraint {
 public:
  FixedSetConstraint(std::vector<TokenId> allowed, size_t length, size_t* masks)
      : allowed_(std::move(allowed)), length_(length), masks_(masks) {}
  void mask(std::span<float> logits) override {
    ++*masks_;
    for (size_t i = 0; i < logits.size(); ++i) {
      if (std::find(allowed_.begin(), allowed_.end(), static_cast<TokenId>(i)) == allowed_.end()) {
        logits[i] = -std::numeric_limits<float>::infinity();
      }
    }
  }
  void accept(TokenId token) override {
    EXPECT_NE(std::find(allowed_.begin(), allowed_.end(), token), allowed_.end());
    ++accepted_;
  }
  bool complete() const override { return accepted_ >= length_; }

 private:
  std::vector<TokenId> allowed_;
  size_t length_;
  size_t accepted_ = 0;
  size_t* masks_;
};

TEST(ServingEngine, ConstraintMasksSamplingAndItsCompletionStops) {
  ServingEngine engine(stories(), small_options());
  Recorder rec(1);
  const std::vector<TokenId> allowed = {100, 200, 300};
  size_t masks = 0;
  SequenceRequest r = greedy(tokens_of(stories(), kTexts[0]), 50);
  r.constraint = std::make_unique<FixedSetConstraint>(allowed, 7, &masks);
  r.top_logprobs = 1;
  ASSERT_TRUE(engine.submit(std::move(r), rec.callbacks(0)));
  ASSERT_TRUE(rec.wait_ended(1));
  const Seen s = rec.seen(0);
  EXPECT_EQ(s.end, SequenceEnd::stop);
  ASSERT_EQ(s.tokens.size(), 7u);
  EXPECT_EQ(masks, 7u);
  for (size_t k = 0; k < 7; ++k) {
    EXPECT_NE(std::find(allowed.begin(), allowed.end(), s.tokens[k]), allowed.end());
    // Logprobs are the model's, before the mask: the unconstrained favourite is not allowed.
    EXPECT_LT(s.logprobs[k], s.top[k][0].logprob);
  }
}

TEST(ServingEngine, DestroyingTheEngineEndsLiveSequencesCancelled) {
  Recorder rec(4);
  Gate gate;
  std::atomic<size_t> extra_ends = 0;
  size_t accepted = 0;
  std::vector<std::shared_ptr<SequenceHandle>> handles;
  {
    auto engine = std::make_unique<ServingEngine>(stories(), small_options());
    ServingEngine* raw = engine.get();  // `engine` itself is reset on the other thread
    for (size_t i = 0; i < 4; ++i) {
      SequenceCallbacks cb = rec.callbacks(i);
      if (i == 0) {
        auto on_token = cb.on_token;
        cb.on_token = [&, on_token](const GeneratedToken& t) {
          on_token(t);
          gate.wait();
        };
      }
      auto handle = engine->submit(greedy(tokens_of(stories(), kTexts[i]), 400), std::move(cb));
      ASSERT_TRUE(handle);
      handles.push_back(*handle);
    }
    ASSERT_TRUE(gate.wait_entered());
    std::thread destroyer([&] { engine.reset(); });
    // Once the engine refuses new work it is being destroyed; then let the step thread go.
    for (;;) {
      // The engine's destructor is waiting for the held step thread, so it is still there.
      auto r = raw->submit(greedy({1, 5}, 1), {.on_end = [&](auto...) { ++extra_ends; }});
      if (!r.has_value() && r.error().kind == SubmitRefusal::Kind::shutting_down) break;
      if (r.has_value()) ++accepted;
      std::this_thread::sleep_for(1ms);
    }
    gate.open();
    destroyer.join();
  }
  EXPECT_EQ(extra_ends.load(), accepted);  // those queued meanwhile ended too
  ASSERT_TRUE(rec.wait_ended(4));
  for (auto& h : handles) h->cancel();  // handles outlive the engine: harmless, no callback
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(rec.seen(i).ends, 1) << i;
    EXPECT_EQ(rec.seen(i).end, SequenceEnd::cancelled) << i;
  }
}

}  // namespace
}  // namespace sy::engine
