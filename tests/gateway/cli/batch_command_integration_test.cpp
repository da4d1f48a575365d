// `switchyard batch submit FILE --wait` against an in-process gateway: uploads, creates the
// batch, prints plain progress lines when stdout is not a terminal, and saves the output and
// error files.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gateway/batch/batch_test_support.h"
#include "gateway/cli/cli_process.h"
#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "switchyard/gateway/sha256.h"

namespace sy::testing {
namespace {

using gateway::testing::last_line;
using gateway::testing::read_file;
using gateway::testing::run_process;
using gateway::testing::switchyard_binary;

TEST(BatchCommand, SubmitWaitsShowsProgressAndSavesTheFiles) {
  gateway::testing::TempDir dir;
  fakes::FakeVendor fake;
  auto config = std::make_shared<gateway::GatewayConfig>();
  config->backends.push_back(fake_backend("oai", "openai", fake, fakes::Vendor::openai, "k"));
  config->models.push_back({"fast", {{"oai", "gpt-4o-mini"}}});
  config->tenants.push_back({.name = "acme"});
  config->keys.push_back(
      {.id = "acme-k", .sha256_hex = gateway::sha256_hex("sk-acme"), .tenant = "acme"});
  config->data_dir = (dir / "data").string();
  GatewayUnderTest gateway(config);

  std::string input;
  for (int i = 0; i < 5; ++i) input += chat_line("ok-" + std::to_string(i), "fast", "hi there");
  input += chat_line("missing", "no-such-model", "hi");
  const auto file = dir.write("jobs.jsonl", input);
  auto r = run_process(
      {switchyard_binary(), "batch", "submit", file.string(), "--wait", "--url", gateway.url("/v1"),
       "--api-key", "sk-acme", "--poll-ms", "20", "--output", (dir / "out.jsonl").string()},
      std::chrono::seconds(30));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("batch batch_"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("completed 6/6 lines (1 failed)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << "no terminal: plain lines";
  EXPECT_NE(r.out.find("tok/s"), std::string::npos);
  EXPECT_NE(last_line(r.out).find("errors.jsonl"), std::string::npos) << r.out;
  auto output = jsonl(read_file(dir / "out.jsonl"));
  EXPECT_EQ(output.size(), 5u);
  auto errors = jsonl(read_file(dir / "out.errors.jsonl"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0]["custom_id"], "missing");

  auto denied = run_process({switchyard_binary(), "batch", "submit", file.string(), "--url",
                             gateway.url(""), "--api-key", "wrong"},
                            std::chrono::seconds(30));
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_NE(denied.err.find("HTTP 401"), std::string::npos) << denied.err;
}

}  // namespace
}  // namespace sy::testing
