#include <cstring>
#include <fstream>

#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"

namespace sy::engine {
namespace {

class ByteSink {
 public:
  template <class T>
  void put(T v) {
    size_t at = out_.size();
    out_.resize(at + sizeof(T));
    std::memcpy(out_.data() + at, &v, sizeof(T));
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    auto* p = reinterpret_cast<const std::byte*>(s.data());
    out_.insert(out_.end(), p, p + s.size());
  }
  void put_bytes(std::span<const std::byte> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void pad_to(uint64_t alignment) {
    out_.resize((out_.size() + alignment - 1) / alignment * alignment, std::byte{0});
  }
  std::vector<std::byte>& bytes() { return out_; }

 private:
  std::vector<std::byte> out_;
};

void put_value(ByteSink& sink, const std::string& key, const GgufValue& v) {
  auto as_u = [&] { return std::get<uint64_t>(v.data); };
  auto as_i = [&] { return std::get<int64_t>(v.data); };
  try {
    switch (v.type) {
      case GgufType::u8:
        sink.put<uint8_t>(as_u());
        return;
      case GgufType::i8:
        sink.put<int8_t>(as_i());
        return;
      case GgufType::u16:
        sink.put<uint16_t>(as_u());
        return;
      case GgufType::i16:
        sink.put<int16_t>(as_i());
        return;
      case GgufType::u32:
        sink.put<uint32_t>(as_u());
        return;
      case GgufType::i32:
        sink.put<int32_t>(as_i());
        return;
      case GgufType::u64:
        sink.put<uint64_t>(as_u());
        return;
      case GgufType::i64:
        sink.put<int64_t>(as_i());
        return;
      case GgufType::f32:
        sink.put<float>(static_cast<float>(std::get<double>(v.data)));
        return;
      case GgufType::f64:
        sink.put<double>(std::get<double>(v.data));
        return;
      case GgufType::boolean:
        sink.put<uint8_t>(std::get<bool>(v.data) ? 1 : 0);
        return;
      case GgufType::string:
        sink.put_string(std::get<std::string>(v.data));
        return;
      case GgufType::array: {
        const auto& a = std::get<GgufArray>(v.data);
        sink.put<uint32_t>(static_cast<uint32_t>(a.element_type));
        sink.put<uint64_t>(a.items.size());
        for (const auto& item : a.items) {
          if (item.type != a.element_type) {
            throw EngineError("metadata key " + key + ": array element of type " +
                              std::string(to_string(item.type)) + " in array of " +
                              std::string(to_string(a.element_type)));
          }
          put_value(sink, key, item);
        }
        return;
      }
    }
  } catch (const std::bad_variant_access&) {
    throw EngineError("metadata key " + key + ": value does not match its declared type " +
                      std::string(to_string(v.type)));
  }
  throw EngineError("metadata key " + key + ": unknown value type");
}

}  // namespace

void GgufWriter::set(std::string key, GgufValue value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_tensor(std::string name, TensorType type, std::vector<uint64_t> shape,
                            std::span<const std::byte> data) {
  for (const auto& t : tensors_) {
    if (t.name == name) throw EngineError("tensor " + name + ": duplicate name");
  }
  if (shape.empty() || shape.size() > kGgufMaxDims) {
    throw EngineError("tensor " + name + ": needs 1 to 4 dimensions");
  }
  uint64_t bytes = 0;
  try {
    bytes = tensor_bytes(type, shape);
  } catch (const EngineError& e) {
    throw EngineError("tensor " + name + ": " + e.what());
  }
  if (bytes != data.size()) {
    throw EngineError("tensor " + name + ": shape and type need " + std::to_string(bytes) +
                      " bytes, got " + std::to_string(data.size()));
  }
  tensors_.push_back({std::move(name), type, std::move(shape), {data.begin(), data.end()}});
}

uint32_t GgufWriter::alignment() const {
  for (const auto& [k, v] : metadata_) {
    if (k == "general.alignment") {
      auto* a = std::get_if<uint64_t>(&v.data);
      if (v.type != GgufType::u32 || a == nullptr || *a == 0 || (*a & (*a - 1)) != 0) {
        throw EngineError("metadata key general.alignment: must be a u32 power of two");
      }
      return static_cast<uint32_t>(*a);
    }
  }
  return kGgufDefaultAlignment;
}

std::vector<std::byte> GgufWriter::to_bytes() const {
  const uint64_t align = alignment();
  ByteSink sink;
  sink.put<uint32_t>(0x46554747);
  sink.put<uint32_t>(3);
  sink.put<uint64_t>(tensors_.size());
  sink.put<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    sink.put_string(key);
    sink.put<uint32_t>(static_cast<uint32_t>(value.type));
    put_value(sink, key, value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    sink.put_string(t.name);
    sink.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (uint64_t d : t.shape) sink.put<uint64_t>(d);
    sink.put<uint32_t>(static_cast<uint32_t>(t.type));
    sink.put<uint64_t>(offset);
    offset += (t.data.size() + align - 1) / align * align;
  }
  if (!tensors_.empty()) {
    sink.pad_to(align);
    for (const auto& t : tensors_) {
      sink.put_bytes(t.data);
      sink.pad_to(align);
    }
  }
  return std::move(sink.bytes());
}

void GgufWriter::write(const std::filesystem::path& path) const {
  auto bytes = to_bytes();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw EngineError(path.string() + ": cannot open for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw EngineError(path.string() + ": write failed");
}

}  // namespace sy::engine
