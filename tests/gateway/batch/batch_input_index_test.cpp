// BatchInputIndex: an input file streamed in small chunks gives the same requests as parsing it
// whole, reads any one back by its offset, reports the upload's errors with their line, and
// never buffers more than one chunk plus the line that crossed it.

#include "batch/batch_input_index.h"

#include <gtest/gtest.h>

#include <fstream>

#include "gateway/cli/temp_dir.h"

namespace sy::gateway {
namespace {

std::string line(const std::string& id, const std::string& text = "hi") {
  return R"({"custom_id":")" + id +
         R"(","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[)" +
         R"({"role":"user","content":")" + text + R"("}]}})";
}

std::filesystem::path write(const testing::TempDir& dir, const std::string& content) {
  const auto path = dir / "input.jsonl";
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(BatchInputIndex, MatchesTheWholeFileParseAtEveryChunkSize) {
  testing::TempDir dir;
  std::string content;
  for (int i = 0; i < 40; ++i) {
    content += line("c" + std::to_string(i), std::string(i * 7 % 50, 'x'));
    content += i % 9 == 0 ? "\r\n\n" : "\n";
  }
  content += line("last");  // no final newline
  const auto path = write(dir, content);
  auto whole = parse_batch_input(content, 100);
  ASSERT_TRUE(whole.has_value()) << whole.error().message;
  for (size_t chunk : {1u, 7u, 64u, 100'000u}) {
    std::vector<std::string> visited;
    auto index = BatchInputIndex::build(path, {.max_lines = 100, .chunk_bytes = chunk},
                                        [&](size_t i, const BatchInputLine& l) {
                                          EXPECT_EQ(i, visited.size());
                                          visited.push_back(l.custom_id);
                                        });
    ASSERT_TRUE(index.has_value()) << chunk << ": " << index.error().message;
    ASSERT_EQ(index->size(), whole->size()) << chunk;
    ASSERT_EQ(visited.size(), whole->size());
    for (size_t i : {size_t{0}, size_t{9}, size_t{17}, whole->size() - 1}) {
      auto read = index->read(i);
      ASSERT_TRUE(read.has_value()) << read.error().message;
      EXPECT_EQ(read->custom_id, (*whole)[i].custom_id) << chunk << " " << i;
      EXPECT_EQ(read->body, (*whole)[i].body);
      EXPECT_EQ(visited[i], (*whole)[i].custom_id);
    }
  }
}

TEST(BatchInputIndex, ReportsTheUploadsErrorsWithTheirLine) {
  testing::TempDir dir;
  auto dup =
      BatchInputIndex::build(write(dir, line("a") + "\n\n" + line("a") + "\n"), {.chunk_bytes = 5});
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().message, "line 3: duplicate custom_id 'a'");
  auto long_line =
      BatchInputIndex::build(write(dir, line("a") + "\n" + line("b", std::string(200, 'z'))),
                             {.max_line_bytes = 150, .chunk_bytes = 16});
  ASSERT_FALSE(long_line.has_value());
  EXPECT_TRUE(long_line.error().message.starts_with("line 2: longer than 150 bytes"))
      << long_line.error().message;
  auto empty = BatchInputIndex::build(write(dir, "\n\n"), {});
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().message, "the file has no requests");
  auto too_many =
      BatchInputIndex::build(write(dir, line("a") + "\n" + line("b") + "\n"), {.max_lines = 1});
  ASSERT_FALSE(too_many.has_value());
  EXPECT_EQ(too_many.error().kind, backends::ErrorKind::payload_too_large);
  EXPECT_FALSE(BatchInputIndex::build(dir / "missing.jsonl", {}).has_value());
}

TEST(BatchInputIndex, A50kLineFileIsIndexedWithOneChunkInMemory) {
  testing::TempDir dir;
  const auto path = dir / "big.jsonl";
  size_t longest = 0;
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 50'000; ++i) {
      const std::string l = line("c" + std::to_string(i), std::string(i % 300, 'y'));
      longest = std::max(longest, l.size() + 1);
      out << l << '\n';
    }
  }
  const size_t chunk = 4096;
  auto index = BatchInputIndex::build(path, {.max_lines = 50'000, .chunk_bytes = chunk});
  ASSERT_TRUE(index.has_value()) << index.error().message;
  EXPECT_EQ(index->size(), 50'000u);
  EXPECT_GT(std::filesystem::file_size(path), 10 * chunk * 100);
  // One chunk plus the part of a line that crossed chunks (its buffer's capacity).
  EXPECT_LE(index->peak_buffered_bytes(), chunk + 2 * longest);
  auto last = index->read(49'999);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->custom_id, "c49999");
}

}  // namespace
}  // namespace sy::gateway
