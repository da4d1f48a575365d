#pragma once
// Fuzz targets of the engine's parsers of untrusted files. Each runs one input: it returns
// normally when the input was accepted or rejected with EngineError (the documented clean
// failure); anything else — a crash, a sanitizer report, another exception escaping — is a
// finding. The same functions run under AFL++ (afl_main.cpp) and replay the committed corpora
// in the normal unit tests (fuzz_corpus_replay_test.cpp).

#include <cstdint>
#include <span>

namespace sy::fuzz {

// GgufFile::parse, every metadata getter and tensor, and a tokenizer from the metadata.
void fuzz_gguf_reader(std::span<const uint8_t> data);
// Model::load_llama2c on [u32 checkpoint length][checkpoint][tokenizer.bin], then two tokens.
void fuzz_llama2c_loader(std::span<const uint8_t> data);
// Encode/decode of arbitrary bytes with real vocabularies; the first byte picks the tokenizer
// and the flags. Does nothing when the shared models are absent.
void fuzz_tokenizer(std::span<const uint8_t> data);

}  // namespace sy::fuzz
