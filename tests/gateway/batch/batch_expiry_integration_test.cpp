// Batch expiry on a timer: a job whose lines hang in flight still expires when its completion
// window passes (not only when a line finishes). Lines stored before the expiry are in the
// output file, every other line is in the error file once with code batch_expired, and a line
// that comes back after the expiry is stored (and would be billed) without appearing twice.

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "batch/batch_service.h"
#include "gateway/batch/batch_test_support.h"
#include "gateway/cli/temp_dir.h"

namespace sy::gateway {
namespace {

using nlohmann::json;

TEST(BatchExpiry, AJobWithLinesStuckInFlightExpiresOnTheTimer) {
  testing::TempDir dir;
  constexpr int kLines = 10;
  constexpr int kAnswered = 3;  // lines 0..2 answer; the rest never do until the test ends
  std::mutex mutex;
  std::vector<std::function<void(BatchLineOutcome)>> stuck;
  std::vector<std::thread> answering;
  auto executor = [&](BatchLineRequest request, std::function<void(BatchLineOutcome)> done) {
    const int line = std::stoi(request.request_id.substr(request.request_id.rfind('_') + 1));
    std::lock_guard lock(mutex);
    if (line < kAnswered) {
      answering.emplace_back([done = std::move(done)] {
        done(BatchLineOutcome{.status_code = 200, .body = R"({"object":"chat.completion"})"});
      });
    } else {
      stuck.push_back(std::move(done));
    }
  };
  BatchService service({.dir = dir / "batches",
                        .max_concurrency_per_job = 2,
                        .window_seconds = 2,
                        .expiry_check_interval = std::chrono::milliseconds(20)},
                       executor, nullptr);
  std::string input;
  for (int i = 0; i < kLines; ++i) {
    input += sy::testing::chat_line("c" + std::to_string(i), "m", "hi");
  }
  auto file = service.upload("t", "in.jsonl", "batch", input);
  ASSERT_TRUE(file.has_value()) << file.error().message;
  auto created = service.create("t", "k", file->id, "/v1/chat/completions", "24h", "null");
  ASSERT_TRUE(created.has_value()) << created.error().message;

  // Expires 1-2 s after creation (whole seconds); the wait is bounded.
  BatchRecord record;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    record = service.batch("t", created->id).value();
  } while (record.status != BatchStatus::expired && std::chrono::steady_clock::now() < give_up);
  ASSERT_EQ(record.status, BatchStatus::expired);
  EXPECT_GT(record.expired_at, 0);
  EXPECT_EQ(record.completed, kAnswered);

  auto count_lines = [&](const std::string& id, const std::string& code) {
    auto text = service.content("t", id);
    EXPECT_TRUE(text.has_value());
    std::multiset<std::string> ids;
    for (const json& line : sy::testing::jsonl(text.value_or(""))) {
      if (!code.empty()) {
        EXPECT_EQ(line["error"]["code"], code) << line.dump();
      }
      ids.insert(line["custom_id"].get<std::string>());
    }
    return ids;
  };
  auto ok = count_lines(record.output_file_id, "");
  auto expired = count_lines(record.error_file_id, "batch_expired");
  EXPECT_EQ(ok.size(), static_cast<size_t>(kAnswered));
  EXPECT_EQ(expired.size(), static_cast<size_t>(kLines - kAnswered));
  for (int i = 0; i < kLines; ++i) {
    const std::string id = "c" + std::to_string(i);
    EXPECT_EQ(ok.count(id) + expired.count(id), 1u) << id;
  }

  // The stuck lines come back late: stored, but the job and its files stay as they were.
  std::vector<std::function<void(BatchLineOutcome)>> late;
  {
    std::lock_guard lock(mutex);
    late.swap(stuck);
  }
  EXPECT_EQ(late.size(), 2u) << "concurrency 2: two lines were in flight, no more started";
  for (auto& done : late) done(BatchLineOutcome{.status_code = 200, .body = "{}"});
  EXPECT_EQ(service.batch("t", created->id)->status, BatchStatus::expired);
  EXPECT_EQ(count_lines(record.error_file_id, "batch_expired").size(),
            static_cast<size_t>(kLines - kAnswered));
  service.close();
  for (auto& t : answering) t.join();
}

}  // namespace
}  // namespace sy::gateway
