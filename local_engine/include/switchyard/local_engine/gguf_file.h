#pragma once
// A GGUF v2/v3 file, memory-mapped read-only and validated once when opened.
//
// Contract: open() checks every size, count, string, array, tensor shape and offset against the
// file's bounds before anything is allocated from it, and throws EngineError naming the key or
// tensor at fault; a hostile file cannot crash the process or make it allocate more than the
// file could describe. Tensor data stays in the mapping (zero-copy): spans returned by
// GgufTensor::data live as long as the GgufFile. A GgufFile is immutable after open and may be
// read from any number of threads.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/local_engine/gguf_value.h"
#include "switchyard/local_engine/tensor_type.h"

namespace sy::engine {

inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr size_t kGgufMaxDims = 4;

struct GgufTensor {
  std::string name;
  TensorType type = TensorType::f32;
  std::vector<uint64_t> shape;  // ggml order: shape[0] is the contiguous (row) dimension
  uint64_t offset = 0;          // from the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  std::span<const std::byte> data;  // into the mapping

  uint64_t rows() const { return shape.empty() ? 0 : n_elements / shape[0]; }
};

class GgufFile {
 public:
  // Throws EngineError ("<path>: <what>") when the file cannot be read or is malformed.
  static std::unique_ptr<GgufFile> open(const std::filesystem::path& path);
  // Same validation over bytes the caller keeps alive (tests, fuzzing).
  static std::unique_ptr<GgufFile> parse(std::span<const std::byte> bytes);

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return bytes_.size(); }
  // Whether the bytes are this object's read-only private mapping of the file (open), whose
  // pages may be dropped (madvise) and come back from the file unchanged, rather than memory
  // the caller owns (parse).
  bool is_mapped() const { return mapping_ != nullptr; }

  // Metadata in file order (the order matters to a writer reproducing the file).
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }

  // Typed getters throw EngineError naming the key when it is missing or of the wrong type.
  // Integers of any width convert when the value fits; floats accept f32 and f64.
  std::string get_string(std::string_view key) const;
  uint64_t get_u64(std::string_view key) const;
  uint32_t get_u32(std::string_view key) const;
  int64_t get_i64(std::string_view key) const;
  float get_f32(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<float> get_f32_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  // With a default when the key is absent (still throws when present with the wrong type).
  uint32_t get_u32_or(std::string_view key, uint32_t fallback) const;
  float get_f32_or(std::string_view key, float fallback) const;
  bool get_bool_or(std::string_view key, bool fallback) const;
  std::string get_string_or(std::string_view key, std::string fallback) const;

  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(std::string_view name) const;
  // Throws EngineError "tensor <name>: missing" when absent.
  const GgufTensor& tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  void parse_all();

  struct Mapping;
  std::unique_ptr<Mapping> mapping_;
  std::span<const std::byte> bytes_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t, std::less<>> metadata_index_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Builds a GGUF v3 file: metadata in insertion order, tensors aligned to general.alignment
// (default 32). Throws EngineError on inconsistent input (duplicate names, data size that does
// not match the shape and type, unwritable path).
class GgufWriter {
 public:
  void set(std::string key, GgufValue value);
  void add_tensor(std::string name, TensorType type, std::vector<uint64_t> shape,
                  std::span<const std::byte> data);
  std::vector<std::byte> to_bytes() const;
  void write(const std::filesystem::path& path) const;

 private:
  struct PendingTensor {
    std::string name;
    TensorType type;
    std::vector<uint64_t> shape;
    std::vector<std::byte> data;
  };
  uint32_t alignment() const;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<PendingTensor> tensors_;
};

// Bytes of a tensor of `type` and `shape`; throws EngineError when the row width is not a
// multiple of the block size or the size overflows 64 bits.
uint64_t tensor_bytes(TensorType type, std::span<const uint64_t> shape);

}  // namespace sy::engine
