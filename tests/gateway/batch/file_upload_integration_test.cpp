// POST /v1/files streams to disk: `switchyard serve` takes a 100 MB JSONL upload (far over
// limits.max_body_bytes) with its peak memory growing by a small fraction of the file; an
// upload over batch.max_file_bytes gets OpenAI's 413 error, one with a bad line a 400 naming
// the line, and neither leaves anything in the files folder.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gateway/batch/batch_test_support.h"
#include "gateway/cli/temp_dir.h"
#include "support/serve_process.h"

namespace sy::testing {
namespace {

using nlohmann::json;

// VmHWM (peak resident set) of a process, in KiB; 0 when unreadable.
int64_t peak_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) return std::stoll(line.substr(6));
  }
  return 0;
}

std::vector<std::string> serve_args(const gateway::testing::TempDir& dir,
                                    const std::string& batch_section) {
  const auto config = dir.write("switchyard.yaml",
                                "backends:\n"
                                "  - name: vendor\n"
                                "    protocol: openai\n"
                                "    base_url: http://127.0.0.1:9\n"
                                "models:\n"
                                "  m: vendor/gpt-4o-mini\n" +
                                    batch_section);
  return {std::string(SWITCHYARD_BINARY_DIR) + "/switchyard",
          "serve",
          "--config",
          config.string(),
          "--listen",
          "127.0.0.1:0",
          "--data-dir",
          (dir / "data").string(),
          "--log-level",
          "warn"};
}

size_t files_in(const std::filesystem::path& folder) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(folder, ec);
       !ec && it != std::filesystem::directory_iterator(); ++it) {
    ++n;
  }
  return n;
}

const backends::Headers kUploadHeaders = {
    {"content-type", std::string("multipart/form-data; boundary=") + kBoundary}};

TEST(FileUpload, A100MegabyteUploadStreamsToDiskWithBoundedMemory) {
  gateway::testing::TempDir dir;
  ServeProcess serve(serve_args(dir, ""));  // defaults: 8 MiB bodies, 200 MB files
  ASSERT_NE(serve.port(), 0) << "switchyard serve did not start";
  // ~100 MB in 25,000 lines of 4 KiB (under the 50,000-request limit).
  const std::string filler(4000, 'a');
  std::string input;
  input.reserve(101 * 1024 * 1024);
  for (int i = 0; input.size() < 100u * 1000 * 1000; ++i) {
    input += chat_line("r" + std::to_string(i), "m", filler);
  }
  const size_t lines = static_cast<size_t>(std::count(input.begin(), input.end(), '\n'));
  TestHttpClient client;
  const int64_t before_kib = peak_rss_kib(serve.pid());
  ASSERT_GT(before_kib, 0);
  TestResponse up = client.post(serve.url("/v1/files"), multipart_upload(input, "batch"),
                                kUploadHeaders, std::chrono::seconds(60));
  ASSERT_EQ(up.status, 200) << up.body.substr(0, 300);
  const int64_t after_kib = peak_rss_kib(serve.pid());
  json file = json::parse(up.body);
  EXPECT_EQ(file["bytes"], input.size());
  std::printf("[ measured ] 100 MB upload (%zu lines): server peak RSS %lld -> %lld KiB\n", lines,
              static_cast<long long>(before_kib), static_cast<long long>(after_kib));
  // Buffered, the body alone would be 100 MB (and its parsed lines as much again).
  EXPECT_LT(after_kib - before_kib, 32 * 1024) << "peak RSS grew by more than 32 MiB";
  // What was stored is the file, byte for byte.
  std::ifstream stored(
      dir / "data" / "batches" / "files" / (file["id"].get<std::string>() + ".jsonl"),
      std::ios::binary);
  const std::string on_disk((std::istreambuf_iterator<char>(stored)),
                            std::istreambuf_iterator<char>());
  EXPECT_TRUE(on_disk == input) << "the stored file differs from the upload";
  EXPECT_EQ(files_in(dir / "data" / "batches" / "files"), 1u) << "no temporary file is left";
}

TEST(FileUpload, OverSizeAndBadLinesAreRefusedAndLeaveNothingBehind) {
  gateway::testing::TempDir dir;
  ServeProcess serve(serve_args(dir, "batch:\n  max_file_bytes: 1000000\n"));
  ASSERT_NE(serve.port(), 0) << "switchyard serve did not start";
  TestHttpClient client;
  std::string big;
  for (int i = 0; big.size() < 3'000'000; ++i) big += chat_line("r" + std::to_string(i), "m", "hi");
  TestResponse too_big =
      client.post(serve.url("/v1/files"), multipart_upload(big, "batch"), kUploadHeaders);
  EXPECT_EQ(too_big.status, 413) << too_big.body;
  json error = json::parse(too_big.body, nullptr, false);
  EXPECT_EQ(error["error"]["type"], "invalid_request_error") << too_big.body;
  EXPECT_EQ(error["error"]["code"], "payload_too_large") << too_big.body;

  std::string bad = chat_line("a", "m", "x") + chat_line("b", "m", "y") + "{not json\n" +
                    chat_line("d", "m", "z");
  TestResponse refused =
      client.post(serve.url("/v1/files"), multipart_upload(bad, "batch"), kUploadHeaders);
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_NE(refused.body.find("line 3: not valid JSON"), std::string::npos) << refused.body;

  TestResponse wrong_purpose =
      client.post(serve.url("/v1/files"), multipart_upload(chat_line("a", "m", "x"), "fine-tune"),
                  kUploadHeaders);
  EXPECT_EQ(wrong_purpose.status, 400) << wrong_purpose.body;

  EXPECT_EQ(files_in(dir / "data" / "batches" / "files"), 0u) << "an upload was left behind";
  TestResponse listed = client.get(serve.url("/v1/files"));
  EXPECT_EQ(json::parse(listed.body)["data"].size(), 0u) << listed.body;
  // A good upload still works on the same server.
  TestResponse ok = client.post(
      serve.url("/v1/files"), multipart_upload(chat_line("a", "m", "x"), "batch"), kUploadHeaders);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(files_in(dir / "data" / "batches" / "files"), 1u);
}

}  // namespace
}  // namespace sy::testing
