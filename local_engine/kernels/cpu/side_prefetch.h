#pragma once
// Lines a weight-streaming kernel asks for beside its own weights: the memory the next op will
// read, fetched while the weights stream instead of when that op starts. Decode attention is the
// user: a token's keys and values of one layer lie in pieces of a few KB (a KV block's rows
// for that layer), too short for the hardware prefetchers to ramp up, so attention read them at
// 7-10 GB/s a thread (engine_attention_bench --weights-mb 140: 6.6 GB/s; 21-31 GB/s with the
// layer's lines asked for during the weight read before it). A burst of prefetches right before
// the op did nothing (--prefetch 1 and 30: the prefetches beyond the core's outstanding misses
// are lost, and a burst too early is evicted by the weights read after it); spread over a
// matmul, one or a few lines per weight block, they arrive.
//
// Prefetches only: no kernel's values change. A SidePrefetch belongs to one thread (the caller
// that sets it up and the kernel it passes it to); the spans must stay mapped until the kernel
// returns. Kernels that take one call step() once per weight block (a row group's block), in
// their first token tile, and may ignore it (the generic set does).

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sy::engine::kernels {

// Cache-line aligned: a pool's chunks each step their own, side by side in a vector, and one
// chunk's writes must not move the line another chunk reads.
class alignas(64) SidePrefetch {
 public:
  struct Span {
    const char* begin;  // at a 64-byte boundary
    size_t lines;
  };
  void clear() {
    spans_.clear();
    lines_ = 0;
    span_ = 0;
    line_ = 0;
    per_step_ = 0;
  }
  // Every 64-byte line that holds a byte of [begin, begin + bytes).
  void add(const void* begin, size_t bytes) {
    if (bytes == 0) return;
    const auto first = reinterpret_cast<uintptr_t>(begin) / 64 * 64;
    const auto last = (reinterpret_cast<uintptr_t>(begin) + bytes - 1) / 64 * 64;
    const size_t lines = (last - first) / 64 + 1;
    spans_.push_back({reinterpret_cast<const char*>(first), lines});
    lines_ += lines;
  }
  size_t lines() const { return lines_; }
  const std::vector<Span>& spans() const { return spans_; }
  bool done() const { return span_ >= spans_.size(); }
  // Spreads the lines over the first half of `steps` weight blocks, so that they have landed
  // by the time the kernel ends (serving, 16 streams x 448 positions: attention 11.0-11.3 ->
  // 5.7 ms a step against 9.1-10.2 spread over all the blocks). `steps` > 0.
  void pace(size_t steps) {
    span_ = 0;
    line_ = 0;
    per_step_ = (2 * lines_ + steps - 1) / steps;
  }
  void step() {
    for (size_t k = 0; k < per_step_ && span_ < spans_.size(); ++k) {
      __builtin_prefetch(spans_[span_].begin + 64 * line_, 0, 3);
      if (++line_ == spans_[span_].lines) {
        ++span_;
        line_ = 0;
      }
    }
  }

 private:
  std::vector<Span> spans_;
  size_t lines_ = 0, span_ = 0, line_ = 0, per_step_ = 0;
};

}  // namespace sy::engine::kernels
