// `switchyard route --explain` offline, on a shipped example: the same decision the server's
// /v1/route/explain gives, with no server and no backend.

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "gateway/cli/cli_process.h"
#include "gateway/cli/temp_dir.h"

namespace sy::gateway::testing {
namespace {

using nlohmann::json;

const std::string kExample =
    std::string(SWITCHYARD_SOURCE_DIR) + "/examples/policies/confidential.yaml";

std::string write_request(const TempDir& dir, const std::string& name, const json& body) {
  const auto path = dir.path() / name;
  std::ofstream(path) << body.dump();
  return path.string();
}

TEST(RouteCommand, ExplainsOfflineFromAnExampleConfig) {
  TempDir dir;
  const std::string code_name = write_request(
      dir, "code.json",
      {{"model", "smart"}, {"messages", {{{"role", "user"}, {"content", "Nightjar status?"}}}}});
  ProcessResult r =
      run_process({switchyard_binary(), "route", "--explain", code_name, "--config", kExample});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json d = json::parse(r.out);
  EXPECT_EQ(d["verdict"], "route");
  EXPECT_EQ(d["sensitivity"]["level"], "restricted");  // a project code name (term list)
  EXPECT_EQ(d["findings"][0]["type"], "custom_term");
  ASSERT_EQ(d["candidates"].size(), 1u);
  EXPECT_EQ(d["candidates"][0]["backend"], "local");
  EXPECT_EQ(r.out.find("Nightjar"), std::string::npos);

  const std::string email = write_request(
      dir, "email.json",
      {{"model", "smart"},
       {"messages", {{{"role", "user"}, {"content", "write to jane.doe@example.org"}}}}});
  r = run_process({switchyard_binary(), "route", "--explain", email, "--config", kExample, "-H",
                   "X-Team: legal"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  d = json::parse(r.out);
  EXPECT_EQ(d["matched_rules"], json({"confidential-no-retention", "legal-not-on-openai"}));
  ASSERT_EQ(d["candidates"].size(), 2u);
  EXPECT_EQ(d["candidates"][0]["backend"], "anthropic");
  EXPECT_EQ(d["candidates"][1]["backend"], "local");

  r = run_process({switchyard_binary(), "route", "--explain", email, "--config", kExample, "-H",
                   "x-team: interns", "--endpoint", "/v1/completions"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  d = json::parse(r.out);
  EXPECT_EQ(d["verdict"], "deny");
  EXPECT_EQ(d["refusal"]["status"], 403);

  // globex's customer names are restricted for globex alone (sensitivity.tenants.globex).
  const std::string customer =
      write_request(dir, "customer.json",
                    {{"model", "smart"},
                     {"messages", {{{"role", "user"}, {"content", "Quote for Umbrella Corp"}}}}});
  r = run_process({switchyard_binary(), "route", "--explain", customer, "--config", kExample,
                   "--tenant", "globex"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  d = json::parse(r.out);
  EXPECT_EQ(d["sensitivity"]["level"], "restricted");
  EXPECT_EQ(d["findings"][0]["detector"], "globex-customers");
  EXPECT_EQ(d["candidates"], json::parse(R"([{"backend":"local",
                                              "model":"llama-3.1-70b-instruct"}])"));
  EXPECT_EQ(r.out.find("Umbrella"), std::string::npos);
  r = run_process({switchyard_binary(), "route", "--explain", customer, "--config", kExample,
                   "--tenant", "initech"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  d = json::parse(r.out);
  EXPECT_EQ(d["sensitivity"]["level"], "public");
  EXPECT_TRUE(d["findings"].empty());
  EXPECT_EQ(d["candidates"][0]["backend"], "openai");

  r = run_process({switchyard_binary(), "route", "--explain", (dir.path() / "nope.json").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sy::gateway::testing
