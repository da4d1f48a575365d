#include "switchyard/local_engine/tensor_type.h"

#include <array>

#include "switchyard/local_engine/engine_error.h"

namespace sy::engine {
namespace {

struct Entry {
  uint32_t id;
  TensorTypeTraits traits;
};

// Block layouts as ggml defines them (bytes per block include the scales).
constexpr std::array kTypes = {
    Entry{0, {"f32", 1, 4}},       Entry{1, {"f16", 1, 2}},       Entry{2, {"q4_0", 32, 18}},
    Entry{3, {"q4_1", 32, 20}},    Entry{6, {"q5_0", 32, 22}},    Entry{7, {"q5_1", 32, 24}},
    Entry{8, {"q8_0", 32, 34}},    Entry{9, {"q8_1", 32, 36}},    Entry{10, {"q2_k", 256, 84}},
    Entry{11, {"q3_k", 256, 110}}, Entry{12, {"q4_k", 256, 144}}, Entry{13, {"q5_k", 256, 176}},
    Entry{14, {"q6_k", 256, 210}}, Entry{15, {"q8_k", 256, 292}}, Entry{24, {"i8", 1, 1}},
    Entry{25, {"i16", 1, 2}},      Entry{26, {"i32", 1, 4}},      Entry{27, {"i64", 1, 8}},
    Entry{28, {"f64", 1, 8}},      Entry{30, {"bf16", 1, 2}},
};

}  // namespace

std::optional<TensorTypeTraits> tensor_type_traits(uint32_t type_id) {
  for (const auto& e : kTypes) {
    if (e.id == type_id) return e.traits;
  }
  return std::nullopt;
}

TensorTypeTraits tensor_type_traits(TensorType type) {
  auto traits = tensor_type_traits(static_cast<uint32_t>(type));
  if (!traits) throw EngineError("unknown tensor type " + std::to_string(uint32_t(type)));
  return *traits;
}

std::string_view to_string(TensorType type) {
  auto traits = tensor_type_traits(static_cast<uint32_t>(type));
  return traits ? traits->name : std::string_view("unknown");
}

uint32_t gguf_file_type(TensorType t) {
  switch (t) {
    case TensorType::f32:
      return 0;
    case TensorType::f16:
      return 1;
    case TensorType::q4_0:
      return 2;
    case TensorType::q8_0:
      return 7;
    case TensorType::q4_k:
      return 14;  // MOSTLY_Q4_K_S: every matrix Q4_K, none promoted as the _M mix would
    case TensorType::q6_k:
      return 18;
    case TensorType::bf16:
      return 32;
    default:
      return 0;
  }
}

}  // namespace sy::engine
