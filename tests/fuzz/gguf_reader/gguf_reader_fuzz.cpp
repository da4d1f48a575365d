#include <cstddef>
#include <string>

#include "fuzz/fuzz_targets.h"
#include "switchyard/local_engine/engine_error.h"
#include "switchyard/local_engine/gguf_file.h"
#include "switchyard/local_engine/tokenizer.h"

namespace sy::fuzz {

void fuzz_gguf_reader(std::span<const uint8_t> data) {
  using namespace sy::engine;
  std::unique_ptr<GgufFile> file;
  try {
    file = GgufFile::parse(std::as_bytes(data));
  } catch (const EngineError&) {
    return;
  }
  // Accepted: every value and tensor must be readable within the input.
  volatile uint64_t sink = 0;
  for (const auto& [key, value] : file->metadata()) {
    sink = sink + key.size();
    try {
      if (value.is_integer()) sink = sink + file->get_i64(key);
      if (value.type == GgufType::string) sink = sink + file->get_string(key).size();
      if (value.type == GgufType::array) sink = sink + file->get_string_array(key).size();
    } catch (const EngineError&) {
    }
  }
  for (const auto& t : file->tensors()) {
    if (!t.data.empty()) sink = sink + static_cast<uint8_t>(t.data.back());
    sink = sink + t.rows();
  }
  try {
    auto tokenizer = Tokenizer::from_gguf(*file);
    auto ids = tokenizer->encode("Hello world <s> \xe2\x96\x81 42", {.parse_special = true});
    sink = sink + tokenizer->decode(ids).size();
  } catch (const EngineError&) {
  }
}

}  // namespace sy::fuzz
