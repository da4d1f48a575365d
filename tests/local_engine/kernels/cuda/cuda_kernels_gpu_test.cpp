// Each CUDA kernel (through cuda_api.h) against the host math it is built from, on random inputs
// of awkward sizes; cuda_math_test.cpp ties that host math to the CPU generic kernels, so these
// two together compare the GPU with the CPU path. Label gpu: without a CUDA device every test
// skips, saying so. Bounds: matmul within 1e-4 of sum |w x| (+1e-6) of a double oracle over the
// dequantized weights; norms, RoPE, softmax, activations, embedding and attention within 1e-4
// relative (the device fuses multiply-adds and sums in another order).

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "kernels/cuda/attention_math.h"
#include "kernels/cuda/cuda_api.h"
#include "kernels/cuda/device_buffer.h"
#include "runtime/llama_cuda.h"

namespace sy::engine::cuda {
namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

class CudaKernels : public ::testing::Test {
 protected:
  void SetUp() override {
    const CudaDeviceSummary device = describe_cuda_device();
    if (!device.found) GTEST_SKIP() << "no GPU, CUDA kernel test not run: " << device.text;
  }
  template <class T>
  DeviceBuffer upload(const std::vector<T>& v) {
    DeviceBuffer b;
    EXPECT_TRUE(DeviceBuffer::allocate(v.size() * sizeof(T), b).ok());
    const Status s = copy_to_device(b.get(), v.data(), v.size() * sizeof(T));
    EXPECT_TRUE(s.ok()) << s.error;
    return b;
  }
  template <class T>
  std::vector<T> download(const DeviceBuffer& b, size_t n) {
    std::vector<T> v(n);
    const Status s = copy_to_host(v.data(), b.get(), n * sizeof(T));
    EXPECT_TRUE(s.ok()) << s.error;
    return v;
  }
};

std::vector<uint8_t> encode(WeightType type, const std::vector<float>& w, size_t rows,
                            size_t cols) {
  std::vector<uint8_t> out(rows * row_bytes(type, cols));
  for (size_t r = 0; r < rows; ++r) {
    const float* x = w.data() + r * cols;
    uint8_t* o = out.data() + r * row_bytes(type, cols);
    if (type == WeightType::f32) std::memcpy(o, x, cols * 4);
    if (type == WeightType::f16 || type == WeightType::bf16) {
      for (size_t i = 0; i < cols; ++i) {
        const uint16_t h =
            type == WeightType::f16 ? kernels::fp32_to_fp16(x[i]) : kernels::fp32_to_bf16(x[i]);
        std::memcpy(o + 2 * i, &h, 2);
      }
    }
    if (type == WeightType::q8_0)
      kernels::quantize_row_q8_0(x, reinterpret_cast<kernels::BlockQ8_0*>(o), cols);
    if (type == WeightType::q4_0)
      kernels::quantize_row_q4_0(x, reinterpret_cast<kernels::BlockQ4_0*>(o), cols);
    if (type == WeightType::q4_k)
      kernels::quantize_row_q4_k(x, reinterpret_cast<kernels::BlockQ4_K*>(o), cols);
    if (type == WeightType::q6_k)
      kernels::quantize_row_q6_k(x, reinterpret_cast<kernels::BlockQ6_K*>(o), cols);
  }
  return out;
}

TensorType tensor_type(WeightType t) {
  constexpr TensorType map[] = {TensorType::f32,  TensorType::f16,  TensorType::bf16,
                                TensorType::q8_0, TensorType::q4_0, TensorType::q4_k,
                                TensorType::q6_k};
  return map[static_cast<int>(t)];
}

TEST_F(CudaKernels, MatmulOfEveryFormatAndKernelMatchesDequantizedOracle) {
  for (WeightType t : {WeightType::f32, WeightType::f16, WeightType::bf16, WeightType::q8_0,
                       WeightType::q4_0, WeightType::q4_k, WeightType::q6_k}) {
    const size_t rows = 67;
    const size_t cols = block_elements(t) == 256 ? 768 : block_elements(t) == 32 ? 224 : 172;
    const auto w = random_floats(rows * cols, 5 + static_cast<uint32_t>(t), 0.5f);
    const auto bytes = encode(t, w, rows, cols);
    std::vector<float> wd(rows * cols);
    kernels::dequantize(tensor_type(t),
                        std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
                        wd);
    DeviceBuffer dw = upload(bytes);
    for (size_t n : {size_t{1}, size_t{5}, size_t{11}, size_t{70}}) {
      const auto x = random_floats(n * cols, 50 + static_cast<uint32_t>(n));
      DeviceBuffer dx = upload(x);
      for (MatmulKernel kernel : {MatmulKernel::warp_rows, MatmulKernel::tiled}) {
        DeviceBuffer dout;
        ASSERT_TRUE(DeviceBuffer::allocate(n * rows * sizeof(float), dout).ok());
        const Status s =
            matmul(t, dw.get(), rows, cols, dx.as<float>(), n, dout.as<float>(), kernel);
        ASSERT_TRUE(s.ok()) << s.error;
        const auto got = download<float>(dout, n * rows);
        for (size_t tok = 0; tok < n; ++tok) {
          for (size_t r = 0; r < rows; ++r) {
            double want = 0, magnitude = 0;
            for (size_t k = 0; k < cols; ++k) {
              want += double(wd[r * cols + k]) * x[tok * cols + k];
              magnitude += std::fabs(double(wd[r * cols + k]) * x[tok * cols + k]);
            }
            ASSERT_NEAR(got[tok * rows + r], want, 1e-4 * magnitude + 1e-6)
                << "type " << static_cast<int>(t) << " tokens " << n << " kernel "
                << static_cast<int>(kernel) << " token " << tok << " row " << r;
          }
        }
      }
    }
  }
}

TEST_F(CudaKernels, EmbedRmsNormGatedSoftmaxMatchHostMath) {
  const size_t vocab = 50, dim = 96, rows = 3;
  const auto table = random_floats(vocab * dim, 1);
  const auto bytes = encode(WeightType::q8_0, table, vocab, dim);
  std::vector<float> wd(vocab * dim);
  kernels::dequantize(TensorType::q8_0,
                      std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()),
                      wd);
  const std::vector<int32_t> tokens = {7, 0, 49};
  DeviceBuffer dtable = upload(bytes), dtokens = upload(tokens), dx;
  ASSERT_TRUE(DeviceBuffer::allocate(rows * dim * sizeof(float), dx).ok());
  ASSERT_TRUE(
      embed(WeightType::q8_0, dtable.get(), dim, dtokens.as<int32_t>(), rows, 1.5f, dx.as<float>())
          .ok());
  auto x = download<float>(dx, rows * dim);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t i = 0; i < dim; ++i) {
      ASSERT_NEAR(x[r * dim + i], wd[tokens[r] * dim + i] * 1.5f, 1e-6);
    }
  }
  const auto weight = random_floats(dim, 2);
  DeviceBuffer dweight = upload(weight);
  ASSERT_TRUE(rms_norm(dx.as<float>(), dweight.as<float>(), rows, dim, 1e-5f, dx.as<float>()).ok());
  const auto normed = download<float>(dx, rows * dim);
  for (size_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (size_t i = 0; i < dim; ++i) ss += double(x[r * dim + i]) * x[r * dim + i];
    const double f = 1.0 / std::sqrt(ss / dim + 1e-5);
    for (size_t i = 0; i < dim; ++i) {
      const double want = x[r * dim + i] * f * weight[i];
      ASSERT_NEAR(normed[r * dim + i], want, 1e-4 * (1 + std::fabs(want)));
    }
  }
  const size_t n = 1001;
  const auto gate = random_floats(n, 3, 3.0f), up = random_floats(n, 4);
  DeviceBuffer dgate = upload(gate), dup = upload(up);
  for (bool gelu : {false, true}) {
    DeviceBuffer dg = upload(gate);
    ASSERT_TRUE(gated_ffn(dg.as<float>(), dup.as<float>(), n, gelu).ok());
    const auto got = download<float>(dg, n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_NEAR(got[i], gated(gate[i], up[i], gelu), 1e-5 * (1 + std::fabs(got[i])));
    }
  }
  // Softmax rows with a masked (-inf) tail, as attention uses it.
  auto scores = random_floats(2 * 300, 6, 4.0f);
  for (size_t i = 250; i < 300; ++i) scores[300 + i] = -INFINITY;
  DeviceBuffer ds = upload(scores);
  ASSERT_TRUE(softmax_rows(ds.as<float>(), 2, 300).ok());
  const auto probs = download<float>(ds, 600);
  for (size_t r = 0; r < 2; ++r) {
    double max = -INFINITY, sum = 0;
    for (size_t i = 0; i < 300; ++i) max = std::max<double>(max, scores[r * 300 + i]);
    for (size_t i = 0; i < 300; ++i) sum += std::exp(scores[r * 300 + i] - max);
    for (size_t i = 0; i < 300; ++i) {
      const double want = std::exp(scores[r * 300 + i] - max) / sum;
      ASSERT_NEAR(probs[r * 300 + i], want, 1e-5 * (1 + want));
    }
  }
}

TEST_F(CudaKernels, RopeOfBothStylesMatchesHostMath) {
  const size_t rows = 3, heads = 5, head_dim = 20, rope_dim = 16, half = rope_dim / 2;
  const std::vector<int32_t> positions = {0, 17, 4095};
  std::vector<float> inv(half);
  for (size_t i = 0; i < half; ++i) inv[i] = std::pow(10000.0f, -float(2 * i) / rope_dim);
  for (bool neox : {false, true}) {
    const auto v = random_floats(rows * heads * head_dim, neox ? 8 : 9);
    DeviceBuffer dv = upload(v), dpos = upload(positions), dinv = upload(inv);
    ASSERT_TRUE(rope(dv.as<float>(), rows, heads, head_dim, rope_dim, dpos.as<int32_t>(),
                     dinv.as<float>(), neox)
                    .ok());
    const auto got = download<float>(dv, v.size());
    auto want = v;
    for (size_t r = 0; r < rows; ++r) {
      for (size_t h = 0; h < heads; ++h) {
        float* head = want.data() + (r * heads + h) * head_dim;
        for (size_t i = 0; i < half; ++i) {
          const float angle = float(positions[r]) * inv[i];
          size_t a, b;
          rope_pair(i, half, neox, a, b);
          rope_rotate(head[a], head[b], std::cos(angle), std::sin(angle));
        }
      }
    }
    for (size_t i = 0; i < v.size(); ++i)
      ASSERT_NEAR(got[i], want[i], 1e-4 * (1 + std::fabs(want[i])));
  }
}

// Prefill-like rows (three consecutive positions) and a GQA map (6 query heads on 2 KV heads),
// head_dim 40, a non-identity block table, with and without a sliding window.
TEST_F(CudaKernels, AttentionOverPagedCacheMatchesHostMath) {
  const size_t bt = 4, n_layers = 2, n_kv = 2, head_dim = 40, n_heads = 6, layer = 1;
  const size_t kv_width = n_kv * head_dim;
  const std::vector<uint32_t> table = {3, 0, 5, 1, 2, 4};  // 24 positions
  const size_t n_blocks = 6;
  std::vector<uint16_t> storage(n_blocks * n_layers * 2 * bt * kv_width);
  const auto fill = random_floats(storage.size(), 31);
  for (size_t i = 0; i < storage.size(); ++i) storage[i] = float_to_half(fill[i]);
  const std::vector<int32_t> positions = {20, 21, 22};
  const std::vector<uint32_t> offsets = {0, 0, 0};
  DeviceBuffer dstore = upload(storage), dtable = upload(table), dpos = upload(positions),
               doff = upload(offsets);
  const PagedKv kv{dstore.as<uint16_t>(), bt, n_layers, n_kv, head_dim};
  const StepRows rows{3, dpos.as<int32_t>(), dtable.as<uint32_t>(), doff.as<uint32_t>()};
  // Store this step's keys and values first (the layer's rows at positions 20..22).
  const auto k = random_floats(3 * kv_width, 32), v = random_floats(3 * kv_width, 33);
  DeviceBuffer dk = upload(k), dv = upload(v);
  ASSERT_TRUE(store_kv(kv, layer, rows, dk.as<float>(), dv.as<float>()).ok());
  for (size_t r = 0; r < 3; ++r) {
    for (size_t e = 0; e < kv_width; ++e) {
      const size_t at =
          kv_offset(table.data(), positions[r], bt, n_layers, layer, 0, kv_width, 0, head_dim) + e;
      storage[at] = float_to_half(k[r * kv_width + e]);
      storage[at + bt * kv_width] = float_to_half(v[r * kv_width + e]);
    }
  }
  EXPECT_EQ(download<uint16_t>(dstore, storage.size()), storage);
  const auto q = random_floats(3 * n_heads * head_dim, 34);
  DeviceBuffer dq = upload(q);
  const size_t max_span = 23;
  const float scale = 1.0f / std::sqrt(float(head_dim));
  for (size_t window : {size_t{0}, size_t{7}}) {
    DeviceBuffer dscores, dout;
    ASSERT_TRUE(DeviceBuffer::allocate(3 * n_heads * max_span * 4, dscores).ok());
    ASSERT_TRUE(DeviceBuffer::allocate(q.size() * 4, dout).ok());
    const Status s = attention(kv, layer, rows, dq.as<float>(), n_heads, scale, 0.0f, window,
                               max_span, dscores.as<float>(), dout.as<float>());
    ASSERT_TRUE(s.ok()) << s.error;
    const auto got = download<float>(dout, q.size());
    for (size_t r = 0; r < 3; ++r) {
      const size_t pos = positions[r], first = first_visible(pos, window);
      for (size_t h = 0; h < n_heads; ++h) {
        const size_t kvh = h / (n_heads / n_kv);
        std::vector<double> p(max_span, 0.0);
        double max = -INFINITY, sum = 0;
        for (size_t t = first; t <= pos; ++t) {
          const size_t at =
              kv_offset(table.data(), t, bt, n_layers, layer, 0, kv_width, kvh, head_dim);
          p[t] = attention_score(q.data() + (r * n_heads + h) * head_dim, storage.data() + at,
                                 head_dim, scale, 0.0f);
          max = std::max(max, p[t]);
        }
        for (size_t t = first; t <= pos; ++t) sum += (p[t] = std::exp(p[t] - max));
        for (size_t d = 0; d < head_dim; ++d) {
          double want = 0;
          for (size_t t = first; t <= pos; ++t) {
            const size_t at =
                kv_offset(table.data(), t, bt, n_layers, layer, 1, kv_width, kvh, head_dim);
            want += p[t] / sum * half_to_float(storage[at + d]);
          }
          ASSERT_NEAR(got[(r * n_heads + h) * head_dim + d], want, 1e-4 * (1 + std::fabs(want)))
              << "window " << window << " row " << r << " head " << h << " dim " << d;
        }
      }
    }
  }
}

TEST_F(CudaKernels, DeviceToDeviceBandwidthIsMeasured) {
  double bytes_per_second = 0;
  const Status s = measure_copy_bandwidth(size_t{64} << 20, 5, bytes_per_second);
  ASSERT_TRUE(s.ok()) << s.error;
  EXPECT_GT(bytes_per_second, 1e9);
  std::printf("device-to-device copy: %.1f GB/s\n", bytes_per_second / 1e9);
}

}  // namespace
}  // namespace sy::engine::cuda
