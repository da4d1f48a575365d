#include "local/model_slot.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "switchyard/local_engine/gguf_file.h"

namespace sy::backends::local {

namespace {

std::runtime_error load_failure(const LocalModelSpec& spec, std::string_view what) {
  return std::runtime_error("local model '" + spec.name + "' (" + spec.path.string() +
                            "): " + std::string(what));
}

}  // namespace

ModelSlot::ModelSlot(LocalModelSpec spec) : spec_(std::move(spec)) {
  if (!spec_.lazy) {
    std::lock_guard lock(mutex_);
    load_locked();
    return;
  }
  try {
    auto file = engine::GgufFile::open(spec_.path);
    const std::string arch = file->get_string("general.architecture");
    context_length_ = file->get_u32(arch + ".context_length");
    if (spec_.context_length > 0) context_length_ = std::min(context_length_, spec_.context_length);
  } catch (const std::exception& e) {
    throw load_failure(spec_, e.what());
  }
}

ModelSlot::~ModelSlot() { shutdown(); }

void ModelSlot::load_locked() {
  try {
    std::shared_ptr<const engine::Model> model = engine::Model::load(spec_.path);
    engine::ServingOptions options;
    options.kv_budget_bytes = spec_.kv_budget_bytes;
    options.max_running = spec_.max_running;
    options.max_waiting = spec_.max_waiting;
    options.threads = spec_.threads;
    options.max_context = spec_.context_length;
    engine_ = std::make_unique<engine::ServingEngine>(*model, options);
    model_ = std::move(model);
    context_length_ = engine_->context_length();
  } catch (const std::exception& e) {
    engine_.reset();
    throw load_failure(spec_, e.what());
  }
  spdlog::info("local model {} loaded from {} (context {} tokens, KV budget {} MiB)", spec_.name,
               spec_.path.string(), context_length_, spec_.kv_budget_bytes >> 20);
}

Result<std::shared_ptr<const engine::Model>> ModelSlot::model() {
  std::lock_guard lock(mutex_);
  if (stopped_.load(std::memory_order_relaxed))
    return fail(ErrorKind::upstream_unavailable, "the local backend is stopping");
  if (!engine_) {
    const auto now = std::chrono::steady_clock::now();
    const std::string refusal = "The local model '" + spec_.name + "' could not be loaded";
    if (!may_serve(now)) return fail(ErrorKind::upstream_unavailable, refusal);  // pausing
    try {
      load_locked();
    } catch (const std::exception& e) {
      // The detail (file path, loader message) is for the operator's log; the client, who may
      // be anyone with a key, learns only that this model cannot be served now.
      spdlog::error("{}", e.what());
      paused_until_.store((now + spec_.retry_load_after).time_since_epoch().count(),
                          std::memory_order_relaxed);
      return fail(ErrorKind::upstream_unavailable, refusal);
    }
  }
  return model_;
}

bool ModelSlot::may_serve(std::chrono::steady_clock::time_point now) const {
  return !stopped_.load(std::memory_order_relaxed) &&
         now.time_since_epoch().count() >= paused_until_.load(std::memory_order_relaxed);
}

std::shared_ptr<const engine::Model> ModelSlot::loaded_model() const {
  std::lock_guard lock(mutex_);
  return engine_ ? model_ : nullptr;
}

Result<std::shared_ptr<engine::SequenceHandle>> ModelSlot::submit(
    engine::SequenceRequest request, engine::SequenceCallbacks callbacks) {
  std::lock_guard lock(mutex_);
  if (stopped_.load(std::memory_order_relaxed) || !engine_) {
    return fail(ErrorKind::upstream_unavailable, "the local backend is stopping");
  }
  auto handle = engine_->submit(std::move(request), std::move(callbacks));
  if (handle) return std::move(*handle);
  using Kind = engine::SubmitRefusal::Kind;
  const engine::SubmitRefusal& refusal = handle.error();
  Error error{.message = refusal.message};
  switch (refusal.kind) {
    case Kind::queue_full: {
      error.kind = ErrorKind::overloaded;
      // Whole seconds are what Retry-After carries; never advise retrying at once.
      const double seconds = std::max(1.0, std::ceil(refusal.retry_after_seconds));
      error.retry_after = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
      break;
    }
    case Kind::prompt_too_long:
      error.kind = ErrorKind::context_length_exceeded;
      error.code = "context_length_exceeded";
      error.param = "messages";
      break;
    case Kind::invalid:
      error.kind = ErrorKind::invalid_request;
      break;
    case Kind::shutting_down:
      error.kind = ErrorKind::upstream_unavailable;
      break;
  }
  return std::unexpected(std::move(error));
}

void ModelSlot::cancel(const std::shared_ptr<engine::SequenceHandle>& handle) {
  std::lock_guard lock(mutex_);
  if (engine_ && handle) handle->cancel();
}

std::optional<engine::ServingStats> ModelSlot::stats() const {
  std::lock_guard lock(mutex_);
  if (!engine_) return std::nullopt;
  return engine_->stats();
}

void ModelSlot::shutdown() {
  std::unique_ptr<engine::ServingEngine> engine;
  {
    std::lock_guard lock(mutex_);
    stopped_.store(true, std::memory_order_relaxed);
    engine = std::move(engine_);
  }
  // Outside the lock: the engine's last callbacks may still be running on its thread.
  engine.reset();
}

}  // namespace sy::backends::local
