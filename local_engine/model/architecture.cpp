#include "model/architecture.h"

#include <array>

#include "kernels/cpu/dequantize.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine {

std::span<const Architecture> architectures() {
  static const std::array table = {llama_architecture()};
  return table;
}

const Architecture* find_architecture(std::string_view name) {
  for (const Architecture& a : architectures()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

namespace {
std::string shape_string(std::span<const uint64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}
}  // namespace

std::vector<float> load_f32_tensor(const GgufFile& file, std::string_view name,
                                   std::initializer_list<uint64_t> shape, bool shapes_only) {
  const GgufTensor& t = file.tensor(name);
  std::vector<uint64_t> want(shape);
  if (t.shape != want) {
    throw EngineError("tensor " + std::string(name) + ": shape " + shape_string(t.shape) +
                      ", expected " + shape_string(want));
  }
  if (!kernels::can_dequantize(t.type)) {
    throw EngineError("tensor " + std::string(name) + ": type " + std::string(to_string(t.type)) +
                      " is not supported yet");
  }
  if (shapes_only) return {};
  std::vector<float> out(t.n_elements);
  kernels::dequantize(t.type, t.data, out);
  return out;
}

}  // namespace sy::engine
