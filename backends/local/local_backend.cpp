#include "switchyard/backends/local_backend.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "local/grammar_cache.h"
#include "local/local_request.h"
#include "local/model_slot.h"
#include "local/tool_call_format.h"
#include "switchyard/backends/http_client.h"
#include "switchyard/local_engine/cpu_count.h"

namespace sy::backends {

namespace asio = boost::asio;
using local::ModelSlot;
using local::OutputMode;

namespace {

// What the calls of one backend share. The backend object itself is held by the gateway only;
// calls hold this, so destroying the backend can shut the engines down while calls still
// exist (a call's engine callbacks keep the call alive until the engine lets go of them).
struct LocalShared {
  std::vector<asio::io_context*> contexts;
  BackendInfo info;
  std::map<std::string, std::shared_ptr<ModelSlot>, std::less<>> slots;
  local::GrammarCache grammars;
  std::atomic<uint64_t> calls{0};

  LocalShared(std::vector<asio::io_context*> c, BackendInfo i, size_t grammar_entries)
      : contexts(std::move(c)), info(std::move(i)), grammars(grammar_entries) {}
};

uint64_t random_seed() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

std::string call_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return id;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One chat() call. Everything but the engine's callbacks runs on the call's strand; those
// only copy what they got onto it.
class LocalChatCall final : public ChatCall, public std::enable_shared_from_this<LocalChatCall> {
 public:
  LocalChatCall(std::shared_ptr<LocalShared> shared, ChatRequest request, bool stream,
                ChatHandlers handlers)
      : shared_(std::move(shared)),
        strand_(asio::make_strand(caller_context(shared_->contexts))),
        request_(std::move(request)),
        stream_(stream),
        handlers_(std::move(handlers)) {}

  void begin() {
    asio::post(strand_, [self = shared_from_this()] { self->start(); });
  }

  void cancel() override {
    asio::post(strand_, [self = shared_from_this()] {
      if (self->done_) return;
      if (self->slot_ && self->handle_) self->slot_->cancel(self->handle_);
      self->complete(fail(ErrorKind::cancelled, "cancelled"));
    });
  }

 private:
  Error tagged(Error error) const {
    error.backend = shared_->info.name;
    return error;
  }

  void fail_with(Error error) { complete(std::unexpected(tagged(std::move(error)))); }

  void start() {
    if (done_) return;
    auto it = shared_->slots.find(request_.model);
    if (it == shared_->slots.end()) {
      return fail_with(
          Error{.kind = ErrorKind::not_found,
                .message = "The local backend has no model '" + request_.model.substr(0, 200) + "'",
                .param = "model"});
    }
    slot_ = it->second;
    auto model = slot_->model();
    if (!model) return fail_with(std::move(model.error()));
    model_ = std::move(*model);

    auto prepared = local::prepare_request(
        request_, *model_, {.chat_template = slot_->spec().chat_template, .seed = random_seed()});
    if (!prepared) return fail_with(std::move(prepared.error()));
    if (!prepared->notice.empty() && slot_->first_notice()) {
      spdlog::info("local model {}: {}", slot_->spec().name, prepared->notice);
    }
    mode_ = prepared->mode;
    tools_ = std::move(prepared->tools);
    logprobs_ = prepared->logprobs;
    if (prepared->constrained) {
      const char* param = mode_ == OutputMode::json ? "response_format" : "tools";
      auto grammar =
          shared_->grammars.get(slot_->spec().name, model_->tokenizer(), prepared->schema, param);
      if (!grammar) return fail_with(std::move(grammar.error()));
      prepared->sequence.constraint = (*grammar)->start();
    }

    if (slot_->spec().request_timeout.count() > 0) {
      prepared->sequence.deadline =
          std::chrono::steady_clock::now() + slot_->spec().request_timeout;
    }
    // The engine calls these on its step thread: copy and hop onto the strand.
    engine::SequenceCallbacks callbacks;
    callbacks.on_token = [self = shared_from_this()](const engine::GeneratedToken& token) {
      asio::post(self->strand_, [self, token] { self->on_token(token); });
    };
    callbacks.on_end = [self = shared_from_this()](engine::SequenceEnd end, std::string_view text,
                                                   const engine::SequenceUsage& usage,
                                                   std::string_view error) {
      asio::post(self->strand_,
                 [self, end, text = std::string(text), usage, error = std::string(error)] {
                   self->on_end(end, text, usage, error);
                 });
    };
    auto handle = slot_->submit(std::move(prepared->sequence), std::move(callbacks));
    if (!handle) return fail_with(std::move(handle.error()));
    handle_ = std::move(*handle);
  }

  // Whether text is held back rather than streamed: a forced tool call always (it becomes
  // tool_calls at the end); with `auto`, while the output may still be a tool call.
  bool holding() {
    if (mode_ == OutputMode::tool_forced) return true;
    if (mode_ != OutputMode::tool_auto || auto_is_text_) return false;
    const size_t first = text_.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return true;
    if (text_[first] == '{') return true;
    auto_is_text_ = true;
    return false;
  }

  void on_token(const engine::GeneratedToken& token) {
    if (done_) return;
    text_ += token.text;
    if (logprobs_) {
      TokenLogprob entry{.token = model_->tokenizer().token_to_piece(token.token),
                         .logprob = token.logprob};
      for (const engine::TokenLogprob& alt : token.top)
        entry.top.emplace_back(alt.text, alt.logprob);
      pending_logprobs_.push_back(std::move(entry));
    }
    if (!holding()) release_text();
  }

  void release_text() {
    if (released_ >= text_.size()) return;
    ChatChunk chunk;
    chunk.content = text_.substr(released_);
    released_ = text_.size();
    emit(std::move(chunk));
  }

  void on_end(engine::SequenceEnd end, const std::string& text, const engine::SequenceUsage& usage,
              const std::string& error) {
    if (done_) return;
    text_ += text;
    switch (end) {
      case engine::SequenceEnd::cancelled:
        return fail_with(Error{.kind = ErrorKind::cancelled, .message = "cancelled"});
      case engine::SequenceEnd::deadline:
        return fail_with(Error{.kind = ErrorKind::upstream_timeout,
                               .message = "The local model did not finish before the deadline"});
      case engine::SequenceEnd::failed:
        return fail_with(
            Error{.kind = ErrorKind::internal, .message = "The local engine failed: " + error});
      case engine::SequenceEnd::stop:
      case engine::SequenceEnd::length:
        break;
    }
    FinishReason finish =
        end == engine::SequenceEnd::length ? FinishReason::length : FinishReason::stop;
    std::optional<ToolCall> call;
    if ((mode_ == OutputMode::tool_forced || mode_ == OutputMode::tool_auto) && released_ == 0) {
      call = local::parse_tool_call(text_, tools_);
    }
    if (call) {
      ChatChunk chunk;
      chunk.tool_calls.push_back(ToolCallDelta{
          .index = 0, .id = call_id(), .name = call->name, .arguments = call->arguments});
      emit(std::move(chunk));
      finish = FinishReason::tool_calls;
    } else {
      release_text();
    }
    ChatChunk last;
    last.finish_reason = finish;
    emit(std::move(last));

    Usage totals{.prompt_tokens = static_cast<int64_t>(usage.prompt_tokens),
                 .completion_tokens = static_cast<int64_t>(usage.completion_tokens),
                 .cached_tokens = static_cast<int64_t>(usage.cached_prompt_tokens)};
    ChatChunk usage_chunk;
    usage_chunk.usage = totals;
    emit(std::move(usage_chunk));

    ChatResponse response = std::move(accumulator_).finish();
    response.model = slot_->spec().name;
    response.created = unix_now();
    response.usage = totals;
    complete(std::move(response));
  }

  void emit(ChatChunk chunk) {
    const bool visible = chunk.has_content() || chunk.finish_reason != FinishReason::none;
    if (visible && !role_sent_) {
      chunk.role = Role::assistant;
      role_sent_ = true;
    }
    chunk.model = slot_->spec().name;
    if (visible && !pending_logprobs_.empty()) {
      // A token's log-probability goes with the first chunk after it (its text may have been
      // held back, e.g. inside a stop string's prefix).
      chunk.logprobs = std::move(pending_logprobs_);
      pending_logprobs_.clear();
    }
    accumulator_.add(chunk);
    if (!stream_ || done_) return;
    delivered_ = true;
    if (handlers_.on_chunk) handlers_.on_chunk(chunk);
  }

  void complete(Result<ChatResponse> result) {
    if (done_) return;
    done_ = true;
    handle_.reset();
    ChatHandlers handlers = std::move(handlers_);
    handlers_ = {};
    if (handlers.on_complete) handlers.on_complete(std::move(result), delivered_);
  }

  std::shared_ptr<LocalShared> shared_;
  asio::strand<asio::io_context::executor_type> strand_;
  ChatRequest request_;
  bool stream_ = false;
  ChatHandlers handlers_;

  std::shared_ptr<ModelSlot> slot_;
  std::shared_ptr<const engine::Model> model_;
  std::shared_ptr<engine::SequenceHandle> handle_;
  OutputMode mode_ = OutputMode::text;
  std::vector<Tool> tools_;
  bool logprobs_ = false;
  std::vector<TokenLogprob> pending_logprobs_;  // of tokens whose chunk is not out yet

  std::string text_;     // everything generated so far
  size_t released_ = 0;  // bytes of text_ sent as content
  bool auto_is_text_ = false;
  bool role_sent_ = false;
  bool delivered_ = false;
  bool done_ = false;
  ChatAccumulator accumulator_;
};

class LocalBackendImpl final : public LocalBackend {
 public:
  explicit LocalBackendImpl(std::shared_ptr<LocalShared> shared) : shared_(std::move(shared)) {}

  ~LocalBackendImpl() override {
    for (auto& [name, slot] : shared_->slots) slot->shutdown();
  }

  const BackendInfo& info() const override { return shared_->info; }

  Capabilities capabilities() const override {
    // The legacy completions API takes the raw prompt (no chat template).
    return Capabilities{
        .multiple_choices = false, .completions_api = true, .passthrough_fields = false};
  }

  std::optional<int64_t> context_length(std::string_view model) const override {
    auto it = shared_->slots.find(model);
    if (it == shared_->slots.end()) return std::nullopt;
    return static_cast<int64_t>(it->second->context_length());
  }

  // The prompt exactly as chat() would submit it (template, tools, tokenizer), when the model
  // is loaded; a lazy model not loaded yet is not loaded for a count.
  std::optional<int64_t> count_prompt_tokens(const ChatRequest& request) const override {
    auto it = shared_->slots.find(request.model);
    if (it == shared_->slots.end()) return std::nullopt;
    std::shared_ptr<const engine::Model> model = it->second->loaded_model();
    if (!model) return std::nullopt;
    auto prepared = local::prepare_request(
        request, *model, {.chat_template = it->second->spec().chat_template, .seed = 0});
    if (!prepared) return std::nullopt;
    return static_cast<int64_t>(prepared->sequence.prompt.size());
  }

  // Unavailable while none of its models can serve (each stopped, or pausing after a failed
  // load): the router then leaves it out at decision time.
  bool available() const override {
    const auto now = std::chrono::steady_clock::now();
    for (const auto& [name, slot] : shared_->slots) {
      if (slot->may_serve(now)) return true;
    }
    return false;
  }

  std::optional<engine::ServingStats> stats(std::string_view model) const override {
    auto it = shared_->slots.find(model);
    if (it == shared_->slots.end()) return std::nullopt;
    return it->second->stats();
  }

  std::shared_ptr<ChatCall> chat(ChatRequest request, bool stream, ChatHandlers handlers) override {
    auto call =
        std::make_shared<LocalChatCall>(shared_, std::move(request), stream, std::move(handlers));
    call->begin();
    return call;
  }

 private:
  std::shared_ptr<LocalShared> shared_;
};

}  // namespace

std::shared_ptr<LocalBackend> make_local_backend(const std::vector<asio::io_context*>& contexts,
                                                 LocalBackendOptions options) {
  if (contexts.empty()) throw std::invalid_argument("a local backend needs an io_context");
  if (options.info.protocol.empty()) options.info.protocol = "local";
  options.info.kind = BackendKind::local;
  if (options.info.region.empty()) options.info.region = "local";
  auto shared =
      std::make_shared<LocalShared>(contexts, options.info, options.grammar_cache_entries);
  // Models left at threads 0 share the usable CPUs rather than each taking all of them: every
  // engine's pool spins and steps at once, and several oversubscribed the cores.
  const size_t shares = std::max<size_t>(1, options.models.size());
  for (LocalModelSpec& spec : options.models) {
    if (spec.threads == 0) spec.threads = std::max<size_t>(1, engine::usable_cpu_count() / shares);
  }
  for (LocalModelSpec& spec : options.models) {
    if (shared->slots.contains(spec.name)) {
      throw std::invalid_argument("local backend '" + options.info.name + "': duplicate model '" +
                                  spec.name + "'");
    }
    std::string name = spec.name;
    shared->slots.emplace(std::move(name), std::make_shared<ModelSlot>(std::move(spec)));
  }
  return std::make_shared<LocalBackendImpl>(std::move(shared));
}

std::optional<uint64_t> available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (!line.starts_with("MemAvailable:")) continue;
    std::istringstream fields(line.substr(13));
    uint64_t kib = 0;
    if (fields >> kib) return kib * 1024;
  }
  return std::nullopt;
}

}  // namespace sy::backends
