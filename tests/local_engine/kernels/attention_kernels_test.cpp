// attention_values_f16 of every kernel set: against the generic set within the dots' bound, and
// its invariances bit for bit (the contract in cpu_kernels.h): queries one at a time or together,
// a range of rows in one call or split into consecutive calls (as pages of a cache would be).
// attention_scores_f16 equals the set's dot bit for bit, and the slice-of-heads kernels
// (attention_*_heads_f16) equal the set's single-head kernels head by head, bit for bit.

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "local_engine/kernels/kernel_test_support.h"

namespace sy::engine::kernels {
namespace {

using testing::random_floats;

struct Shape {
  size_t head_dim, n_rows, n_queries;
};
// Head widths cover every number of vector chunks in one pass and partial chunks; query counts
// every group size up to 4 and remainders.
constexpr Shape kShapes[] = {{64, 1, 1},   {64, 33, 3}, {80, 17, 5}, {7, 9, 2},
                             {128, 40, 4}, {24, 5, 9},  {48, 6, 2},  {100, 3, 7}};

// Values (n_rows, row_stride) as F16 with each row's head in the first head_dim halves; probs
// (n_queries, probs_stride); out (n_queries, head_dim) starting from random values.
struct Inputs {
  size_t row_stride, probs_stride;
  std::vector<uint16_t> values;
  std::vector<float> probs, out;
};

Inputs make_inputs(std::mt19937& rng, Shape s) {
  Inputs in;
  in.row_stride = 3 * s.head_dim;  // the heads of one position side by side, as in a cache
  in.probs_stride = s.n_rows + 3;
  for (float v : random_floats(rng, s.n_rows * in.row_stride)) in.values.push_back(fp32_to_fp16(v));
  std::uniform_real_distribution<float> p(0.0f, 1.0f);
  in.probs.resize(s.n_queries * in.probs_stride);
  for (auto& v : in.probs) v = p(rng);
  in.out = random_floats(rng, s.n_queries * s.head_dim);
  return in;
}

std::vector<const CpuKernels*> all_sets() {
  std::vector<const CpuKernels*> sets = testing::optimized_sets();
  sets.insert(sets.begin(), &generic_cpu_kernels());
  return sets;
}

TEST(AttentionKernels, ValuesMatchGenericWithinBound) {
  std::mt19937 rng(41);
  for (Shape s : kShapes) {
    const Inputs in = make_inputs(rng, s);
    std::vector<float> want = in.out;
    generic_cpu_kernels().attention_values_f16(in.values.data(), in.row_stride, s.n_rows,
                                               in.probs.data(), in.probs_stride, s.n_queries,
                                               s.head_dim, want.data());
    for (const CpuKernels* k : testing::optimized_sets()) {
      std::vector<float> got = in.out;
      k->attention_values_f16(in.values.data(), in.row_stride, s.n_rows, in.probs.data(),
                              in.probs_stride, s.n_queries, s.head_dim, got.data());
      for (size_t g = 0; g < s.n_queries; ++g) {
        for (size_t i = 0; i < s.head_dim; ++i) {
          double magnitude = std::fabs(in.out[g * s.head_dim + i]);
          for (size_t t = 0; t < s.n_rows; ++t) {
            magnitude += std::fabs(in.probs[g * in.probs_stride + t] *
                                   fp16_to_fp32(in.values[t * in.row_stride + i]));
          }
          EXPECT_NEAR(got[g * s.head_dim + i], want[g * s.head_dim + i], 5e-6 * magnitude + 1e-7)
              << k->isa << " head_dim=" << s.head_dim << " g=" << g << " i=" << i;
        }
      }
    }
  }
}

TEST(AttentionKernels, ValuesAreTheSameBitsWhateverTheQueryGroupingAndRowSplit) {
  std::mt19937 rng(42);
  for (const CpuKernels* k : all_sets()) {
    for (Shape s : kShapes) {
      const Inputs in = make_inputs(rng, s);
      std::vector<float> together = in.out;
      k->attention_values_f16(in.values.data(), in.row_stride, s.n_rows, in.probs.data(),
                              in.probs_stride, s.n_queries, s.head_dim, together.data());
      std::vector<float> one_by_one = in.out;
      for (size_t g = 0; g < s.n_queries; ++g) {
        k->attention_values_f16(in.values.data(), in.row_stride, s.n_rows,
                                in.probs.data() + g * in.probs_stride, in.probs_stride, 1,
                                s.head_dim, one_by_one.data() + g * s.head_dim);
      }
      EXPECT_EQ(one_by_one, together) << k->isa << " head_dim=" << s.head_dim;
      std::vector<float> split = in.out;
      const size_t a = s.n_rows / 3;
      k->attention_values_f16(in.values.data(), in.row_stride, a, in.probs.data(), in.probs_stride,
                              s.n_queries, s.head_dim, split.data());
      k->attention_values_f16(in.values.data() + a * in.row_stride, in.row_stride, s.n_rows - a,
                              in.probs.data() + a, in.probs_stride, s.n_queries, s.head_dim,
                              split.data());
      EXPECT_EQ(split, together) << k->isa << " head_dim=" << s.head_dim;
    }
  }
}

TEST(AttentionKernels, ScoresEqualTheSetsDotBitForBit) {
  std::mt19937 rng(43);
  // Widths with the fused paths (64, 128, 256) and without; strides as in a cache.
  const Shape shapes[] = {{64, 1, 1}, {64, 37, 3}, {128, 16, 4}, {256, 5, 2},
                          {80, 9, 5}, {7, 4, 2},   {32, 3, 9},   {64, 20, 8}};
  for (const CpuKernels* k : all_sets()) {
    for (Shape s : shapes) {
      const size_t row_stride = 3 * s.head_dim, scores_stride = s.n_rows + 5;
      std::vector<uint16_t> keys;
      for (float v : random_floats(rng, s.n_rows * row_stride)) keys.push_back(fp32_to_fp16(v));
      const std::vector<float> q = random_floats(rng, s.n_queries * s.head_dim);
      std::vector<float> scores(s.n_queries * scores_stride, -7.0f);
      k->attention_scores_f16(keys.data(), row_stride, s.n_rows, q.data(), s.n_queries, s.head_dim,
                              scores.data(), scores_stride);
      for (size_t g = 0; g < s.n_queries; ++g) {
        for (size_t t = 0; t < scores_stride; ++t) {
          const float got = scores[g * scores_stride + t];
          if (t >= s.n_rows) {
            EXPECT_EQ(got, -7.0f) << "wrote past the rows";
            continue;
          }
          const float want =
              k->dot_f16_f32(keys.data() + t * row_stride, q.data() + g * s.head_dim, s.head_dim);
          EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want))
              << k->isa << " head_dim " << s.head_dim << " row " << t << " query " << g;
        }
      }
    }
  }
}

TEST(AttentionKernels, HeadsKernelsEqualTheSingleHeadKernelsBitForBit) {
  std::mt19937 rng(47);
  struct HeadsShape {
    size_t head_dim, n_rows, n_heads, group;
  };
  // The fused widths and others, one head and several, groups of 1 to 5, odd row counts.
  const HeadsShape shapes[] = {{64, 1, 1, 1},
                               {64, 37, 3, 3},
                               {64, 9, 16, 1},
                               {128, 16, 2, 4},
                               {80, 7, 5, 3},
                               {7, 5, 3, 2},
                               {256, 3, 2, 5},
                               {64, 64, 4, 3},
                               {128, 11, 3, 2},
                               // narrow rows in 16-row tiles (AVX-512), with tails
                               {64, 50, 5, 3},
                               {128, 33, 4, 1},
                               {64, 40, 8, 2},
                               {64, 17, 2, 4},
                               // wide rows in 16-row tiles: SmolLM2-1.7B, Llama-3-8B
                               {64, 40, 32, 1},
                               {128, 35, 8, 4}};
  for (const CpuKernels* k : all_sets()) {
    for (HeadsShape s : shapes) {
      // A cache row holds n_heads + 1 heads (the slice starts at head 1); scores/probs are
      // (n_heads * group, stride); outputs head_dim * group + 5 floats apart per head.
      const size_t row_stride = (s.n_heads + 1) * s.head_dim, stride = s.n_rows + 4;
      const size_t qs = s.n_heads * s.group, out_stride = s.group * s.head_dim + 5;
      std::vector<uint16_t> cache;
      for (float v : random_floats(rng, s.n_rows * row_stride)) cache.push_back(fp32_to_fp16(v));
      const uint16_t* slice = cache.data() + s.head_dim;
      const std::vector<float> q = random_floats(rng, qs * s.head_dim);
      std::vector<float> got(qs * stride, -7.0f), want(qs * stride, -7.0f);
      k->attention_scores_heads_f16(slice, row_stride, s.n_rows, s.n_heads, q.data(), s.group,
                                    s.head_dim, got.data(), stride);
      for (size_t h = 0; h < s.n_heads; ++h) {
        k->attention_scores_f16(slice + h * s.head_dim, row_stride, s.n_rows,
                                q.data() + h * s.group * s.head_dim, s.group, s.head_dim,
                                want.data() + h * s.group * stride, stride);
      }
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
            << k->isa << " scores, head_dim " << s.head_dim << " heads " << s.n_heads << " at "
            << i;
      }
      std::vector<float> probs = random_floats(rng, qs * stride);
      for (float& p : probs) p = std::fabs(p);
      std::vector<float> out_got = random_floats(rng, s.n_heads * out_stride);
      std::vector<float> out_want = out_got;
      k->attention_values_heads_f16(slice, row_stride, s.n_rows, s.n_heads, probs.data(), stride,
                                    s.group, s.head_dim, out_got.data(), out_stride);
      for (size_t h = 0; h < s.n_heads; ++h) {
        k->attention_values_f16(slice + h * s.head_dim, row_stride, s.n_rows,
                                probs.data() + h * s.group * stride, stride, s.group, s.head_dim,
                                out_want.data() + h * out_stride);
      }
      for (size_t i = 0; i < out_got.size(); ++i) {
        ASSERT_EQ(std::bit_cast<uint32_t>(out_got[i]), std::bit_cast<uint32_t>(out_want[i]))
            << k->isa << " values, head_dim " << s.head_dim << " heads " << s.n_heads << " at "
            << i;
      }
    }
  }
}

}  // namespace
}  // namespace sy::engine::kernels
