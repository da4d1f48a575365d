#pragma once
// One GGUF metadata value: a scalar, a string or a (possibly nested) array.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sy::engine {

// On-disk ids of GGUF metadata value types.
enum class GgufType : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

std::string_view to_string(GgufType type);

struct GgufValue;

struct GgufArray {
  GgufType element_type = GgufType::u8;
  std::vector<GgufValue> items;
};

// Integers keep their exact value in the widest type of their signedness; `type` remembers the
// declared width so a writer reproduces the file byte for byte.
struct GgufValue {
  GgufType type = GgufType::u8;
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> data;

  static GgufValue u8(uint8_t v) { return {GgufType::u8, uint64_t{v}}; }
  static GgufValue i8(int8_t v) { return {GgufType::i8, int64_t{v}}; }
  static GgufValue u16(uint16_t v) { return {GgufType::u16, uint64_t{v}}; }
  static GgufValue i16(int16_t v) { return {GgufType::i16, int64_t{v}}; }
  static GgufValue u32(uint32_t v) { return {GgufType::u32, uint64_t{v}}; }
  static GgufValue i32(int32_t v) { return {GgufType::i32, int64_t{v}}; }
  static GgufValue u64(uint64_t v) { return {GgufType::u64, v}; }
  static GgufValue i64(int64_t v) { return {GgufType::i64, v}; }
  static GgufValue f32(float v) { return {GgufType::f32, double{v}}; }
  static GgufValue f64(double v) { return {GgufType::f64, v}; }
  static GgufValue boolean(bool v) { return {GgufType::boolean, v}; }
  static GgufValue string(std::string v) { return {GgufType::string, std::move(v)}; }
  static GgufValue array(GgufType element_type, std::vector<GgufValue> items) {
    return {GgufType::array, GgufArray{element_type, std::move(items)}};
  }
  static GgufValue string_array(const std::vector<std::string>& items);
  static GgufValue f32_array(const std::vector<float>& items);
  static GgufValue i32_array(const std::vector<int32_t>& items);

  bool is_integer() const;
  bool is_float() const { return type == GgufType::f32 || type == GgufType::f64; }
  bool operator==(const GgufValue&) const = default;
};

inline bool operator==(const GgufArray& a, const GgufArray& b) {
  return a.element_type == b.element_type && a.items == b.items;
}

}  // namespace sy::engine
