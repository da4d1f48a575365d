#include "switchyard/local_engine/quantize.h"

#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"

namespace sy::engine {
namespace {

bool supported_target(TensorType t) {
  return t == TensorType::f32 || t == TensorType::f16 || t == TensorType::bf16 ||
         t == TensorType::q8_0 || t == TensorType::q4_0;
}

// llama.cpp's general.file_type for a model mostly of `t`.
uint32_t file_type(TensorType t) {
  switch (t) {
    case TensorType::f32:
      return 0;
    case TensorType::f16:
      return 1;
    case TensorType::q4_0:
      return 2;
    case TensorType::q8_0:
      return 7;
    case TensorType::bf16:
      return 32;
    default:
      return 0;
  }
}

uint16_t fp32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  return static_cast<uint16_t>((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);  // nearest even
}

std::vector<std::byte> encode(TensorType type, const std::vector<float>& x) {
  const auto traits = tensor_type_traits(type);
  std::vector<std::byte> out(x.size() / traits.block_size * traits.block_bytes);
  switch (type) {
    case TensorType::f32:
      std::memcpy(out.data(), x.data(), out.size());
      break;
    case TensorType::f16:
    case TensorType::bf16:
      for (size_t i = 0; i < x.size(); ++i) {
        uint16_t h = type == TensorType::f16 ? kernels::fp32_to_fp16(x[i]) : fp32_to_bf16(x[i]);
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
      break;
    case TensorType::q8_0:
      kernels::quantize_row_q8_0(x.data(), reinterpret_cast<kernels::BlockQ8_0*>(out.data()),
                                 x.size());
      break;
    case TensorType::q4_0:
      kernels::quantize_row_q4_0(x.data(), reinterpret_cast<kernels::BlockQ4_0*>(out.data()),
                                 x.size());
      break;
    default:
      throw EngineError("cannot encode " + std::string(traits.name));
  }
  return out;
}

}  // namespace

QuantizeReport quantize_gguf(const std::filesystem::path& input,
                             const std::filesystem::path& output, const QuantizeOptions& options) {
  if (!supported_target(options.type) || !supported_target(options.fallback)) {
    throw EngineError("quantize: target types are f32, f16, bf16, q8_0 and q4_0");
  }
  auto in = GgufFile::open(input);
  GgufWriter writer;
  for (const auto& [key, value] : in->metadata()) writer.set(key, value);
  writer.set("general.file_type", GgufValue::u32(file_type(options.type)));
  writer.set("general.quantization_version", GgufValue::u32(2));

  QuantizeReport report;
  for (const GgufTensor& t : in->tensors()) {
    try {
      if (t.shape.size() < 2) {
        writer.add_tensor(t.name, t.type, t.shape, t.data);
        ++report.kept;
        continue;
      }
      TensorType target = options.type;
      if (t.shape[0] % tensor_type_traits(target).block_size != 0) {
        target = options.fallback;
        if (t.shape[0] % tensor_type_traits(target).block_size != 0) target = TensorType::f32;
        ++report.fell_back;
      } else {
        ++report.converted;
      }
      if (target == t.type) {
        writer.add_tensor(t.name, t.type, t.shape, t.data);
        continue;
      }
      if (!kernels::can_dequantize(t.type)) {
        throw EngineError("source type " + std::string(to_string(t.type)) + " is not supported");
      }
      std::vector<float> values(t.n_elements);
      kernels::dequantize(t.type, t.data, values);
      writer.add_tensor(t.name, target, t.shape, encode(target, values));
    } catch (const EngineError& e) {
      throw EngineError("quantize: tensor " + t.name + ": " + e.what());
    }
  }
  writer.write(output);
  return report;
}

std::vector<std::byte> quantize_values(TensorType type, const std::vector<float>& values) {
  if (!supported_target(type)) {
    throw EngineError("cannot write tensors of type " + std::string(to_string(type)) + " yet");
  }
  return encode(type, values);
}

}  // namespace sy::engine
