#include "switchyard/local_engine/quantize.h"
#include "switchyard/local_engine/cpu_count.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/dequantize.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"

namespace sy::engine {
namespace {

bool supported_target(TensorType t) {
  return t == TensorType::f32 || t == TensorType::f16 || t == TensorType::bf16 ||
         t == TensorType::q8_0 || t == TensorType::q4_0 || t == TensorType::q4_k ||
         t == TensorType::q6_k;
}

// Encodes the n values at x (whole blocks of `type`) into `out`.
void encode_range(TensorType type, const float* x, size_t n, std::byte* out) {
  switch (type) {
    case TensorType::f32:
      std::memcpy(out, x, n * sizeof(float));
      return;
    case TensorType::f16:
    case TensorType::bf16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h =
            type == TensorType::f16 ? kernels::fp32_to_fp16(x[i]) : kernels::fp32_to_bf16(x[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case TensorType::q8_0:
      kernels::quantize_row_q8_0(x, reinterpret_cast<kernels::BlockQ8_0*>(out), n);
      return;
    case TensorType::q4_0:
      kernels::quantize_row_q4_0(x, reinterpret_cast<kernels::BlockQ4_0*>(out), n);
      return;
    case TensorType::q4_k:
      kernels::quantize_row_q4_k(x, reinterpret_cast<kernels::BlockQ4_K*>(out), n);
      return;
    case TensorType::q6_k:
      kernels::quantize_row_q6_k(x, reinterpret_cast<kernels::BlockQ6_K*>(out), n);
      return;
    default:
      throw EngineError("cannot encode " + std::string(to_string(type)));
  }
}

// Blocks are independent, so big tensors are split across the cores (K-quant fitting costs tens
// of nanoseconds per weight: minutes for a 1.7B model on one core).
std::vector<std::byte> encode(TensorType type, const std::vector<float>& x) {
  const auto traits = tensor_type_traits(type);
  // Checked here: a worker thread must not throw.
  if (!supported_target(type)) throw EngineError("cannot encode " + std::string(traits.name));
  const size_t n_blocks = x.size() / traits.block_size;
  std::vector<std::byte> out(n_blocks * traits.block_bytes);
  constexpr size_t kMinBlocksPerThread = 4096;
  const size_t threads = std::clamp<size_t>(n_blocks / kMinBlocksPerThread, 1, usable_cpu_count());
  auto part = [&](size_t i) {
    const size_t begin = n_blocks * i / threads, end = n_blocks * (i + 1) / threads;
    encode_range(type, x.data() + begin * traits.block_size, (end - begin) * traits.block_size,
                 out.data() + begin * traits.block_bytes);
  };
  std::vector<std::jthread> workers;
  for (size_t i = 1; i < threads; ++i) workers.emplace_back(part, i);
  part(0);
  return out;
}

}  // namespace

TensorType default_fallback(TensorType type) {
  return type == TensorType::q4_k || type == TensorType::q6_k ? TensorType::q8_0 : TensorType::f16;
}

QuantizeReport quantize_gguf(const std::filesystem::path& input,
                             const std::filesystem::path& output, const QuantizeOptions& options) {
  const TensorType fallback = options.fallback.value_or(default_fallback(options.type));
  if (!supported_target(options.type) || !supported_target(fallback)) {
    throw EngineError("quantize: target types are f32, f16, bf16, q8_0, q4_0, q4_k and q6_k");
  }
  auto in = GgufFile::open(input);
  GgufWriter writer;
  for (const auto& [key, value] : in->metadata()) writer.set(key, value);
  writer.set("general.file_type", GgufValue::u32(gguf_file_type(options.type)));
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
        target = fallback;
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
