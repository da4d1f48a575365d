// The local backend over the real engine with stories260K: chunk order and shape, usage,
// stop/length, cancellation freeing the engine, refusals, structured output and tool calls.

#include "switchyard/backends/local_backend.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "backends/chat_builders.h"
#include "backends/http/io_threads.h"

namespace sy::backends {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::IoThreads;
using testing::text_message;
using testing::wait_until;

const std::string kStories = std::string(SWITCHYARD_MODELS_DIR) + "/stories260K/stories260K.gguf";

LocalModelSpec stories_spec() {
  return LocalModelSpec{.name = "stories",
                        .path = kStories,
                        .chat_template = "plain",
                        .kv_budget_bytes = 8u << 20,
                        .threads = 1,
                        .max_running = 16,
                        .max_waiting = 64};
}

struct Outcome {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<ChatChunk> chunks;
  std::optional<Result<ChatResponse>> result;
  bool delivered = false;
  int completions = 0;
  std::thread::id caller = std::this_thread::get_id();
  bool ran_on_caller_thread = false;
  std::atomic<bool> chat_returned{false};
  bool ran_inside_chat = false;

  ChatHandlers handlers() {
    return ChatHandlers{
        .on_chunk =
            [this](const ChatChunk& chunk) {
              std::lock_guard lock(mutex);
              if (std::this_thread::get_id() == caller) ran_on_caller_thread = true;
              if (!chat_returned) ran_inside_chat = true;
              chunks.push_back(chunk);
              cv.notify_all();
            },
        .on_complete =
            [this](Result<ChatResponse> r, bool d) {
              std::lock_guard lock(mutex);
              if (std::this_thread::get_id() == caller) ran_on_caller_thread = true;
              if (!chat_returned) ran_inside_chat = true;
              result = std::move(r);
              delivered = d;
              completions++;
              cv.notify_all();
            },
    };
  }
  bool wait(std::chrono::milliseconds limit = 20s) {
    return wait_until(
        mutex, cv, [&] { return result.has_value(); }, limit);
  }
  const ChatResponse& response() const { return result->value(); }
  const Error& error() const { return result->error(); }
  std::string text() const { return response().choices.at(0).message.text(); }
  std::string streamed_text() const {
    std::string out;
    for (const ChatChunk& c : chunks) out += c.content;
    return out;
  }
};

ChatRequest ask(std::string text, int64_t max_tokens = 24) {
  ChatRequest request;
  request.model = "stories";
  request.messages.push_back(text_message(Role::user, std::move(text)));
  request.temperature = 0.0;
  request.max_tokens = max_tokens;
  return request;
}

class LocalBackendTest : public ::testing::Test {
 protected:
  std::shared_ptr<LocalBackend> make(LocalModelSpec spec = stories_spec()) {
    LocalBackendOptions options;
    options.info.name = "local";
    options.models.push_back(std::move(spec));
    return make_local_backend({&io_.io()}, std::move(options));
  }

  std::shared_ptr<ChatCall> run(Backend& backend, ChatRequest request, bool stream, Outcome& out) {
    auto call = backend.chat(std::move(request), stream, out.handlers());
    out.chat_returned = true;
    return call;
  }

  // A copy of stories260K in the temporary directory, for tests that remove it under a backend.
  static std::filesystem::path stories_copy(const std::string& tag) {
    const std::filesystem::path copy =
        std::filesystem::temp_directory_path() /
        ("sy-local-backend-" + tag + "-" + std::to_string(::getpid()) + ".gguf");
    std::filesystem::copy_file(kStories, copy, std::filesystem::copy_options::overwrite_existing);
    return copy;
  }
  // stories_spec() loading lazily from `path`.
  static LocalModelSpec lazy_spec(const std::filesystem::path& path) {
    LocalModelSpec spec = stories_spec();
    spec.path = path;
    spec.lazy = true;
    return spec;
  }

  // Waits until the engine holds no sequence and no KV block (bounded).
  static bool engine_idle(const LocalBackend& backend) {
    for (int i = 0; i < 500; ++i) {
      auto stats = backend.stats("stories");
      if (stats && stats->running == 0 && stats->waiting == 0 && stats->kv_blocks_used == 0) {
        return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  IoThreads io_{2};
};

TEST_F(LocalBackendTest, AnswersWithRealUsageAndLengthAtMaxTokens) {
  auto backend = make();
  EXPECT_EQ(backend->info().protocol, "local");
  EXPECT_EQ(backend->info().kind, BackendKind::local);
  EXPECT_EQ(backend->info().region, "local");
  EXPECT_EQ(backend->context_length("stories"), 2048);
  Outcome out;
  run(*backend, ask("Once upon a time", 12), false, out);
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.error().message;
  EXPECT_FALSE(out.text().empty());
  EXPECT_EQ(out.response().choices[0].finish_reason, FinishReason::length);
  EXPECT_EQ(out.response().model, "stories");
  EXPECT_EQ(out.response().usage.completion_tokens, 12);
  EXPECT_GT(out.response().usage.prompt_tokens, 4);
  EXPECT_TRUE(out.chunks.empty());
  EXPECT_FALSE(out.delivered);
  EXPECT_FALSE(out.ran_on_caller_thread);
  EXPECT_FALSE(out.ran_inside_chat);
}

TEST_F(LocalBackendTest, StreamsOpenAIShapedChunksThatAddUpToTheBufferedAnswer) {
  auto backend = make();
  Outcome buffered;
  run(*backend, ask("Once upon a time", 20), false, buffered);
  ASSERT_TRUE(buffered.wait());
  ASSERT_TRUE(buffered.result->has_value());

  Outcome streamed;
  run(*backend, ask("Once upon a time", 20), true, streamed);
  ASSERT_TRUE(streamed.wait());
  ASSERT_TRUE(streamed.result->has_value()) << streamed.error().message;
  ASSERT_GE(streamed.chunks.size(), 3u);
  EXPECT_TRUE(streamed.delivered);
  EXPECT_FALSE(streamed.ran_on_caller_thread);
  EXPECT_FALSE(streamed.ran_inside_chat);
  EXPECT_EQ(streamed.chunks.front().role, Role::assistant);
  EXPECT_TRUE(streamed.chunks.front().has_content()) << "no empty preamble is delivered";
  for (size_t i = 1; i < streamed.chunks.size(); ++i) EXPECT_FALSE(streamed.chunks[i].role);
  const ChatChunk& finish = streamed.chunks[streamed.chunks.size() - 2];
  EXPECT_EQ(finish.finish_reason, FinishReason::length);
  const ChatChunk& usage = streamed.chunks.back();
  ASSERT_TRUE(usage.usage);
  EXPECT_FALSE(usage.has_content());
  EXPECT_EQ(usage.usage->completion_tokens, 20);
  EXPECT_EQ(*usage.usage, streamed.response().usage);
  EXPECT_EQ(streamed.streamed_text(), buffered.text()) << "greedy: same text either way";
  EXPECT_EQ(streamed.response().usage.prompt_tokens, buffered.response().usage.prompt_tokens);
  EXPECT_GT(streamed.response().usage.cached_tokens, 0) << "the second run hits the prefix cache";
}

TEST_F(LocalBackendTest, StopStringEndsTheAnswerBeforeItWithFinishStop) {
  auto backend = make();
  Outcome free_run;
  run(*backend, ask("Once upon a time", 40), false, free_run);
  ASSERT_TRUE(free_run.wait());
  const std::string full = free_run.text();
  // A word from the middle of the greedy answer.
  const size_t space = full.find(' ', full.size() / 2);
  ASSERT_NE(space, std::string::npos) << full;
  const std::string stop = full.substr(space, full.find(' ', space + 1) - space);

  ChatRequest request = ask("Once upon a time", 40);
  request.stop = {stop};
  Outcome out;
  run(*backend, request, true, out);
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value());
  EXPECT_EQ(out.response().choices[0].finish_reason, FinishReason::stop);
  EXPECT_EQ(out.text(), full.substr(0, full.find(stop)));
  EXPECT_EQ(out.streamed_text(), out.text());
  EXPECT_LT(out.response().usage.completion_tokens, 40);
}

TEST_F(LocalBackendTest, CancelMidStreamFreesTheSequenceAndItsBlocks) {
  auto backend = make();
  Outcome out;
  auto call = run(*backend, ask("Once upon a time", 400), true, out);
  ASSERT_TRUE(wait_until(out.mutex, out.cv, [&] { return !out.chunks.empty() || out.result; }));
  call->cancel();
  ASSERT_TRUE(out.wait());
  ASSERT_FALSE(out.result->has_value());
  EXPECT_EQ(out.error().kind, ErrorKind::cancelled);
  EXPECT_EQ(out.completions, 1);
  EXPECT_TRUE(engine_idle(*backend));
  call->cancel();  // idempotent
}

// A request past its model's request_timeout ends at the engine's next step: upstream_timeout,
// the sequence and its blocks freed, streaming (after tokens went out) or not.
TEST_F(LocalBackendTest, RequestTimeoutEndsTheSequenceAndFreesItsBlocks) {
  LocalModelSpec spec = stories_spec();
  spec.request_timeout = std::chrono::milliseconds(20);
  auto backend = make(spec);
  for (bool stream : {false, true}) {
    SCOPED_TRACE(stream ? "streaming" : "buffered");
    ChatRequest request = ask("Once upon a time", 100000);
    request.stop.clear();
    Outcome out;
    run(*backend, request, stream, out);
    ASSERT_TRUE(out.wait());
    ASSERT_FALSE(out.result->has_value());
    EXPECT_EQ(out.error().kind, ErrorKind::upstream_timeout) << out.error().message;
    EXPECT_TRUE(engine_idle(*backend));
  }
}

TEST_F(LocalBackendTest, FullQueueIsOverloadedWithRetryAfter) {
  LocalModelSpec spec = stories_spec();
  spec.max_running = 1;
  spec.max_waiting = 1;
  auto backend = make(spec);
  constexpr int kCalls = 8;
  std::vector<std::unique_ptr<Outcome>> outs;
  std::vector<std::shared_ptr<ChatCall>> calls;
  for (int i = 0; i < kCalls; ++i) {
    outs.push_back(std::make_unique<Outcome>());
    calls.push_back(run(*backend, ask("Once upon a time", 480), true, *outs.back()));
  }
  int overloaded = 0;
  for (int i = 0; i < kCalls; ++i) {
    Outcome& out = *outs[i];
    if (!wait_until(out.mutex, out.cv, [&] { return !out.chunks.empty() || out.result; })) {
      continue;
    }
    std::lock_guard lock(out.mutex);
    if (out.result && !out.result->has_value() &&
        out.result->error().kind == ErrorKind::overloaded) {
      ++overloaded;
      EXPECT_TRUE(out.result->error().retry_after);
      EXPECT_GE(*out.result->error().retry_after, 1000ms);
      EXPECT_FALSE(out.delivered);
    }
  }
  EXPECT_GE(overloaded, kCalls - 3) << "one runs, one waits, the rest are refused";
  for (auto& call : calls) call->cancel();
  for (auto& out : outs) ASSERT_TRUE(out->wait());
  EXPECT_TRUE(engine_idle(*backend));
}

TEST_F(LocalBackendTest, PromptLongerThanTheContextIsContextLengthExceeded) {
  auto backend = make();
  std::string long_text;
  for (int i = 0; i < 800; ++i) long_text += "once upon a time ";  // > 2048 tokens
  Outcome out;
  run(*backend, ask(long_text), false, out);
  ASSERT_TRUE(out.wait());
  ASSERT_FALSE(out.result->has_value());
  EXPECT_EQ(out.error().kind, ErrorKind::context_length_exceeded);
  EXPECT_EQ(out.error().code, "context_length_exceeded");
  EXPECT_EQ(out.error().backend, "local");
}

TEST_F(LocalBackendTest, JsonSchemaOutputParsesAndValidates) {
  auto backend = make();
  ChatRequest request = ask("Tell me about a cat.", 120);
  request.response_format.type = ResponseFormat::Type::json_schema;
  request.response_format.schema_json =
      R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},)"
      R"("mood":{"enum":["happy","sad"]}},"required":["name","age","mood"],)"
      R"("additionalProperties":false})";
  for (bool stream : {false, true}) {
    Outcome out;
    run(*backend, request, stream, out);
    ASSERT_TRUE(out.wait());
    ASSERT_TRUE(out.result->has_value()) << out.error().message;
    EXPECT_EQ(out.response().choices[0].finish_reason, FinishReason::stop) << out.text();
    json value = json::parse(out.text());
    EXPECT_TRUE(value["name"].is_string()) << out.text();
    EXPECT_TRUE(value["age"].is_number_integer()) << out.text();
    EXPECT_TRUE(value["mood"] == "happy" || value["mood"] == "sad") << out.text();
    if (stream) {
      EXPECT_EQ(out.streamed_text(), out.text());
    }
  }
}

TEST_F(LocalBackendTest, JsonObjectOutputIsAnObject) {
  auto backend = make();
  ChatRequest request = ask("Tell me about a dog.", 120);
  request.response_format.type = ResponseFormat::Type::json_object;
  Outcome out;
  run(*backend, request, false, out);
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.error().message;
  const std::string text = out.text();
  if (out.response().choices[0].finish_reason == FinishReason::stop) {
    EXPECT_TRUE(json::parse(text).is_object()) << text;
  } else {
    EXPECT_EQ(text.at(text.find_first_not_of(" \t\r\n")), '{') << text;
  }
}

TEST_F(LocalBackendTest, UnsupportedSchemaIsInvalidRequestWithTheEnginesMessage) {
  auto backend = make();
  ChatRequest request = ask("Hi");
  request.response_format.type = ResponseFormat::Type::json_schema;
  std::string deep = R"({"type":"string"})";
  for (int i = 0; i < 40; ++i) deep = R"({"type":"array","items":)" + deep + "}";
  request.response_format.schema_json = deep;
  Outcome out;
  run(*backend, request, false, out);
  ASSERT_TRUE(out.wait());
  ASSERT_FALSE(out.result->has_value());
  EXPECT_EQ(out.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(out.error().param, "response_format");
  EXPECT_NE(out.error().message.find("Unsupported schema"), std::string::npos);
}

TEST_F(LocalBackendTest, RequiredToolChoiceReturnsOpenAIShapedToolCalls) {
  auto backend = make();
  ChatRequest request = ask("What is the weather in Paris?", 120);
  request.tools = {testing::weather_tool()};
  request.tool_choice.mode = ToolChoice::Mode::required;
  for (bool stream : {false, true}) {
    Outcome out;
    run(*backend, request, stream, out);
    ASSERT_TRUE(out.wait());
    ASSERT_TRUE(out.result->has_value()) << out.error().message;
    const Choice& choice = out.response().choices.at(0);
    ASSERT_EQ(choice.finish_reason, FinishReason::tool_calls) << choice.message.text();
    ASSERT_EQ(choice.message.tool_calls.size(), 1u);
    const ToolCall& call = choice.message.tool_calls[0];
    EXPECT_EQ(call.name, "get_weather");
    EXPECT_TRUE(call.id.starts_with("call_"));
    EXPECT_TRUE(json::parse(call.arguments)["location"].is_string()) << call.arguments;
    EXPECT_TRUE(choice.message.text().empty());
    if (stream) {
      bool saw_call = false;
      for (const ChatChunk& c : out.chunks) {
        EXPECT_TRUE(c.content.empty()) << "a forced tool call streams no content";
        saw_call = saw_call || !c.tool_calls.empty();
      }
      EXPECT_TRUE(saw_call);
    }
  }
}

TEST_F(LocalBackendTest, LogprobsComeWithEveryGeneratedToken) {
  auto backend = make();
  ChatRequest request = ask("Once upon a time", 10);
  request.logprobs = true;
  request.top_logprobs = 2;
  for (bool stream : {false, true}) {
    Outcome out;
    run(*backend, request, stream, out);
    ASSERT_TRUE(out.wait());
    ASSERT_TRUE(out.result->has_value()) << out.error().message;
    const Choice& choice = out.response().choices.at(0);
    ASSERT_EQ(choice.logprobs.size(), 10u);
    std::string joined;
    for (const TokenLogprob& t : choice.logprobs) {
      joined += t.token;
      EXPECT_LE(t.logprob, 0.0);
      ASSERT_EQ(t.top.size(), 2u);
      EXPECT_EQ(t.top[0].first, t.token) << "greedy takes the most likely token";
      EXPECT_GE(t.top[0].second, t.top[1].second);
    }
    EXPECT_NE(joined.find(choice.message.text().substr(1)), std::string::npos);
  }
}

TEST_F(LocalBackendTest, LogprobsWithoutAlternativesAreTheModels) {
  // logprobs without top_logprobs: each token's own, the same as the top alternative's
  // (greedy) when alternatives are asked for too.
  auto backend = make();
  ChatRequest request = ask("Once upon a time", 8);
  request.logprobs = true;
  Outcome plain;
  run(*backend, request, true, plain);
  ASSERT_TRUE(plain.wait());
  ASSERT_TRUE(plain.result->has_value()) << plain.error().message;
  request.top_logprobs = 1;
  Outcome with_top;
  run(*backend, request, true, with_top);
  ASSERT_TRUE(with_top.wait());
  ASSERT_TRUE(with_top.result->has_value()) << with_top.error().message;
  const auto& lp = plain.response().choices.at(0).logprobs;
  const auto& top = with_top.response().choices.at(0).logprobs;
  ASSERT_EQ(lp.size(), 8u);
  ASSERT_EQ(top.size(), 8u);
  for (size_t i = 0; i < lp.size(); ++i) {
    EXPECT_TRUE(lp[i].top.empty());
    EXPECT_LT(lp[i].logprob, 0.0);
    EXPECT_EQ(lp[i].token, top[i].token);
    EXPECT_EQ(lp[i].logprob, top[i].logprob);
    EXPECT_EQ(lp[i].logprob, top[i].top.at(0).second);
  }
}

TEST_F(LocalBackendTest, CountsPromptTokensAsItWouldBillThem) {
  auto backend = make();
  ChatRequest request = ask("Once upon a time", 4);
  auto counted = backend->count_prompt_tokens(request);
  ASSERT_TRUE(counted);
  Outcome out;
  run(*backend, request, false, out);
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value());
  EXPECT_EQ(*counted, out.response().usage.prompt_tokens);
  request.model = "nope";
  EXPECT_FALSE(backend->count_prompt_tokens(request));
}

TEST_F(LocalBackendTest, UnknownModelIsNotFound) {
  auto backend = make();
  ChatRequest request = ask("Hi");
  request.model = "nope";
  Outcome out;
  run(*backend, request, false, out);
  ASSERT_TRUE(out.wait());
  ASSERT_FALSE(out.result->has_value());
  EXPECT_EQ(out.error().kind, ErrorKind::not_found);
  EXPECT_FALSE(backend->context_length("nope"));
}

TEST_F(LocalBackendTest, LazyModelLoadsOnItsFirstRequest) {
  LocalModelSpec spec = stories_spec();
  spec.lazy = true;
  auto backend = make(spec);
  EXPECT_FALSE(backend->stats("stories")) << "not loaded yet";
  EXPECT_EQ(backend->context_length("stories"), 2048) << "read from the file's header";
  Outcome out;
  run(*backend, ask("Hi", 4), false, out);
  ASSERT_TRUE(out.wait());
  ASSERT_TRUE(out.result->has_value()) << out.error().message;
  EXPECT_TRUE(backend->stats("stories"));
}

// context_length lowers the positions a request may use, lazy or loaded at start, and a prompt
// past it is refused as longer than the context.
TEST_F(LocalBackendTest, ConfiguredContextLengthIsTheServedOne) {
  for (bool lazy : {true, false}) {
    SCOPED_TRACE(lazy ? "lazy" : "at start");
    LocalModelSpec spec = stories_spec();
    spec.lazy = lazy;
    spec.context_length = 64;
    auto backend = make(spec);
    EXPECT_EQ(backend->context_length("stories"), 64);
    std::string text;
    for (int i = 0; i < 40; ++i) text += "once upon a time ";
    Outcome out;
    run(*backend, ask(text, 4), false, out);
    ASSERT_TRUE(out.wait());
    ASSERT_FALSE(out.result->has_value());
    EXPECT_EQ(out.error().kind, ErrorKind::context_length_exceeded) << out.error().message;
    EXPECT_EQ(backend->context_length("stories"), 64) << "still after loading";
  }
}

// A lazy load runs outside the slot's lock: while it lasts (a large KV budget to make resident
// makes it long), stats (the /metrics scrape) and availability (asked by the router for every
// request) answer at once instead of waiting for it.
TEST_F(LocalBackendTest, StatsAndAvailabilityDoNotWaitForALazyLoad) {
  LocalModelSpec spec = stories_spec();
  spec.lazy = true;
  spec.kv_budget_bytes = size_t{2} << 30;
  auto backend = make(spec);
  std::atomic<bool> done{false};
  std::atomic<int64_t> slowest_us{0};  // the longest stats + availability call
  std::thread poller([&] {
    while (!done) {
      const auto start = std::chrono::steady_clock::now();
      const bool loaded = backend->stats("stories").has_value();
      const bool available = backend->available();
      slowest_us =
          std::max<int64_t>(slowest_us, std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::steady_clock::now() - start)
                                            .count());
      if (!loaded) EXPECT_TRUE(available) << "a model being loaded is not down";
      std::this_thread::sleep_for(2ms);
    }
  });
  const auto start = std::chrono::steady_clock::now();
  Outcome out;
  run(*backend, ask("Hi", 4), false, out);
  ASSERT_TRUE(out.wait());
  const auto load = std::chrono::steady_clock::now() - start;
  done = true;
  poller.join();
  ASSERT_TRUE(out.result->has_value()) << out.error().message;
  if (load < 100ms) GTEST_SKIP() << "the load was too quick to watch";
  EXPECT_LT(std::chrono::microseconds(slowest_us.load()), load / 4)
      << "a stats call waited for the load ("
      << std::chrono::duration_cast<std::chrono::milliseconds>(load).count() << " ms)";
}

// A lazy model whose file is gone by its first request (moved, deleted): upstream_unavailable,
// so the gateway answers 503 or tries the next allowed candidate. The message names the model,
// not the server's file path (that goes to the log); the next request, inside the pause after
// a failed load (retry_load_after), gets the same answer without loading again.
TEST_F(LocalBackendTest, LazyModelThatCannotLoadIsUnavailableWithoutItsPath) {
  const std::filesystem::path copy = stories_copy("gone");
  LocalModelSpec spec = lazy_spec(copy);
  auto backend = make(spec);
  std::filesystem::remove(copy);
  for (int attempt = 0; attempt < 2; ++attempt) {
    Outcome out;
    run(*backend, ask("Hi", 4), false, out);
    ASSERT_TRUE(out.wait());
    ASSERT_FALSE(out.result->has_value());
    EXPECT_EQ(out.error().kind, ErrorKind::upstream_unavailable);
    EXPECT_EQ(out.error().backend, "local");
    EXPECT_NE(out.error().message.find("'stories'"), std::string::npos) << out.error().message;
    EXPECT_EQ(out.error().message.find(copy.string()), std::string::npos) << out.error().message;
  }
  EXPECT_FALSE(backend->stats("stories"));
}

// After a failed load the backend is unavailable (the router leaves it out, refusing at
// decision time) for retry_load_after; then it is tried again, and loads once the file is back.
TEST_F(LocalBackendTest, FailedLoadPausesTheBackendThenRetries) {
  const std::filesystem::path copy = stories_copy("retry");
  LocalModelSpec spec = lazy_spec(copy);
  spec.retry_load_after = std::chrono::milliseconds(200);
  auto backend = make(spec);
  EXPECT_TRUE(backend->available()) << "not tried yet";
  std::filesystem::remove(copy);
  Outcome failed;
  run(*backend, ask("Hi", 4), false, failed);
  ASSERT_TRUE(failed.wait());
  ASSERT_FALSE(failed.result->has_value());
  EXPECT_FALSE(backend->available()) << "paused after the failed load";
  std::filesystem::copy_file(kStories, copy, std::filesystem::copy_options::overwrite_existing);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!backend->available() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(backend->available()) << "tried again after the pause";
  Outcome served;
  run(*backend, ask("Hi", 4), false, served);
  ASSERT_TRUE(served.wait());
  EXPECT_TRUE(served.result->has_value()) << served.error().message;
  EXPECT_TRUE(backend->stats("stories"));
  std::filesystem::remove(copy);
}

TEST_F(LocalBackendTest, MissingModelFileFailsAtConstructionNamingIt) {
  LocalModelSpec spec = stories_spec();
  spec.path = "/nonexistent/model.gguf";
  try {
    make(spec);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'stories'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos);
  }
}

TEST_F(LocalBackendTest, RepeatedPromptReportsCachedPromptTokens) {
  auto backend = make();
  ChatRequest request = ask("", 4);
  request.messages[0] = text_message(
      Role::system, "You tell short stories about a little girl named Lily and her red ball.");
  request.messages.push_back(text_message(Role::user, "Tell me one."));
  Outcome first;
  run(*backend, request, false, first);
  ASSERT_TRUE(first.wait());
  ASSERT_TRUE(first.result->has_value());
  Outcome second;
  run(*backend, request, false, second);
  ASSERT_TRUE(second.wait());
  ASSERT_TRUE(second.result->has_value());
  EXPECT_EQ(second.response().usage.prompt_tokens, first.response().usage.prompt_tokens);
  EXPECT_GT(second.response().usage.cached_tokens, 0);
  EXPECT_LE(second.response().usage.cached_tokens, second.response().usage.prompt_tokens);
}

TEST_F(LocalBackendTest, DestroyingTheBackendEndsRunningCalls) {
  auto backend = make();
  Outcome out;
  run(*backend, ask("Once upon a time", 480), true, out);
  ASSERT_TRUE(wait_until(out.mutex, out.cv, [&] { return !out.chunks.empty() || out.result; }));
  backend.reset();
  ASSERT_TRUE(out.wait(5s));
  EXPECT_EQ(out.completions, 1);
}

}  // namespace
}  // namespace sy::backends
