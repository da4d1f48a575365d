#pragma once
// Load-time failures of the engine. Model and tokenizer loading may throw (DESIGN.md: load
// time may throw, caught once at the boundary); the message always names what was being read
// ("tensor blk.3.attn_q: offset past end of file") so the caller only adds its own context.

#include <stdexcept>
#include <string>

namespace sy::engine {

class EngineError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sy::engine
