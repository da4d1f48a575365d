#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <deque>
#include <future>

#include "switchyard/backends/fallback.h"

namespace sy::backends {
namespace {

// Answers each call with the next scripted outcome, asynchronously on an io_context.
class ScriptedBackend : public Backend {
 public:
  struct Step {
    std::vector<ChatChunk> chunks;  // delivered before completing
    Result<ChatResponse> result;
  };
  ScriptedBackend(boost::asio::io_context& io, std::string name, Capabilities caps = {})
      : io_(io), caps_(caps) {
    info_.name = std::move(name);
  }
  const BackendInfo& info() const override { return info_; }
  Capabilities capabilities() const override { return caps_; }
  std::shared_ptr<ChatCall> chat(ChatRequest request, bool stream, ChatHandlers handlers) override {
    seen.push_back(request);
    Step step = steps.empty() ? Step{{}, ChatResponse{}} : steps.front();
    if (!steps.empty()) steps.pop_front();
    boost::asio::post(io_, [step, handlers, stream] {
      for (const auto& c : step.chunks) {
        if (stream) handlers.on_chunk(c);
      }
      handlers.on_complete(step.result, stream && !step.chunks.empty());
    });
    struct NoCall : ChatCall {
      void cancel() override {}
    };
    return std::make_shared<NoCall>();
  }
  std::deque<Step> steps;
  std::vector<ChatRequest> seen;

 private:
  boost::asio::io_context& io_;
  BackendInfo info_;
  Capabilities caps_;
};

Error error_of(ErrorKind kind) { return Error{.kind = kind, .message = "x"}; }

struct Run {
  Result<ChatResponse> result;
  FallbackOutcome outcome;
  std::vector<std::string> chunk_backends;
};

Run run(boost::asio::io_context& io, std::vector<Candidate> candidates, ChatRequest request,
        bool stream) {
  Run out{fail(ErrorKind::internal, "not run")};
  bool done = false;
  FallbackHandlers handlers;
  handlers.on_chunk = [&](const Candidate& c, const ChatChunk&) {
    out.chunk_backends.push_back(c.backend->info().name);
  };
  handlers.on_complete = [&](Result<ChatResponse> r, const FallbackOutcome& o) {
    out.result = std::move(r);
    out.outcome = o;
    done = true;
  };
  run_with_fallback(std::move(candidates), std::move(request), stream, std::move(handlers));
  EXPECT_FALSE(done) << "handlers must not run inside run_with_fallback";
  io.restart();
  io.run();
  EXPECT_TRUE(done);
  return out;
}

TEST(Fallback, TriesNextCandidateOnRetryableFailure) {
  boost::asio::io_context io;
  auto a = std::make_shared<ScriptedBackend>(io, "a");
  auto b = std::make_shared<ScriptedBackend>(io, "b");
  a->steps.push_back({{}, std::unexpected(error_of(ErrorKind::upstream_unavailable))});
  ChatResponse ok;
  ok.model = "m-b";
  b->steps.push_back({{}, ok});
  auto r = run(io, {{a, "ma"}, {b, "mb"}}, ChatRequest{.model = "alias"}, false);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.outcome.served, 1);
  ASSERT_EQ(r.outcome.attempts.size(), 2u);
  EXPECT_TRUE(r.outcome.attempts[0].error.has_value());
  EXPECT_FALSE(r.outcome.attempts[1].error.has_value());
  EXPECT_EQ(a->seen[0].model, "ma");
  EXPECT_EQ(b->seen[0].model, "mb");
}

TEST(Fallback, StopsOnErrorTheCallerMustFix) {
  boost::asio::io_context io;
  auto a = std::make_shared<ScriptedBackend>(io, "a");
  auto b = std::make_shared<ScriptedBackend>(io, "b");
  a->steps.push_back({{}, std::unexpected(error_of(ErrorKind::context_length_exceeded))});
  auto r = run(io, {{a, "ma"}, {b, "mb"}}, ChatRequest{}, false);
  ASSERT_FALSE(r.result);
  EXPECT_EQ(r.result.error().kind, ErrorKind::context_length_exceeded);
  EXPECT_TRUE(b->seen.empty());
}

TEST(Fallback, NeverFallsBackAfterContentWasDelivered) {
  boost::asio::io_context io;
  auto a = std::make_shared<ScriptedBackend>(io, "a");
  auto b = std::make_shared<ScriptedBackend>(io, "b");
  a->steps.push_back({{ChatChunk{.content = "Hel"}},
                      std::unexpected(error_of(ErrorKind::upstream_error))});
  auto r = run(io, {{a, "ma"}, {b, "mb"}}, ChatRequest{}, true);
  ASSERT_FALSE(r.result);
  EXPECT_TRUE(r.outcome.delivered);
  EXPECT_TRUE(b->seen.empty());
  EXPECT_EQ(r.chunk_backends, std::vector<std::string>{"a"});
}

TEST(Fallback, ReportsLastErrorWhenAllCandidatesFail) {
  boost::asio::io_context io;
  auto a = std::make_shared<ScriptedBackend>(io, "a");
  auto b = std::make_shared<ScriptedBackend>(io, "b");
  a->steps.push_back({{}, std::unexpected(error_of(ErrorKind::upstream_timeout))});
  b->steps.push_back({{}, std::unexpected(error_of(ErrorKind::rate_limited))});
  auto r = run(io, {{a, "ma"}, {b, "mb"}}, ChatRequest{}, true);
  ASSERT_FALSE(r.result);
  EXPECT_EQ(r.result.error().kind, ErrorKind::rate_limited);
  EXPECT_EQ(r.outcome.served, 1);
  EXPECT_FALSE(r.outcome.delivered);
}

TEST(Fallback, RewritesLegacyCompletionsForChatOnlyBackends) {
  boost::asio::io_context io;
  auto chat_only = std::make_shared<ScriptedBackend>(io, "chat");
  auto with_completions =
      std::make_shared<ScriptedBackend>(io, "legacy", Capabilities{.completions_api = true});
  ChatRequest legacy{.surface = ApiSurface::completions, .prompt = "Once upon"};
  run(io, {{chat_only, "m"}}, legacy, false);
  run(io, {{with_completions, "m"}}, legacy, false);
  ASSERT_EQ(chat_only->seen.size(), 1u);
  EXPECT_EQ(chat_only->seen[0].surface, ApiSurface::chat_completions);
  ASSERT_EQ(chat_only->seen[0].messages.size(), 1u);
  EXPECT_EQ(chat_only->seen[0].messages[0].text(), "Once upon");
  EXPECT_EQ(with_completions->seen[0].surface, ApiSurface::completions);
  EXPECT_EQ(with_completions->seen[0].prompt, "Once upon");
}

}  // namespace
}  // namespace sy::backends
