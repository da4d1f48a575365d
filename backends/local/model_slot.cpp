#include "local/model_slot.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <stdexcept>
#include <tuple>

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
    auto [model, engine] = load();
    std::lock_guard lock(mutex_);
    install_locked(std::move(model), std::move(engine));
    return;
  }
  try {
    auto file = engine::GgufFile::open(spec_.path);
    const std::string arch = file->get_string("general.architecture");
    size_t context = file->get_u32(arch + ".context_length");
    if (spec_.context_length > 0) context = std::min(context, spec_.context_length);
    context_length_.store(context, std::memory_order_relaxed);
  } catch (const std::exception& e) {
    throw load_failure(spec_, e.what());
  }
}

ModelSlot::~ModelSlot() { shutdown(); }

std::pair<std::shared_ptr<const engine::Model>, std::unique_ptr<engine::ServingEngine>>
ModelSlot::load() const {
  try {
    std::shared_ptr<const engine::Model> model = engine::Model::load(spec_.path);
    engine::ServingOptions options;
    options.kv_budget_bytes = spec_.kv_budget_bytes;
    options.max_running = spec_.max_running;
    options.max_waiting = spec_.max_waiting;
    options.threads = spec_.threads;
    options.max_context = spec_.context_length;
    auto engine = std::make_unique<engine::ServingEngine>(*model, options);
    return {std::move(model), std::move(engine)};
  } catch (const std::exception& e) {
    throw load_failure(spec_, e.what());
  }
}

void ModelSlot::install_locked(std::shared_ptr<const engine::Model> model,
                               std::unique_ptr<engine::ServingEngine> engine) {
  context_length_.store(engine->context_length(), std::memory_order_relaxed);
  engine_ = std::move(engine);
  model_ = std::move(model);
  spdlog::info("local model {} loaded from {} (context {} tokens, KV budget {} MiB)", spec_.name,
               spec_.path.string(), context_length(), spec_.kv_budget_bytes >> 20);
}

Result<std::shared_ptr<const engine::Model>> ModelSlot::model() {
  std::unique_lock lock(mutex_);
  const auto stopping = [] {
    return fail(ErrorKind::upstream_unavailable, "the local backend is stopping");
  };
  loaded_.wait(lock, [&] { return !loading_; });  // another request's load ends first
  if (stopped_.load(std::memory_order_relaxed)) return stopping();
  if (engine_) return model_;
  const auto now = std::chrono::steady_clock::now();
  const std::string refusal = "The local model '" + spec_.name + "' could not be loaded";
  if (!may_serve(now)) return fail(ErrorKind::upstream_unavailable, refusal);  // pausing
  loading_ = true;
  lock.unlock();
  std::shared_ptr<const engine::Model> model;
  std::unique_ptr<engine::ServingEngine> engine;
  std::string failure;
  try {
    std::tie(model, engine) = load();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  lock.lock();
  loading_ = false;
  loaded_.notify_all();
  if (!failure.empty()) {
    // The detail (file path, loader message) is for the operator's log; the client, who may
    // be anyone with a key, learns only that this model cannot be served now.
    spdlog::error("{}", failure);
    paused_until_.store((now + spec_.retry_load_after).time_since_epoch().count(),
                        std::memory_order_relaxed);
    return fail(ErrorKind::upstream_unavailable, refusal);
  }
  if (stopped_.load(std::memory_order_relaxed)) {  // shut down while loading: not installed
    lock.unlock();
    engine.reset();
    return stopping();
  }
  install_locked(std::move(model), std::move(engine));
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
  loaded_.notify_all();
  // Outside the lock: the engine's last callbacks may still be running on its thread.
  engine.reset();
}

}  // namespace sy::backends::local
