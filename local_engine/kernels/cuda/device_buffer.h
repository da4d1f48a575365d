#pragma once
// RAII for device memory (cuda_api.h's device_alloc / device_free): a buffer frees itself, and
// allocation failures come back as Status. Host code only (not read by nvcc).

#include <cstddef>
#include <memory>

#include "kernels/cuda/cuda_api.h"

namespace sy::engine::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // Allocates `bytes` (plain cudaMalloc); the Status says why not.
  static Status allocate(size_t bytes, DeviceBuffer& out) {
    void* p = nullptr;
    Status s = device_alloc(bytes, &p);
    if (!s.ok()) return s;
    out.ptr_.reset(p);
    out.bytes_ = bytes;
    return {};
  }
  void* get() const { return ptr_.get(); }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_.get());
  }
  size_t bytes() const { return bytes_; }

 private:
  struct Free {
    void operator()(void* p) const noexcept { device_free(p); }
  };
  std::unique_ptr<void, Free> ptr_;
  size_t bytes_ = 0;
};

}  // namespace sy::engine::cuda
