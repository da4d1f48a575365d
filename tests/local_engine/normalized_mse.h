#pragma once
// The error measure every engine test states its bounds in: sum((got - want)^2) / sum(want^2),
// accumulated in double. Both spans have want.size() elements.

#include <cstddef>
#include <span>

namespace sy::engine::testing {

inline double normalized_mse(std::span<const float> got, std::span<const float> want) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = double(got[i]) - want[i];
    err += d * d;
    norm += double(want[i]) * want[i];
  }
  return err / norm;
}

}  // namespace sy::engine::testing
