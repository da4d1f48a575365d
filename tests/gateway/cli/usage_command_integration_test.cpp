// `switchyard usage` reads the configured ledger directly: a table with a total line, CSV with
// --csv, grouping and day ranges as GET /v1/usage, and a clear exit status on bad arguments.

#include <gtest/gtest.h>

#include <sstream>

#include "gateway/cli/cli_process.h"
#include "gateway/cli/temp_dir.h"
#include "gateway/ledger/sample_rows.h"
#include "gateway/ledger/usage_expectation.h"
#include "ledger/sqlite_ledger_writer.h"

namespace sy::gateway {
namespace {

using testing::TempDir;

class UsageCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 60; ++i) rows_.push_back(testing::varied_row(i));
    auto writer = open_sqlite_ledger({.path = dir_ / "data" / "ledger.sqlite3"});
    for (const auto& row : rows_) writer->write(row);
    writer->close();
    config_ = dir_.write("switchyard.yaml", "data_dir: " + (dir_ / "data").string() + "\n");
  }

  testing::ProcessResult usage(std::vector<std::string> args) {
    std::vector<std::string> all = {testing::switchyard_binary(), "usage", "--config",
                                    config_.string()};
    all.insert(all.end(), args.begin(), args.end());
    return testing::run_process(all, std::chrono::seconds(30));
  }

  TempDir dir_;
  std::filesystem::path config_;
  std::vector<LedgerRow> rows_;
};

std::vector<std::vector<std::string>> csv_lines(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::istringstream fields(line);
    std::string cell;
    while (std::getline(fields, cell, ',')) cells.push_back(cell);
    out.push_back(cells);
  }
  return out;
}

TEST_F(UsageCommand, CsvGroupsMatchTheRows) {
  const auto r = usage({"--group-by", "backend", "--csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = csv_lines(r.out);
  const auto expected = testing::expected_usage(rows_, {.group_by = UsageGroup::backend});
  ASSERT_EQ(lines.size(), expected.size() + 2);  // header, groups, total
  EXPECT_EQ(lines[0][0], "backend");
  EXPECT_EQ(lines[0][9], "savings_usd");
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(lines[i + 1][0], expected[i].group);
    EXPECT_EQ(lines[i + 1][1], std::to_string(expected[i].requests));
    EXPECT_EQ(lines[i + 1][4], std::to_string(expected[i].tokens_in));
    EXPECT_EQ(lines[i + 1][7], backends::format_usd(expected[i].cost));
    EXPECT_EQ(lines[i + 1][9], backends::format_usd(expected[i].savings()));
  }
  EXPECT_EQ(lines.back()[0], "total");
  EXPECT_EQ(lines.back()[1], std::to_string(rows_.size()));
}

TEST_F(UsageCommand, TableForOneDayAndTenant) {
  const auto r = usage(
      {"--group-by", "day", "--from", "2025-11-24", "--to", "2025-11-24", "--tenant", "acme"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto expected = testing::expected_usage(rows_, {.group_by = UsageGroup::day,
                                                        .from_ms = parse_utc_day("2025-11-24"),
                                                        .to_ms = parse_utc_day("2025-11-25"),
                                                        .tenant = "acme"});
  ASSERT_EQ(expected.size(), 1u);
  EXPECT_NE(r.out.find("2025-11-24"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("2025-11-23"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(backends::format_usd(expected[0].cost)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("total"), std::string::npos);
}

TEST_F(UsageCommand, SavingsReportBySectionAsCsv) {
  const auto r = usage({"--savings", "--csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = csv_lines(r.out);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0][0], "section");
  const auto total = testing::expected_usage(rows_, {}).at(0);
  EXPECT_EQ(lines[1][0], "total");
  EXPECT_EQ(lines[1][4], backends::format_usd(total.cost));
  EXPECT_EQ(lines[1][5], backends::format_usd(total.baseline_cost));
  EXPECT_EQ(lines[1][6], backends::format_usd(total.savings()));
  size_t rules = 0;
  for (const auto& line : lines) rules += line[0] == "rule";
  EXPECT_EQ(rules, testing::expected_usage(rows_, {.group_by = UsageGroup::rule}).size());
}

TEST_F(UsageCommand, BadArgumentsExitTwo) {
  EXPECT_EQ(usage({"--group-by", "week"}).exit_code, 2);
  const auto r = usage({"--from", "2025-13-01"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("from must be a date YYYY-MM-DD"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sy::gateway
