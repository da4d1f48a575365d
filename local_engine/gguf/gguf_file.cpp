#include "switchyard/local_engine/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "gguf/gguf_reader.h"
#include "switchyard/local_engine/engine_error.h"

namespace sy::engine {

// The read-only mapping of the whole file; unmapped and closed when the GgufFile goes.
struct GgufFile::Mapping {
  void* address = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (address != nullptr) ::munmap(address, size);
  }
};

GgufFile::~GgufFile() = default;

std::unique_ptr<GgufFile> GgufFile::open(const std::filesystem::path& path) {
  auto fail = [&](const std::string& what) { throw EngineError(path.string() + ": " + what); };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(std::string("cannot open: ") + std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail("not a regular file");
  if (st.st_size < 8) fail("file too small to be GGUF (" + std::to_string(st.st_size) + " bytes)");
  auto mapping = std::make_unique<Mapping>();
  mapping->size = static_cast<size_t>(st.st_size);
  void* address = ::mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (address == MAP_FAILED) fail(std::string("cannot map: ") + std::strerror(errno));
  mapping->address = address;

  std::unique_ptr<GgufFile> file(new GgufFile());
  file->bytes_ = {static_cast<const std::byte*>(address), mapping->size};
  file->mapping_ = std::move(mapping);
  try {
    file->parse_all();
  } catch (const EngineError& e) {
    fail(e.what());
  }
  return file;
}

std::unique_ptr<GgufFile> GgufFile::parse(std::span<const std::byte> bytes) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->bytes_ = bytes;
  file->parse_all();
  return file;
}

void GgufFile::parse_all() {
  gguf::Reader reader(bytes_);
  auto header = reader.read_header();
  version_ = header.version;

  for (uint64_t i = 0; i < header.kv_count; ++i) {
    auto [key, value] = reader.read_key_value(i);
    if (metadata_index_.contains(key)) throw EngineError("metadata key " + key + ": duplicate");
    metadata_index_.emplace(key, metadata_.size());
    metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* align = find("general.alignment")) {
    if (align->type != GgufType::u32) {
      throw EngineError("metadata key general.alignment: must be u32, is " +
                        std::string(to_string(align->type)));
    }
    uint64_t a = std::get<uint64_t>(align->data);
    if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20)) {
      throw EngineError("metadata key general.alignment: " + std::to_string(a) +
                        " is not a power of two up to 1 MiB");
    }
    alignment_ = static_cast<uint32_t>(a);
  }

  tensors_.reserve(header.tensor_count);
  for (uint64_t i = 0; i < header.tensor_count; ++i) {
    GgufTensor t = reader.read_tensor_info(i);
    if (tensor_index_.contains(t.name)) throw EngineError("tensor " + t.name + ": duplicate name");
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  uint64_t header_end = reader.position();
  uint64_t data_offset = (header_end + alignment_ - 1) / alignment_ * alignment_;
  data_offset_ = data_offset;
  if (tensors_.empty()) return;  // vocab-only files may end right after the header
  if (data_offset > bytes_.size()) {
    throw EngineError("data section starts at " + std::to_string(data_offset) +
                      ", past the end of the file (" + std::to_string(bytes_.size()) + " bytes)");
  }
  uint64_t data_size = bytes_.size() - data_offset;
  for (auto& t : tensors_) {
    if (t.offset % alignment_ != 0) {
      throw EngineError("tensor " + t.name + ": offset " + std::to_string(t.offset) +
                        " is not a multiple of the alignment " + std::to_string(alignment_));
    }
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      throw EngineError("tensor " + t.name + ": data [" + std::to_string(t.offset) + ", +" +
                        std::to_string(t.n_bytes) + ") runs past the end of the file (data " +
                        "section holds " + std::to_string(data_size) + " bytes)");
    }
    t.data = bytes_.subspan(data_offset + t.offset, t.n_bytes);
  }
  std::vector<const GgufTensor*> by_offset;
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensor& prev = *by_offset[i - 1];
    if (prev.offset + prev.n_bytes > by_offset[i]->offset) {
      throw EngineError("tensor " + by_offset[i]->name + ": data overlaps tensor " + prev.name);
    }
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

namespace {

[[noreturn]] void wrong_type(std::string_view key, std::string_view want, const GgufValue& v) {
  throw EngineError("metadata key " + std::string(key) + ": expected " + std::string(want) +
                    ", found " + std::string(to_string(v.type)));
}

int64_t integer_as_i64(std::string_view key, const GgufValue& v) {
  if (auto* u = std::get_if<uint64_t>(&v.data)) {
    if (*u > uint64_t(std::numeric_limits<int64_t>::max())) {
      throw EngineError("metadata key " + std::string(key) + ": value out of range");
    }
    return static_cast<int64_t>(*u);
  }
  if (auto* i = std::get_if<int64_t>(&v.data)) return *i;
  wrong_type(key, "an integer", v);
}

}  // namespace

static const GgufValue& require(const GgufFile& f, std::string_view key) {
  const GgufValue* v = f.find(key);
  if (v == nullptr) throw EngineError("metadata key " + std::string(key) + ": missing");
  return *v;
}

std::string GgufFile::get_string(std::string_view key) const {
  const GgufValue& v = require(*this, key);
  if (v.type != GgufType::string) wrong_type(key, "string", v);
  return std::get<std::string>(v.data);
}

uint64_t GgufFile::get_u64(std::string_view key) const {
  const GgufValue& v = require(*this, key);
  if (auto* u = std::get_if<uint64_t>(&v.data)) return *u;
  int64_t i = integer_as_i64(key, v);
  if (i < 0) throw EngineError("metadata key " + std::string(key) + ": negative value");
  return static_cast<uint64_t>(i);
}

uint32_t GgufFile::get_u32(std::string_view key) const {
  uint64_t v = get_u64(key);
  if (v > std::numeric_limits<uint32_t>::max()) {
    throw EngineError("metadata key " + std::string(key) + ": value " + std::to_string(v) +
                      " out of range");
  }
  return static_cast<uint32_t>(v);
}

int64_t GgufFile::get_i64(std::string_view key) const {
  return integer_as_i64(key, require(*this, key));
}

float GgufFile::get_f32(std::string_view key) const {
  const GgufValue& v = require(*this, key);
  if (auto* d = std::get_if<double>(&v.data)) return static_cast<float>(*d);
  wrong_type(key, "a float", v);
}

bool GgufFile::get_bool(std::string_view key) const {
  const GgufValue& v = require(*this, key);
  if (auto* b = std::get_if<bool>(&v.data)) return *b;
  wrong_type(key, "bool", v);
}

namespace {
const GgufArray& require_array(const GgufFile& f, std::string_view key, GgufType element) {
  const GgufValue& v = require(f, key);
  auto* a = std::get_if<GgufArray>(&v.data);
  if (a == nullptr) wrong_type(key, "array", v);
  bool ok = a->element_type == element;
  if (element == GgufType::i64) {  // any integer array
    ok = a->element_type != GgufType::string && a->element_type != GgufType::array &&
         a->element_type != GgufType::f32 && a->element_type != GgufType::f64 &&
         a->element_type != GgufType::boolean;
  }
  if (element == GgufType::f32) ok = ok || a->element_type == GgufType::f64;
  if (!ok) {
    throw EngineError("metadata key " + std::string(key) + ": expected array of " +
                      std::string(to_string(element)) + ", found array of " +
                      std::string(to_string(a->element_type)));
  }
  return *a;
}
}  // namespace

std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
  const GgufArray& a = require_array(*this, key, GgufType::string);
  std::vector<std::string> out;
  out.reserve(a.items.size());
  for (const auto& item : a.items) out.push_back(std::get<std::string>(item.data));
  return out;
}

std::vector<float> GgufFile::get_f32_array(std::string_view key) const {
  const GgufArray& a = require_array(*this, key, GgufType::f32);
  std::vector<float> out;
  out.reserve(a.items.size());
  for (const auto& item : a.items) out.push_back(static_cast<float>(std::get<double>(item.data)));
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  const GgufArray& a = require_array(*this, key, GgufType::i64);
  std::vector<int64_t> out;
  out.reserve(a.items.size());
  for (const auto& item : a.items) out.push_back(integer_as_i64(key, item));
  return out;
}

uint32_t GgufFile::get_u32_or(std::string_view key, uint32_t fallback) const {
  return contains(key) ? get_u32(key) : fallback;
}
float GgufFile::get_f32_or(std::string_view key, float fallback) const {
  return contains(key) ? get_f32(key) : fallback;
}
bool GgufFile::get_bool_or(std::string_view key, bool fallback) const {
  return contains(key) ? get_bool(key) : fallback;
}
std::string GgufFile::get_string_or(std::string_view key, std::string fallback) const {
  return contains(key) ? get_string(key) : fallback;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::tensor(std::string_view name) const {
  const GgufTensor* t = find_tensor(name);
  if (t == nullptr) throw EngineError("tensor " + std::string(name) + ": missing");
  return *t;
}

uint64_t tensor_bytes(TensorType type, std::span<const uint64_t> shape) {
  auto traits = tensor_type_traits(type);
  if (shape.empty()) throw EngineError("tensor has no dimensions");
  if (shape[0] % traits.block_size != 0) {
    throw EngineError("row width " + std::to_string(shape[0]) + " is not a multiple of the " +
                      std::string(traits.name) + " block size " +
                      std::to_string(traits.block_size));
  }
  uint64_t bytes = shape[0] / traits.block_size * traits.block_bytes;
  for (size_t i = 1; i < shape.size(); ++i) {
    if (__builtin_mul_overflow(bytes, shape[i], &bytes)) {
      throw EngineError("tensor size overflows 64 bits");
    }
  }
  return bytes;
}

}  // namespace sy::engine
