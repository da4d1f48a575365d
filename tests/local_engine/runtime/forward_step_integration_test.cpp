// LlamaCpu::forward_step over the paged KvCache: several sequences of different lengths, some
// prefilling in chunks while others decode single tokens, joining and idling across steps, must
// give every sequence logits BIT-IDENTICAL to the same sequence run alone (forward token by
// token, or forward_batch). That is the engine's batch invariance: each row goes through the
// same kernels (matmul equals matvec bit for bit) and attention reads only its own sequence.
// Checked on stories260K and on every family's tiny model, F32 and Q8_0 weights, F16 and F32
// KV caches, with steps larger than max_step_tokens (chunked) and 4-token blocks (attention
// crosses block boundaries; Gemma's 5-position sliding window too). A sequence that attaches a
// cached prefix gives the same logits as a cold run.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <vector>

#include "local_engine/model/tiny_preset.h"
#include "runtime/kv_cache.h"
#include "runtime/llama_cpu.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"
#include "switchyard/local_engine/synthetic_model.h"

namespace sy::engine {
namespace {

const std::filesystem::path kStories =
    std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K/stories260K.gguf";

constexpr size_t kBlockTokens = 4;
constexpr size_t kStepRows = 16;  // max_step_tokens: most steps below run in several chunks

std::vector<TokenId> make_tokens(size_t n, size_t seed, uint32_t n_vocab) {
  std::vector<TokenId> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<TokenId>((i * 131 + seed * 977 + 17) % n_vocab);
  return t;
}

// One sequence's part in a scripted run: how many of its tokens go in each step (0: absent).
struct Plan {
  std::vector<size_t> chunks;
  std::vector<TokenId> tokens;  // sum(chunks) tokens
};

std::vector<Plan> mixed_plans(uint32_t n_vocab) {
  // Step 0: three prefills (20 rows). Step 1: a prefill finishing, a decode, a late joiner's
  // prompt (34 rows). Steps 2-4: decodes, one sequence idle, then a long prefill chunk beside
  // decodes (52 rows).
  std::vector<Plan> plans = {{{10, 13, 1, 1, 20}, {}},
                             {{7, 1, 1, 1, 1}, {}},
                             {{0, 20, 20, 1, 1}, {}},
                             {{3, 0, 0, 1, 30}, {}}};
  for (size_t s = 0; s < plans.size(); ++s) {
    size_t n = 0;
    for (size_t c : plans[s].chunks) n += c;
    plans[s].tokens = make_tokens(n, s, n_vocab);
  }
  return plans;
}

// Logits after every position of `tokens`, run alone token by token.
std::vector<std::vector<float>> alone(const Model& model, const std::vector<TokenId>& tokens,
                                      KvCacheType kv) {
  LlamaCpu cpu(model, tokens.size(), 1, kv);
  std::vector<std::vector<float>> out;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    auto logits = cpu.forward(tokens[pos], pos);
    out.emplace_back(logits.begin(), logits.end());
  }
  return out;
}

void expect_bits_equal(std::span<const float> got, std::span<const float> want,
                       const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t differ = 0;
  for (size_t i = 0; i < got.size(); ++i) differ += got[i] != want[i];
  EXPECT_EQ(differ, 0u) << what << ": " << differ << " of " << got.size() << " logits differ";
}

// Runs the plans as a serving engine would and checks every logit row against the solo runs.
void expect_batch_invariant(const Model& model, KvCacheType kv_type, const std::string& what,
                            size_t step_rows = kStepRows) {
  const uint32_t n_vocab = model.config().n_vocab;
  auto plans = mixed_plans(n_vocab);
  std::vector<std::vector<std::vector<float>>> want;
  for (const Plan& p : plans) want.push_back(alone(model, p.tokens, kv_type));

  // forward_batch of a whole sequence equals its token-by-token logits too.
  {
    LlamaCpu cpu(model, plans[0].tokens.size(), 2, kv_type);
    expect_bits_equal(cpu.forward_batch(plans[0].tokens, 0), want[0].back(),
                      what + " forward_batch");
  }

  KvCache cache(model.config(), {.block_tokens = kBlockTokens, .max_blocks = 64, .type = kv_type});
  LlamaCpu cpu(model, cache, step_rows, 2);
  std::vector<KvSequence> kv(plans.size());
  std::vector<size_t> done(plans.size(), 0);
  for (size_t step = 0; step < plans[0].chunks.size(); ++step) {
    std::vector<BatchSequence> batch;
    std::vector<size_t> wanted;  // sequence of each logits row
    for (size_t s = 0; s < plans.size(); ++s) {
      const size_t n = plans[s].chunks[step];
      if (n == 0) continue;
      ASSERT_TRUE(cache.reserve(kv[s], done[s] + n));
      const bool want_logits = (s + step) % 3 != 1;
      batch.push_back(
          {std::span(plans[s].tokens).subspan(done[s], n), done[s], &kv[s], want_logits});
      if (want_logits) wanted.push_back(s);
    }
    auto logits = cpu.forward_step(batch);
    ASSERT_EQ(logits.size(), wanted.size() * n_vocab);
    for (size_t r = 0; r < wanted.size(); ++r) {
      const size_t s = wanted[r];
      const size_t last = done[s] + plans[s].chunks[step] - 1;
      expect_bits_equal(logits.subspan(r * n_vocab, n_vocab), want[s][last],
                        what + " step " + std::to_string(step) + " seq " + std::to_string(s));
    }
    for (size_t s = 0; s < plans.size(); ++s) {
      done[s] += plans[s].chunks[step];
      kv[s].length = done[s];
    }
  }
}

TEST(ForwardStep, EverySequenceGetsItsSoloLogitsOnStories) {
  auto model = Model::load(kStories);
  for (KvCacheType kv : {KvCacheType::f16, KvCacheType::f32}) {
    expect_batch_invariant(*model, kv, kv == KvCacheType::f16 ? "stories f16" : "stories f32");
  }
}

// Chunks of one row (every projection a matvec) and of an odd size that splits sequences.
TEST(ForwardStep, ChunkSizeDoesNotChangeTheLogits) {
  auto model = Model::load(kStories);
  expect_batch_invariant(*model, KvCacheType::f16, "stories 1-row chunks", 1);
  expect_batch_invariant(*model, KvCacheType::f16, "stories 7-row chunks", 7);
}

// A llama model of n_heads query heads over n_kv_heads KV heads of head_dim, 150 positions (3
// attention runs a token): token by token on one thread and on two (decode's few-items split),
// the whole prompt in one batch and the mixed steps all give the same logits bit for bit, F16
// and F32 caches.
void expect_slices_give_solo_logits(uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim,
                                    const std::string& name) {
  auto vocab = vocabulary_from_gguf(*GgufFile::open(kStories));
  SyntheticPreset preset = testing::tiny_preset("llama", true, 2);
  preset.name = "tiny-llama-" + name;
  preset.config.n_heads = n_heads;
  preset.config.n_kv_heads = n_kv_heads;
  preset.config.head_dim = head_dim;
  preset.config.rope_dim = head_dim;
  preset.config.dim = n_heads * head_dim;
  auto path = std::filesystem::temp_directory_path() / ("sy_step_" + name + ".gguf");
  write_synthetic_model(preset, vocab, {.type = TensorType::q8_0, .seed = 9}, path);
  auto model = Model::load(path);
  const auto tokens = make_tokens(150, 3, model->config().n_vocab);
  for (KvCacheType kv : {KvCacheType::f16, KvCacheType::f32}) {
    const std::string what = name + (kv == KvCacheType::f16 ? " f16" : " f32");
    const auto want = alone(*model, tokens, kv);
    LlamaCpu two(*model, tokens.size(), 2, kv);
    for (size_t pos = 0; pos < tokens.size(); ++pos) {
      expect_bits_equal(two.forward(tokens[pos], pos), want[pos],
                        what + " 2 threads pos " + std::to_string(pos));
    }
    LlamaCpu batch(*model, tokens.size(), 2, kv);
    expect_bits_equal(batch.forward_batch(tokens, 0), want.back(), what + " batch");
    expect_batch_invariant(*model, kv, what);
  }
  std::filesystem::remove(path);
}

// Many KV heads: 20 of them are attended side by side (LlamaCpu::kSideBySideHeads), through the
// attention_*_heads_f16 kernels, in every step.
TEST(ForwardStep, WideKvSlicesGiveTheSoloLogitsOverSeveralRuns) {
  expect_slices_give_solo_logits(20, 20, 16, "wide-kv");
}

// SmolLM2-135M's and -360M's attention shapes (3 and 5 KV heads of 64, groups of 3), head by
// head, decode's runs shared by two threads.
TEST(ForwardStep, FewKvHeadsHeadByHeadGiveTheSoloLogitsInDecode) {
  expect_slices_give_solo_logits(9, 3, 64, "kv3-of-64");
  expect_slices_give_solo_logits(15, 5, 64, "kv5-of-64");
}

class ForwardStepFamilies : public ::testing::TestWithParam<std::string> {};

TEST_P(ForwardStepFamilies, EverySequenceGetsItsSoloLogits) {
  auto vocab = vocabulary_from_gguf(*GgufFile::open(kStories));
  for (TensorType type : {TensorType::f32, TensorType::q8_0}) {
    const SyntheticPreset preset = testing::tiny_preset(GetParam(), type != TensorType::f32, 3);
    auto path = std::filesystem::temp_directory_path() /
                ("sy_step_" + preset.name + "_" + std::string(to_string(type)) + ".gguf");
    write_synthetic_model(preset, vocab, {.type = type, .seed = 5}, path);
    auto model = Model::load(path);
    for (KvCacheType kv : {KvCacheType::f16, KvCacheType::f32}) {
      expect_batch_invariant(*model, kv,
                             GetParam() + " " + std::string(to_string(type)) +
                                 (kv == KvCacheType::f16 ? " f16 cache" : " f32 cache"));
    }
    std::filesystem::remove(path);
  }
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, ForwardStepFamilies,
                         ::testing::Values("llama", "qwen2", "qwen3", "gemma2", "gemma3"),
                         [](const auto& info) { return info.param; });

// The Q/K/V projection's KV prefetch plan: over any number of parts, exactly the keys and values
// of one layer that the step's decode rows attend (positions before their own, which is stored
// after the projection), each position's rows once, inside the cache; nothing for prefill rows,
// nor for a cache whose pieces are long.
TEST(ForwardStepKvPrefetch, PlansExactlyTheDecodeRowsCachedPositions) {
  auto vocab = vocabulary_from_gguf(*GgufFile::open(kStories));
  const SyntheticPreset preset = testing::tiny_preset("gemma2", true, 3);  // 5-position window
  auto path = std::filesystem::temp_directory_path() / "sy_step_kv_prefetch.gguf";
  write_synthetic_model(preset, vocab, {.type = TensorType::q8_0, .seed = 5}, path);
  auto model = Model::load(path);
  std::filesystem::remove(path);
  const ModelConfig& c = model->config();
  KvCache cache(c, {.block_tokens = kBlockTokens, .max_blocks = 32});
  LlamaCpu cpu(*model, cache, kStepRows, 2);
  KvSequence a, b, d, e;
  for (KvSequence* s : {&a, &b, &d, &e}) ASSERT_TRUE(cache.reserve(*s, 20));
  // a decodes at 9, b prefills 2 rows, d decodes at 0 (nothing cached), e decodes at 13.
  const std::vector<LlamaCpu::Row> rows = {
      {&a, 9, 1}, {&b, 3, 1}, {&b, 4, 1}, {&d, 0, 1}, {&e, 13, 1}};
  const size_t row_bytes = size_t{c.n_kv_heads} * c.head_dim * sizeof(uint16_t);
  // The 64-byte lines holding bytes [p, p + n).
  auto lines_of = [](const void* p, size_t n, std::set<uintptr_t>& out) {
    const auto at = reinterpret_cast<uintptr_t>(p);
    for (uintptr_t line = at / 64 * 64; line < at + n; line += 64) out.insert(line);
  };
  for (size_t layer : {size_t{0}, size_t{1}}) {  // gemma2: layer 0 sliding, layer 1 global
    std::set<uintptr_t> want;
    for (size_t r : {size_t{0}, size_t{4}}) {
      const LlamaCpu::Row& row = rows[r];
      const size_t first =
          c.is_sliding(layer) && row.pos >= c.sliding_window ? row.pos - c.sliding_window + 1 : 0;
      for (size_t p = first; p < row.pos; ++p) {
        const BlockId block = row.kv->blocks[p / kBlockTokens];
        const size_t at = p % kBlockTokens * c.n_kv_heads * c.head_dim;
        lines_of(cache.keys_f16(block, layer) + at, row_bytes, want);
        lines_of(cache.values_f16(block, layer) + at, row_bytes, want);
      }
    }
    for (size_t parts : {1, 2, 3, 7}) {
      std::set<uintptr_t> got;
      size_t planned = 0, spans = 0;  // over all parts: a line two spans share counts twice
      for (size_t part = 0; part < parts; ++part) {
        kernels::SidePrefetch side;
        cpu.plan_kv_prefetch({layer, rows.data(), rows.size()}, part, parts, side);
        for (const auto& span : side.spans()) lines_of(span.begin, span.lines * 64, got);
        planned += side.lines();
        spans += side.spans().size();
      }
      EXPECT_EQ(got, want) << "layer " << layer << ", " << parts << " parts";
      EXPECT_LE(planned, want.size() + spans) << "a line at most once a span";
    }
  }
  // Pieces longer than kKvPrefetchPieceBytes are left to the hardware prefetchers.
  const size_t long_block = LlamaCpu::kKvPrefetchPieceBytes / row_bytes + 1;
  KvCache long_cache(c, {.block_tokens = long_block, .max_blocks = 2});
  LlamaCpu long_cpu(*model, long_cache, kStepRows, 2);
  KvSequence f;
  ASSERT_TRUE(long_cache.reserve(f, 20));
  const LlamaCpu::Row decode{&f, 9, 1};
  kernels::SidePrefetch side;
  long_cpu.plan_kv_prefetch({1, &decode, 1}, 0, 1, side);
  EXPECT_EQ(side.lines(), 0u);
  EXPECT_TRUE(LlamaCpu::decode_row(rows.data(), rows.size(), 0));
  EXPECT_FALSE(LlamaCpu::decode_row(rows.data(), rows.size(), 1));
  EXPECT_FALSE(LlamaCpu::decode_row(rows.data(), rows.size(), 2));
}

// A prompt whose leading blocks another sequence computed and published skips them, and still
// gets the cold run's logits: the cached keys and values are the ones it would have computed.
void expect_prefix_hits_match_cold_runs(const Model& model, const std::string& what) {
  const uint32_t n_vocab = model.config().n_vocab;
  KvCache cache(model.config(), {.block_tokens = kBlockTokens, .max_blocks = 32});
  LlamaCpu cpu(model, cache, kStepRows, 2);
  auto first = make_tokens(30, 1, n_vocab);
  auto second = first;  // shares 22 tokens: 5 whole blocks
  auto tail = make_tokens(8, 2, n_vocab);
  std::copy(tail.begin(), tail.end(), second.begin() + 22);
  auto want_first = alone(model, first, KvCacheType::f16);
  auto want_second = alone(model, second, KvCacheType::f16);

  KvSequence a;
  EXPECT_EQ(cache.attach_prefix(a, first), 0u);
  ASSERT_TRUE(cache.reserve(a, first.size()));
  BatchSequence run_a{first, 0, &a, true};
  expect_bits_equal(cpu.forward_step(std::span(&run_a, 1)), want_first.back(), what + " cold");
  a.length = first.size();
  cache.publish(a, first);
  cache.release(a);

  // Two sequences attach at once, sharing blocks, and run in one step.
  KvSequence b, c;
  EXPECT_EQ(cache.attach_prefix(b, second), 20u);
  EXPECT_EQ(cache.attach_prefix(c, first), 28u);  // the last token must run
  ASSERT_TRUE(cache.reserve(b, second.size() - 1));
  ASSERT_TRUE(cache.reserve(c, first.size()));
  std::vector<BatchSequence> batch = {
      {std::span(second).subspan(20, second.size() - 21), 20, &b, true},
      {std::span(first).subspan(28), 28, &c, true}};
  auto logits = cpu.forward_step(batch);
  ASSERT_EQ(logits.size(), 2u * n_vocab);
  expect_bits_equal(logits.first(n_vocab), want_second[second.size() - 2], what + " hit");
  expect_bits_equal(logits.subspan(n_vocab), want_first.back(), what + " full hit");
  b.length = second.size() - 1;
  ASSERT_TRUE(cache.reserve(b, second.size()));
  BatchSequence decode{std::span(second).last(1), second.size() - 1, &b, true};
  expect_bits_equal(cpu.forward_step(std::span(&decode, 1)), want_second.back(),
                    what + " decode after hit");
}

TEST(ForwardStepPrefixCache, AttachedPrefixGivesTheColdRunsLogits) {
  auto model = Model::load(kStories);
  expect_prefix_hits_match_cold_runs(*model, "stories");
  auto vocab = vocabulary_from_gguf(*GgufFile::open(kStories));
  const SyntheticPreset preset = testing::tiny_preset("gemma3", true, 3);
  auto path = std::filesystem::temp_directory_path() / "sy_step_prefix_gemma3.gguf";
  write_synthetic_model(preset, vocab, {.type = TensorType::q8_0, .seed = 9}, path);
  expect_prefix_hits_match_cold_runs(*Model::load(path), "gemma3");
  std::filesystem::remove(path);
}

TEST(ForwardStepLimits, RefusesBadStepsBeforeTouchingTheCache) {
  auto model = Model::load(kStories);
  KvCache cache(model->config(), {.block_tokens = kBlockTokens, .max_blocks = 8});
  LlamaCpu cpu(*model, cache, kStepRows);
  KvSequence seq;
  ASSERT_TRUE(cache.reserve(seq, 4));
  std::vector<TokenId> tokens = {1, 2, 3, 4, 5};
  EXPECT_THROW(cpu.forward_step({}), EngineError);
  BatchSequence too_far{tokens, 0, &seq, true};
  EXPECT_THROW(cpu.forward_step(std::span(&too_far, 1)), EngineError);
  BatchSequence empty{std::span(tokens).first(0), 0, &seq, true};
  EXPECT_THROW(cpu.forward_step(std::span(&empty, 1)), EngineError);
  BatchSequence no_kv{std::span(tokens).first(2), 0, nullptr, true};
  EXPECT_THROW(cpu.forward_step(std::span(&no_kv, 1)), EngineError);
  std::vector<TokenId> bad = {1, 100000};
  BatchSequence bad_token{bad, 0, &seq, true};
  EXPECT_THROW(cpu.forward_step(std::span(&bad_token, 1)), EngineError);
  // No logits wanted: the step still runs and stores keys and values.
  BatchSequence silent{std::span(tokens).first(4), 0, &seq, false};
  EXPECT_TRUE(cpu.forward_step(std::span(&silent, 1)).empty());

  seq.length = 4;
  cache.publish(seq, tokens);
  BatchSequence rewrite{std::span(tokens).first(1), 3, &seq, true};
  EXPECT_THROW(cpu.forward_step(std::span(&rewrite, 1)), EngineError);  // shareable block

  EXPECT_THROW(cpu.forward(1, 0), EngineError);  // no private cache in serving mode
  ModelConfig other = model->config();
  other.n_kv_heads *= 2;
  KvCache wrong(other, {.block_tokens = kBlockTokens, .max_blocks = 8});
  EXPECT_THROW(LlamaCpu(*model, wrong, kStepRows), EngineError);
  EXPECT_THROW(LlamaCpu(*model, cache, 0), EngineError);
}

}  // namespace
}  // namespace sy::engine
