#pragma once
// Bounds-checked cursor over the header of a GGUF file. Every read checks the remaining bytes
// first, and every count is checked against what the remaining bytes could possibly hold before
// anything is reserved, so a lying count fails fast instead of allocating.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"

namespace sy::engine::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
inline constexpr uint64_t kMaxKeyBytes = 65535;
inline constexpr uint64_t kMaxArrayItems = uint64_t{1} << 22;  // > any real vocabulary/merges
inline constexpr int kMaxArrayDepth = 2;

struct Header {
  uint32_t version = 0;
  uint64_t tensor_count = 0;
  uint64_t kv_count = 0;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> bytes) : bytes_(bytes) {}

  uint64_t position() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  Header read_header() {
    Header h;
    if (bytes_.size() < 4 || read<uint32_t>("magic") != kMagic) {
      throw EngineError("not a GGUF file (bad magic)");
    }
    h.version = read<uint32_t>("version");
    if (h.version == 1) throw EngineError("GGUF version 1 is not supported (only 2 and 3)");
    if (h.version != 2 && h.version != 3) {
      throw EngineError("unsupported GGUF version " + std::to_string(h.version));
    }
    h.tensor_count = read<uint64_t>("tensor count");
    h.kv_count = read<uint64_t>("metadata count");
    // A tensor info takes at least 8 (name length) + 4 (dims) + 8 (one dim) + 4 + 8 bytes and a
    // key/value at least 8 + 1 + 4 + 1: counts beyond what the file could hold are lies.
    if (h.kv_count > remaining() / 14) {
      throw EngineError("metadata count " + std::to_string(h.kv_count) +
                        " exceeds what the file can hold");
    }
    if (h.tensor_count > remaining() / 32) {
      throw EngineError("tensor count " + std::to_string(h.tensor_count) +
                        " exceeds what the file can hold");
    }
    return h;
  }

  std::pair<std::string, GgufValue> read_key_value(uint64_t index) {
    std::string where = "metadata entry " + std::to_string(index);
    std::string key = read_string(where + " key", kMaxKeyBytes);
    if (key.empty()) throw EngineError(where + ": empty key");
    where = "metadata key " + key;
    uint32_t type = read<uint32_t>(where + " type");
    return {std::move(key), read_value(where, type, 0)};
  }

  GgufTensor read_tensor_info(uint64_t index) {
    GgufTensor t;
    t.name = read_string("tensor " + std::to_string(index) + " name", kMaxKeyBytes);
    std::string where = "tensor " + t.name;
    if (t.name.empty()) throw EngineError("tensor " + std::to_string(index) + ": empty name");
    uint32_t n_dims = read<uint32_t>(where + " dimension count");
    if (n_dims == 0 || n_dims > kGgufMaxDims) {
      throw EngineError(where + ": " + std::to_string(n_dims) + " dimensions (1 to " +
                        std::to_string(kGgufMaxDims) + " allowed)");
    }
    t.n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim = read<uint64_t>(where + " shape");
      if (dim == 0 || dim > uint64_t(INT64_MAX)) {
        throw EngineError(where + ": bad dimension " + std::to_string(dim));
      }
      if (__builtin_mul_overflow(t.n_elements, dim, &t.n_elements) ||
          t.n_elements > uint64_t(INT64_MAX)) {
        throw EngineError(where + ": element count overflows");
      }
      t.shape.push_back(dim);
    }
    uint32_t type = read<uint32_t>(where + " type");
    if (!tensor_type_traits(type)) {
      throw EngineError(where + ": unknown tensor type " + std::to_string(type));
    }
    t.type = static_cast<TensorType>(type);
    try {
      t.n_bytes = tensor_bytes(t.type, t.shape);
    } catch (const EngineError& e) {
      throw EngineError(where + ": " + e.what());
    }
    t.offset = read<uint64_t>(where + " offset");
    return t;
  }

 private:
  void need(uint64_t n, const std::string& what) const {
    if (n > remaining()) {
      throw EngineError(what + ": truncated (needs " + std::to_string(n) + " bytes at offset " +
                        std::to_string(pos_) + ", file has " + std::to_string(bytes_.size()) + ")");
    }
  }

  template <class T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const std::string& what, uint64_t max_bytes) {
    uint64_t n = read<uint64_t>(what + " length");
    if (n > max_bytes) {
      throw EngineError(what + ": length " + std::to_string(n) + " exceeds the limit");
    }
    need(n, what);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  static uint64_t min_value_bytes(uint32_t type) {
    switch (static_cast<GgufType>(type)) {
      case GgufType::u8:
      case GgufType::i8:
      case GgufType::boolean:
        return 1;
      case GgufType::u16:
      case GgufType::i16:
        return 2;
      case GgufType::u32:
      case GgufType::i32:
      case GgufType::f32:
        return 4;
      case GgufType::u64:
      case GgufType::i64:
      case GgufType::f64:
      case GgufType::string:
        return 8;
      case GgufType::array:
        return 12;
    }
    return 0;
  }

  GgufValue read_value(const std::string& where, uint32_t type, int depth) {
    switch (static_cast<GgufType>(type)) {
      case GgufType::u8:
        return GgufValue::u8(read<uint8_t>(where));
      case GgufType::i8:
        return GgufValue::i8(read<int8_t>(where));
      case GgufType::u16:
        return GgufValue::u16(read<uint16_t>(where));
      case GgufType::i16:
        return GgufValue::i16(read<int16_t>(where));
      case GgufType::u32:
        return GgufValue::u32(read<uint32_t>(where));
      case GgufType::i32:
        return GgufValue::i32(read<int32_t>(where));
      case GgufType::u64:
        return GgufValue::u64(read<uint64_t>(where));
      case GgufType::i64:
        return GgufValue::i64(read<int64_t>(where));
      case GgufType::f32:
        return GgufValue::f32(read<float>(where));
      case GgufType::f64:
        return GgufValue::f64(read<double>(where));
      case GgufType::boolean: {
        uint8_t b = read<uint8_t>(where);
        if (b > 1) throw EngineError(where + ": bool value " + std::to_string(b));
        return GgufValue::boolean(b == 1);
      }
      case GgufType::string:
        return GgufValue::string(read_string(where, UINT64_MAX));
      case GgufType::array: {
        if (depth >= kMaxArrayDepth) throw EngineError(where + ": arrays nested too deep");
        uint32_t element = read<uint32_t>(where + " element type");
        uint64_t count = read<uint64_t>(where + " element count");
        uint64_t min_bytes = min_value_bytes(element);
        if (min_bytes == 0) {
          throw EngineError(where + ": unknown array element type " + std::to_string(element));
        }
        if (count > kMaxArrayItems || count > remaining() / min_bytes) {
          throw EngineError(where + ": array count " + std::to_string(count) +
                            " exceeds what the file can hold");
        }
        std::vector<GgufValue> items;
        items.reserve(count);
        for (uint64_t i = 0; i < count; ++i) items.push_back(read_value(where, element, depth + 1));
        return GgufValue::array(static_cast<GgufType>(element), std::move(items));
      }
    }
    throw EngineError(where + ": unknown value type " + std::to_string(type));
  }

  std::span<const std::byte> bytes_;
  uint64_t pos_ = 0;
};

}  // namespace sy::engine::gguf
