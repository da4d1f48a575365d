// A running job streams its input: BatchService keeps each request's offset and reads a line
// back when it runs it, so the lines in memory at once are bounded by the job's concurrency,
// not by its file; a service stopped mid-job and started again on the same folder still gives
// every line exactly once in the output.

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "batch/batch_service.h"
#include "gateway/cli/temp_dir.h"

namespace sy::gateway {
namespace {

// Runs lines on its own thread, as the gateway's executor does (never inside the call). Lines
// past `answer_first` are held, never answered (a gateway killed with them in flight).
class ThreadExecutor {
 public:
  explicit ThreadExecutor(size_t answer_first = SIZE_MAX) : answer_first_(answer_first) {
    thread_ = std::thread([this] { run(); });
  }
  ~ThreadExecutor() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  BatchLineExecutor executor() {
    return [this](BatchLineRequest line, std::function<void(BatchLineOutcome)> done) {
      std::lock_guard lock(mutex_);
      queue_.emplace_back(std::move(line), std::move(done));
      cv_.notify_all();
    };
  }
  size_t answered() {
    std::lock_guard lock(mutex_);
    return answered_;
  }
  size_t received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      auto [line, done] = std::move(queue_.front());
      queue_.pop_front();
      ++received_;
      if (answered_ >= answer_first_) {
        held_.push_back(std::move(done));
        continue;
      }
      ++answered_;
      lock.unlock();
      nlohmann::json body = {{"echo", nlohmann::json::parse(line.body)["messages"][0]["content"]}};
      done(BatchLineOutcome{.status_code = 200, .body = body.dump()});
      lock.lock();
    }
  }

  const size_t answer_first_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::pair<BatchLineRequest, std::function<void(BatchLineOutcome)>>> queue_;
  std::vector<std::function<void(BatchLineOutcome)>> held_;
  size_t answered_ = 0, received_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

std::string input_of(size_t lines) {
  std::string content;
  for (size_t i = 0; i < lines; ++i) {
    nlohmann::json l = {
        {"custom_id", "c" + std::to_string(i)},
        {"method", "POST"},
        {"url", "/v1/chat/completions"},
        {"body",
         {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", std::to_string(i)}}}}}}};
    content += l.dump() + "\n";
  }
  return content;
}

BatchServiceOptions options(const testing::TempDir& dir) {
  return {.dir = dir / "batches", .max_lines = 50'000, .input_chunk_bytes = 4096};
}

// custom_id -> how many times it is in the output, checking each answer is its own line's.
std::map<std::string, int> output_counts(BatchService& service, const std::string& id) {
  std::map<std::string, int> counts;
  auto record = service.batch("acme", id);
  EXPECT_TRUE(record.has_value());
  if (!record) return counts;
  auto content = service.content("acme", record->output_file_id);
  EXPECT_TRUE(content.has_value());
  if (!content) return counts;
  size_t pos = 0;
  while (pos < content->size()) {
    const size_t end = content->find('\n', pos);
    const auto line = nlohmann::json::parse(content->substr(pos, end - pos));
    const std::string custom_id = line["custom_id"];
    ++counts[custom_id];
    EXPECT_EQ("c" + line["response"]["body"]["echo"].get<std::string>(), custom_id);
    pos = end + 1;
  }
  return counts;
}

std::string create_job(BatchService& service, size_t lines) {
  auto file = service.upload("acme", "in.jsonl", "batch", input_of(lines));
  EXPECT_TRUE(file.has_value()) << file.error().message;
  auto created = service.create("acme", "k", file->id, "/v1/chat/completions", "24h", "null");
  EXPECT_TRUE(created.has_value()) << created.error().message;
  return created->id;
}

TEST(BatchStreaming, ALargeJobHoldsOnlyTheLinesInFlight) {
  testing::TempDir dir;
  constexpr size_t kLines = 20'000;
  ThreadExecutor executor;
  BatchService service(options(dir), executor.executor(), nullptr);
  service.resume();
  const std::string id = create_job(service, kLines);
  ASSERT_TRUE(service.wait_idle(std::chrono::seconds(120)));
  auto counts = output_counts(service, id);
  EXPECT_EQ(counts.size(), kLines);
  for (const auto& [custom_id, n] : counts) ASSERT_EQ(n, 1) << custom_id;
  // Never more than the job's concurrency (4) of its 20,000 lines at once.
  EXPECT_GE(service.peak_lines_held(), 1u);
  EXPECT_LE(service.peak_lines_held(), 4u);
  service.close();
}

TEST(BatchStreaming, AJobResumedAfterAStopGivesEveryLineOnce) {
  testing::TempDir dir;
  constexpr size_t kLines = 3'000;
  constexpr size_t kBeforeStop = 1'100;
  std::string id;
  {
    ThreadExecutor first(kBeforeStop);
    BatchService service(options(dir), first.executor(), nullptr);
    service.resume();
    id = create_job(service, kLines);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    // Stopped with lines in flight (received, never answered).
    while (first.received() <= kBeforeStop && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_GT(first.received(), kBeforeStop);
    service.close();
    ASSERT_EQ(first.answered(), kBeforeStop);
  }
  ThreadExecutor second;
  BatchService service(options(dir), second.executor(), nullptr);
  service.resume();
  ASSERT_TRUE(service.wait_idle(std::chrono::seconds(60)));
  // Only the lines without a stored result ran again.
  EXPECT_EQ(second.answered(), kLines - kBeforeStop);
  auto counts = output_counts(service, id);
  EXPECT_EQ(counts.size(), kLines);
  for (const auto& [custom_id, n] : counts) ASSERT_EQ(n, 1) << custom_id;
  EXPECT_LE(service.peak_lines_held(), 4u);
  service.close();
}

}  // namespace
}  // namespace sy::gateway
