#pragma once
// Private to gateway/config/*_loader.cpp: a `protocol: local` backend entry.
//
//   - name: local
//     protocol: local
//     memory_budget: 8GiB          # default: the memory available when the config loads
//     models:
//       - name: smollm2
//         path: models/smollm2-135m-instruct-q8_0.gguf   # relative to the config file
//         chat_template: chatml    # used when the file has none
//         kv_budget: 256MiB        # the paged KV cache, made resident when the model loads
//         threads: 4
//         max_running: 64
//         max_waiting: 256
//         load: start              # start | lazy

#include <cstdint>
#include <string>

#include "yaml_reader.h"

namespace sy::gateway::config_detail {

// `models:` of a local backend (a list of mappings) into b.local.models, and their names into
// b.models (what the catalog lists). Paths are relative to the config file's folder.
void parse_local_models(const Reader& r, const YAML::Node& node, const std::string& path,
                        BackendConfig& b);

// Every model's file size plus its KV budget, added up in order, must fit in
// b.local.memory_budget_bytes, or else in the memory available now; the error is located at
// the first model that does not fit and says what each part takes.
void check_local_memory(const Reader& r, const YAML::Node& models_node, const std::string& path,
                        const BackendConfig& b);

// An integer of bytes, or a number with a unit: KiB, MiB, GiB, TiB (powers of 1024) or KB,
// MB, GB, TB (powers of 1000), e.g. "256MiB", "1.5 GiB".
uint64_t parse_byte_size(const Reader& r, const YAML::Node& node, const std::string& path);

// "256 MiB", "1.5 GiB": for messages.
std::string format_bytes(uint64_t bytes);

}  // namespace sy::gateway::config_detail
