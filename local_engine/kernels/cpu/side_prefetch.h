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
#include <vector>

namespace sy::engine::kernels {

class SidePrefetch {
 public:
  struct Span {
    const char* begin;
    const char* end;
  };
  void clear() {
    spans_.clear();
    lines_ = 0;
    span_ = 0;
    per_step_ = 0;
  }
  // Bytes [begin, begin + bytes), by whole 64-byte lines from begin.
  void add(const void* begin, size_t bytes) {
    if (bytes == 0) return;
    const char* b = static_cast<const char*>(begin);
    spans_.push_back({b, b + bytes});
    lines_ += (bytes + 63) / 64;
  }
  size_t lines() const { return lines_; }
  const std::vector<Span>& spans() const { return spans_; }
  bool done() const { return span_ >= spans_.size(); }
  // Spreads the lines over the first half of `steps` weight blocks, so that they have landed
  // by the time the kernel ends (serving, 16 streams x 448 positions: attention 11.0-11.3 ->
  // 5.7 ms a step against 9.1-10.2 spread over all the blocks).
  void pace(size_t steps) {
    span_ = 0;
    at_ = spans_.empty() ? nullptr : spans_[0].begin;
    per_step_ = steps == 0 ? lines_ : (2 * lines_ + steps - 1) / steps;
  }
  void step() {
    for (size_t k = 0; k < per_step_ && span_ < spans_.size(); ++k) {
      __builtin_prefetch(at_, 0, 3);
      at_ += 64;
      if (at_ >= spans_[span_].end && ++span_ < spans_.size()) at_ = spans_[span_].begin;
    }
  }

 private:
  std::vector<Span> spans_;
  size_t lines_ = 0, span_ = 0, per_step_ = 0;
  const char* at_ = nullptr;
};

}  // namespace sy::engine::kernels
