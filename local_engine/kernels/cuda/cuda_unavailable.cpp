// The CUDA interface in a build without the toolkit (SWITCHYARD_CUDA off, or nvcc not found):
// no devices, and every operation fails saying why. With the toolkit the .cu files define these
// and this file compiles to nothing.

#if !defined(SWITCHYARD_HAVE_CUDA)

#include "kernels/cuda/cuda_api.h"

namespace sy::engine::cuda {
namespace {

Status unavailable() {
  return {
      "this build has no CUDA support (the CUDA toolkit was not found at configure time, or "
      "SWITCHYARD_CUDA=OFF)"};
}

}  // namespace

bool compiled() { return false; }
Status list_devices(std::vector<DeviceInfo>& out) {
  out.clear();
  return {};
}
Status set_device(int) { return unavailable(); }
Status device_alloc(size_t, void** d_out) {
  *d_out = nullptr;
  return unavailable();
}
void device_free(void*) noexcept {}
Status copy_to_device(void*, const void*, size_t) { return unavailable(); }
Status copy_to_host(void*, const void*, size_t) { return unavailable(); }
Status copy_on_device(void*, const void*, size_t) { return unavailable(); }
Status synchronize() { return unavailable(); }
Status measure_copy_bandwidth(size_t, int, double& bytes_per_second) {
  bytes_per_second = 0;
  return unavailable();
}
Status matmul(WeightType, const void*, size_t, size_t, const float*, size_t, float*, MatmulKernel) {
  return unavailable();
}
Status embed(WeightType, const void*, size_t, const int32_t*, size_t, float, float*) {
  return unavailable();
}
Status rms_norm(const float*, const float*, size_t, size_t, float, float*) { return unavailable(); }
Status rope(float*, size_t, size_t, size_t, size_t, const int32_t*, const float*, bool) {
  return unavailable();
}
Status gated_ffn(float*, const float*, size_t, bool) { return unavailable(); }
Status add_bias(float*, const float*, size_t, size_t) { return unavailable(); }
Status add(float*, const float*, size_t) { return unavailable(); }
Status soft_cap(float*, size_t, float) { return unavailable(); }
Status softmax_rows(float*, size_t, size_t) { return unavailable(); }
Status store_kv(const PagedKv&, size_t, const StepRows&, const float*, const float*) {
  return unavailable();
}
Status attention(const PagedKv&, size_t, const StepRows&, const float*, size_t, float, float,
                 size_t, size_t, float*, float*) {
  return unavailable();
}

}  // namespace sy::engine::cuda

#endif  // !SWITCHYARD_HAVE_CUDA
