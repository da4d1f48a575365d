// Device discovery, memory and copies (cuda_api.h). Links the CUDA runtime only: without a
// driver, the runtime's first call answers cudaErrorInsufficientDriver, which is "no GPU".

#include <algorithm>

#include "kernels/cuda/cuda_check.h"

namespace sy::engine::cuda {

bool compiled() { return true; }

Status list_devices(std::vector<DeviceInfo>& out) {
  out.clear();
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice) {
    (void)cudaGetLastError();  // the runtime keeps it as the sticky last error otherwise
    return {};
  }
  if (Status s = check(e, "cudaGetDeviceCount"); !s.ok()) return s;
  // Asking each device for its free memory makes it current: the caller's device comes back
  // afterwards (the current device is per host thread, and a LlamaCuda may be using it).
  int current = 0;
  if (Status s = check(cudaGetDevice(&current), "cudaGetDevice"); !s.ok()) return s;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (Status s = check(cudaGetDeviceProperties(&prop, i), "cudaGetDeviceProperties"); !s.ok()) {
      return s;
    }
    DeviceInfo info;
    info.index = i;
    info.name = prop.name;
    info.total_bytes = prop.totalGlobalMem;
    info.major = prop.major;
    info.minor = prop.minor;
    info.multiprocessors = prop.multiProcessorCount;
    if (Status s = check(cudaSetDevice(i), "cudaSetDevice"); !s.ok()) return s;
    size_t free_bytes = 0, total = 0;
    if (Status s = check(cudaMemGetInfo(&free_bytes, &total), "cudaMemGetInfo"); !s.ok()) return s;
    info.free_bytes = free_bytes;
    out.push_back(std::move(info));
  }
  return check(cudaSetDevice(current), "cudaSetDevice");
}

Status set_device(int index) { return check(cudaSetDevice(index), "cudaSetDevice"); }

Status device_alloc(size_t bytes, void** d_out) {
  *d_out = nullptr;
  return check(cudaMalloc(d_out, std::max<size_t>(bytes, 1)), "cudaMalloc");
}

void device_free(void* d) noexcept {
  if (d != nullptr) (void)cudaFree(d);  // nothing to report to from a destructor
}

Status copy_to_device(void* d_dst, const void* src, size_t bytes) {
  if (bytes == 0) return {};
  return check(cudaMemcpy(d_dst, src, bytes, cudaMemcpyHostToDevice), "copy to device");
}

Status copy_to_host(void* dst, const void* d_src, size_t bytes) {
  if (bytes == 0) return {};
  return check(cudaMemcpy(dst, d_src, bytes, cudaMemcpyDeviceToHost), "copy to host");
}

Status copy_on_device(void* d_dst, const void* d_src, size_t bytes) {
  if (bytes == 0) return {};
  return check(cudaMemcpy(d_dst, d_src, bytes, cudaMemcpyDeviceToDevice), "copy on device");
}

Status synchronize() { return check(cudaDeviceSynchronize(), "synchronize"); }

Status measure_copy_bandwidth(size_t bytes, int reps, double& bytes_per_second) {
  bytes_per_second = 0;
  void* a = nullptr;
  void* b = nullptr;
  Status s = device_alloc(bytes, &a);
  if (s.ok()) s = device_alloc(bytes, &b);
  cudaEvent_t start = nullptr, stop = nullptr;
  if (s.ok()) s = check(cudaEventCreate(&start), "cudaEventCreate");
  if (s.ok()) s = check(cudaEventCreate(&stop), "cudaEventCreate");
  if (s.ok()) s = check(cudaMemset(a, 1, bytes), "cudaMemset");
  if (s.ok()) s = copy_on_device(b, a, bytes);  // warm-up
  float best_ms = 0;
  for (int i = 0; s.ok() && i < reps; ++i) {
    s = check(cudaEventRecord(start), "cudaEventRecord");
    if (s.ok()) s = check(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice), "copy");
    if (s.ok()) s = check(cudaEventRecord(stop), "cudaEventRecord");
    if (s.ok()) s = check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    if (s.ok()) s = check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    if (s.ok() && ms > 0 && (best_ms == 0 || ms < best_ms)) best_ms = ms;
  }
  if (start != nullptr) (void)cudaEventDestroy(start);
  if (stop != nullptr) (void)cudaEventDestroy(stop);
  device_free(a);
  device_free(b);
  if (s.ok() && best_ms > 0) bytes_per_second = 2.0 * static_cast<double>(bytes) / (best_ms * 1e-3);
  return s;
}

}  // namespace sy::engine::cuda
