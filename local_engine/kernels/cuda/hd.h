#pragma once
// SY_HD marks the math that runs both in the CUDA kernels and in host code: the kernels call it
// on the device, the unit tests call the very same functions on the host and compare them with
// the CPU kernels (tests/local_engine/kernels/cuda/). Headers under kernels/cuda/ are read by
// nvcc, which compiles C++20 at most: they stay C++20-clean and include no project headers.

#if defined(__CUDACC__)
#define SY_HD __host__ __device__ __forceinline__
#else
#define SY_HD inline
#endif
