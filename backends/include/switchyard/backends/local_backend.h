#pragma once
// The `local` backend: the embedded engine behind the same Backend interface as the vendors.
// One ServingEngine per configured model (one copy of the weights serving every request with
// continuous batching); requests are rendered with the model's chat template, tokenized and
// submitted; tokens come back as OpenAI-shaped chunks. Structured output (response_format
// json_object / json_schema) and forced tool calls are grammar-constrained; the tool-call
// format is documented in backends/local/README.md.
//
// Threading: chat() may be called from any thread; a call's handlers run serialized on a
// strand of the caller's io_context (see caller_context), never inside chat() and never on the
// engine's step thread. Destroying the backend ends the sequences still running (their calls
// complete as cancelled if their handlers can still run) and joins the engines' threads.
//
// Errors: an unknown model is not_found; a full engine queue is `overloaded` with retry_after
// (the gateway answers 503 with Retry-After); a prompt that leaves no room in the context is
// context_length_exceeded (400, code context_length_exceeded); a schema the grammar compiler
// refuses, or a request a local model cannot take (images, audio), is invalid_request (400).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/backend.h"
#include "switchyard/local_engine/serving_engine.h"

namespace boost::asio {
class io_context;
}

namespace sy::backends {

// One model a local backend serves (config `backends[].models[]` of a `protocol: local`).
struct LocalModelSpec {
  std::string name;            // what clients ask for (`model`), unique within the backend
  std::filesystem::path path;  // a GGUF file
  std::string chat_template;   // family used when the file has none ("" = none configured)
  size_t kv_budget_bytes = 256u << 20;
  // CPU threads of its engine; 0 = the CPUs this process may use (its affinity mask), shared
  // evenly by the backend's models left at 0.
  size_t threads = 0;
  size_t max_running = 64;   // sequences batched at once
  size_t max_waiting = 256;  // queued requests beyond which requests get 503
  bool lazy = false;         // load on the first request instead of at start
  // Positions a request may use (prompt and answer); 0 = the model's context_length. Lower it
  // to serve a long-context model from a kv_budget that holds only this many positions.
  size_t context_length = 0;
  // After a lazy load fails, the model is not tried again for this long: the backend reports
  // itself unavailable meanwhile (when no other model of it can serve), so the router refuses
  // at decision time, naming the rule, instead of failing each request at load.
  std::chrono::milliseconds retry_load_after{10000};
  // A request running longer than this (from its submission: queueing, prompt and generation)
  // is ended at the engine's next step, its slot and KV blocks freed, and answers
  // upstream_timeout; 0 = no limit (a client that leaves still ends it).
  std::chrono::milliseconds request_timeout{0};
};

struct LocalBackendOptions {
  BackendInfo info;  // protocol "local", kind local, region "local" unless configured
  std::vector<LocalModelSpec> models;
  size_t grammar_cache_entries = 64;  // compiled schemas kept (bulk jobs repeat theirs)
};

class LocalBackend : public Backend {
 public:
  // The engine counters of a loaded model; nullopt for an unknown or not yet loaded one.
  virtual std::optional<engine::ServingStats> stats(std::string_view model) const = 0;
};

// Loads every model whose `lazy` is false (a lazy model's file is only checked and its header
// read). Throws std::runtime_error naming the model and file when a model cannot be loaded.
std::shared_ptr<LocalBackend> make_local_backend(
    const std::vector<boost::asio::io_context*>& contexts, LocalBackendOptions options);

// What the operating system reports as available for new allocations (MemAvailable), or
// nullopt where it cannot be read.
std::optional<uint64_t> available_memory_bytes();

}  // namespace sy::backends
