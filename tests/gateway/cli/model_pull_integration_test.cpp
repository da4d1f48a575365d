// `switchyard model pull` and its downloader against a loopback file server on 127.0.0.1:0
// that cuts connections mid-file, ignores ranges or serves the wrong body.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <string>

#include "cli/model_downloader.h"
#include "gateway/cli/cli_process.h"
#include "gateway/cli/loopback_file_server.h"
#include "gateway/cli/temp_dir.h"
#include "switchyard/gateway/sha256.h"

namespace sy::gateway {
namespace {

using testing::LoopbackFileServer;
using testing::read_file;
using testing::run_process;
using testing::switchyard_binary;
using testing::TempDir;

std::string random_body(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string body(size, '\0');
  for (auto& c : body) c = static_cast<char>(rng());
  return body;
}

DownloadOptions options_for(const std::string& url, const std::filesystem::path& destination,
                            const std::string& body) {
  DownloadOptions options;
  options.url = url;
  options.destination = destination;
  options.sha256 = sha256(body);
  options.max_attempts = 3;
  options.timeouts = {.connect = std::chrono::seconds(5),
                      .first_byte = std::chrono::seconds(10),
                      .idle = std::chrono::seconds(10),
                      .total = std::chrono::seconds(60)};
  return options;
}

TEST(ModelDownloader, ResumesWithRangeWhenServerCutsConnectionMidFile) {
  const std::string body = random_body(300'000, 1);
  LoopbackFileServer server({.body = body, .cut_responses = 2, .cut_after = 100'000});
  TempDir dir;
  auto result = download_file(options_for(server.url(), dir / "model.gguf", body));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->resumes, 2);
  EXPECT_EQ(result->bytes, body.size());
  EXPECT_EQ(result->sha256_hex, sha256_hex(body));
  EXPECT_EQ(read_file(dir / "model.gguf"), body);
  EXPECT_FALSE(std::filesystem::exists(dir / "model.gguf.part"));
  const auto ranges = server.ranges();
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1], "bytes=100000-");
  EXPECT_EQ(ranges[2], "bytes=200000-");
}

TEST(ModelDownloader, StartsOverWhenServerIgnoresRange) {
  const std::string body = random_body(50'000, 2);
  LoopbackFileServer server(
      {.body = body, .cut_responses = 1, .cut_after = 20'000, .honour_range = false});
  TempDir dir;
  auto result = download_file(options_for(server.url(), dir / "model.gguf", body));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(read_file(dir / "model.gguf"), body);
}

TEST(ModelDownloader, ContinuesPartFileLeftByEarlierRun) {
  const std::string body = random_body(40'000, 3);
  LoopbackFileServer server({.body = body});
  TempDir dir;
  dir.write("model.gguf.part", body.substr(0, 15'000));
  auto result = download_file(options_for(server.url(), dir / "model.gguf", body));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(read_file(dir / "model.gguf"), body);
  ASSERT_EQ(server.ranges().size(), 1u);
  EXPECT_EQ(server.ranges()[0], "bytes=15000-");
}

TEST(ModelDownloader, FinishesWhenPartFileIsAlreadyWhole) {
  const std::string body = random_body(10'000, 4);
  LoopbackFileServer server({.body = body});
  TempDir dir;
  dir.write("model.gguf.part", body);
  auto result = download_file(options_for(server.url(), dir / "model.gguf", body));
  ASSERT_TRUE(result) << result.error().message;  // the server answered 416 */10000
  EXPECT_EQ(read_file(dir / "model.gguf"), body);
}

TEST(ModelDownloader, DeletesDownloadWhenSha256DoesNotMatch) {
  const std::string body = random_body(30'000, 5);
  LoopbackFileServer server({.body = random_body(30'000, 6)});
  TempDir dir;
  auto result = download_file(options_for(server.url(), dir / "model.gguf", body));
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("sha256 mismatch"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "model.gguf"));
  EXPECT_FALSE(std::filesystem::exists(dir / "model.gguf.part"));
}

TEST(ModelDownloader, FailsWithStatusWhenServerAnswers404) {
  LoopbackFileServer server({.path = "/other.gguf", .body = "x"});
  TempDir dir;
  auto options = options_for("http://127.0.0.1:" + std::to_string(server.port()) + "/model.gguf",
                             dir / "model.gguf", "x");
  auto result = download_file(options);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("HTTP 404"), std::string::npos) << result.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir / "model.gguf"));
}

TEST(ModelDownloader, GivesUpAfterAttemptsWhenNothingListens) {
  uint16_t port = 0;
  {  // A port that was free a moment ago: bound, then released.
    LoopbackFileServer closed({.body = "x"});
    port = closed.port();
  }
  TempDir dir;
  auto options = options_for("http://127.0.0.1:" + std::to_string(port) + "/model.gguf",
                             dir / "model.gguf", "x");
  options.max_attempts = 2;
  auto result = download_file(options);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("after 2 attempts"), std::string::npos)
      << result.error().message;
}

TEST(ModelPullCommand, DownloadsAndVerifiesWhenCutMidFile) {
  const std::string body = random_body(200'000, 7);
  LoopbackFileServer server({.body = body, .cut_responses = 1, .cut_after = 64'000});
  TempDir dir;
  auto r = run_process({switchyard_binary(), "model", "pull", server.url(), "-o",
                        dir.path().string(), "--sha256", sha256_hex(body)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(sha256_hex(body)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sha256 verified"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("resumed"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(dir / "model.gguf"), body);
  // Not a terminal: no progress bar drawn.
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
}

TEST(ModelPullCommand, FailsClearlyAndLeavesNoFileWhenSha256Mismatches) {
  LoopbackFileServer server({.body = random_body(20'000, 8)});
  TempDir dir;
  auto r = run_process({switchyard_binary(), "model", "pull", server.url(), "-o",
                        dir.path().string(), "--sha256", std::string(64, 'a')});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("sha256 mismatch"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "model.gguf"));
  EXPECT_FALSE(std::filesystem::exists(dir / "model.gguf.part"));
}

TEST(ModelPullCommand, RejectsUnknownNameAndMalformedDigest) {
  auto name = run_process({switchyard_binary(), "model", "pull", "smollm2-135m"});
  EXPECT_EQ(name.exit_code, 1);
  EXPECT_NE(name.err.find("neither an http(s) URL nor a known model"), std::string::npos)
      << name.err;
  auto digest = run_process(
      {switchyard_binary(), "model", "pull", "http://127.0.0.1:1/x.gguf", "--sha256", "abc"});
  EXPECT_EQ(digest.exit_code, 1);
  EXPECT_NE(digest.err.find("64 hex digits"), std::string::npos) << digest.err;
}

}  // namespace
}  // namespace sy::gateway
