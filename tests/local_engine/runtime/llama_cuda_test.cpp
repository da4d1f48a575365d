// The CUDA pass where there is no GPU (this is what CI exercises): device discovery reports
// none without failing, and asking for the GPU pass is a clear EngineError, not an abort.
// On a machine with a GPU these tests check the opposite half instead.

#include <gtest/gtest.h>

#include <filesystem>

#include "kernels/cuda/cuda_api.h"
#include "runtime/llama_cuda.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/model.h"

namespace sy::engine {
namespace {

const std::filesystem::path kStories =
    std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K/stories260K.gguf";

TEST(LlamaCuda, DeviceDiscoveryAnswersWithoutFailing) {
  std::vector<cuda::DeviceInfo> devices;
  const cuda::Status s = cuda::list_devices(devices);
  EXPECT_TRUE(s.ok()) << s.error;
  const CudaDeviceSummary summary = describe_cuda_device();
  EXPECT_EQ(summary.found, !devices.empty());
  EXPECT_FALSE(summary.text.empty());
  if (!devices.empty()) {
    EXPECT_GT(devices[0].total_bytes, 0u);
    EXPECT_GE(devices[0].major, 5);
  }
}

TEST(LlamaCuda, WithoutAGpuConstructionThrowsAClearError) {
  if (describe_cuda_device().found) GTEST_SKIP() << "a GPU is present; the gpu tests cover it";
  auto model = Model::load(kStories);
  try {
    LlamaCuda gpu(*model, 16);
    FAIL() << "expected an EngineError";
  } catch (const EngineError& e) {
    const std::string what = e.what();
    EXPECT_TRUE(what.find("no CUDA device") != std::string::npos ||
                what.find("no CUDA support") != std::string::npos)
        << what;
  }
}

TEST(LlamaCuda, WithoutAGpuOperationsFailWithAStatus) {
  if (describe_cuda_device().found) GTEST_SKIP() << "a GPU is present; the gpu tests cover it";
  void* p = nullptr;
  const cuda::Status s = cuda::device_alloc(1024, &p);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(p, nullptr);
  EXPECT_FALSE(s.error.empty());
}

TEST(LlamaCuda, DeviceBudgetCountsWeightsCacheAndScratch) {
  auto model = Model::load(kStories);
  const size_t small = LlamaCuda::device_bytes_needed(*model, 64, 8);
  const size_t large = LlamaCuda::device_bytes_needed(*model, 512, 8);
  size_t weights = 0;
  for (const GgufTensor& t : model->file()->tensors()) weights += t.n_bytes;
  EXPECT_GE(small, weights);
  // 448 more positions of F16 keys and values in every layer, at least.
  const ModelConfig& c = model->config();
  EXPECT_GE(large - small, 448 * c.n_layers * 2 * c.n_kv_heads * c.head_dim * 2);
  // A partial offload counts its layers only.
  const size_t one_layer = LlamaCuda::device_bytes_needed(*model, 64, 8, 1);
  EXPECT_LT(one_layer, small);
  EXPECT_LT(one_layer, weights);
}

}  // namespace
}  // namespace sy::engine
