// The Files and Batch APIs end to end in process: upload (multipart), create, run every line
// through the policy gate as bulk against a fake vendor, OpenAI's output and error files,
// one ledger row per line, tenancy, cancel.

#include <gtest/gtest.h>

#include <set>

#include "gateway/batch/batch_test_support.h"
#include "gateway/cli/temp_dir.h"
#include "gateway/gateway_fixture.h"
#include "ledger/sqlite_ledger_writer.h"
#include "switchyard/gateway/sha256.h"

namespace sy::testing {
namespace {

using fakes::Vendor;
using nlohmann::json;

constexpr const char* kAcmeKey = "sk-acme";
constexpr const char* kGlobexKey = "sk-globex";

class BatchApi : public ::testing::Test {
 protected:
  void start(int concurrency = 4) {
    auto config = std::make_shared<gateway::GatewayConfig>();
    config->backends.push_back(fake_backend("oai", "openai", fake_, Vendor::openai, "sk-x"));
    config->backends[0].timeouts.first_byte = std::chrono::milliseconds(3000);
    config->backends[0].timeouts.total = std::chrono::milliseconds(5000);
    config->models.push_back({"fast", {{"oai", "gpt-4o-mini"}}});
    config->tenants.push_back({.name = "acme"});
    config->tenants.push_back({.name = "globex"});
    config->keys.push_back(
        {.id = "acme-k", .sha256_hex = gateway::sha256_hex(kAcmeKey), .tenant = "acme"});
    config->keys.push_back(
        {.id = "globex-k", .sha256_hex = gateway::sha256_hex(kGlobexKey), .tenant = "globex"});
    config->data_dir = dir_.path().string();
    config->batch.max_concurrency_per_job = concurrency;
    gateway_ = std::make_unique<GatewayUnderTest>(config);
  }
  void stop() { gateway_.reset(); }

  json upload(const std::string& content, const std::string& key = kAcmeKey) {
    TestResponse r = client_.post(gateway_->url("/v1/files"), multipart_upload(content, "batch"),
                                  upload_headers(key));
    json j = json::parse(r.body, nullptr, false);
    j["_status"] = r.status;
    return j;
  }
  json create(const std::string& file_id, const std::string& key = kAcmeKey) {
    json body = {{"input_file_id", file_id},
                 {"endpoint", "/v1/chat/completions"},
                 {"completion_window", "24h"},
                 {"metadata", {{"job", "nightly"}}}};
    TestResponse r = client_.post(gateway_->url("/v1/batches"), body.dump(),
                                  {{"authorization", std::string("Bearer ") + key}});
    json j = json::parse(r.body, nullptr, false);
    j["_status"] = r.status;
    return j;
  }
  TestResponse get(const std::string& path, const std::string& key = kAcmeKey) {
    return client_.get(gateway_->url(path), {{"authorization", "Bearer " + key}});
  }

  gateway::testing::TempDir dir_;
  fakes::FakeVendor fake_;
  std::unique_ptr<GatewayUnderTest> gateway_;
  TestHttpClient client_;
};

TEST_F(BatchApi, RunsEveryLineOnceIntoOutputAndErrorFilesWithOneLedgerRowEach) {
  start();
  std::string input;
  for (int i = 0; i < 6; ++i) input += chat_line("req-" + std::to_string(i), "fast", "hello");
  input += chat_line("bad-model", "no-such-model", "hello");  // fails alone: the error file
  json file = upload(input);
  ASSERT_EQ(file["_status"], 200) << file.dump();
  EXPECT_EQ(file["object"], "file");
  EXPECT_EQ(file["purpose"], "batch");
  EXPECT_EQ(file["bytes"], input.size());
  ASSERT_TRUE(file["id"].get<std::string>().starts_with("file-"));

  json created = create(file["id"]);
  ASSERT_EQ(created["_status"], 200) << created.dump();
  EXPECT_EQ(created["object"], "batch");
  EXPECT_EQ(created["endpoint"], "/v1/chat/completions");
  EXPECT_EQ(created["metadata"]["job"], "nightly");
  EXPECT_EQ(created["request_counts"]["total"], 7);
  const std::string id = created["id"];

  json done = wait_for_batch(client_, gateway_->url("/v1/batches/" + id), kAcmeKey);
  ASSERT_EQ(done["status"], "completed") << done.dump();
  EXPECT_EQ(done["request_counts"]["completed"], 6);
  EXPECT_EQ(done["request_counts"]["failed"], 1);
  for (const char* at : {"in_progress_at", "finalizing_at", "completed_at"}) {
    EXPECT_TRUE(done[at].is_number()) << at;
  }
  EXPECT_TRUE(done["cancelled_at"].is_null());
  ASSERT_TRUE(done["output_file_id"].is_string());
  ASSERT_TRUE(done["error_file_id"].is_string());

  TestResponse out = get("/v1/files/" + done["output_file_id"].get<std::string>() + "/content");
  ASSERT_EQ(out.status, 200);
  std::set<std::string> ids;
  for (const json& line : jsonl(out.body)) {
    ids.insert(line["custom_id"].get<std::string>());
    EXPECT_TRUE(line["id"].get<std::string>().starts_with("batch_req_"));
    EXPECT_EQ(line["response"]["status_code"], 200);
    EXPECT_TRUE(line["error"].is_null());
    EXPECT_EQ(line["response"]["request_id"], line["id"]);
    EXPECT_EQ(line["response"]["body"]["object"], "chat.completion");
    EXPECT_FALSE(
        line["response"]["body"]["choices"][0]["message"]["content"].get<std::string>().empty());
  }
  EXPECT_EQ(ids.size(), 6u);
  TestResponse err = get("/v1/files/" + done["error_file_id"].get<std::string>() + "/content");
  auto errors = jsonl(err.body);
  ASSERT_EQ(errors.size(), 1u) << err.body;
  EXPECT_EQ(errors[0]["custom_id"], "bad-model");
  EXPECT_EQ(errors[0]["response"]["status_code"], 404);
  EXPECT_TRUE(errors[0]["response"]["body"]["error"]["message"].is_string());
  EXPECT_EQ(fake_.request_count(Vendor::openai), 6u);

  TestResponse output_meta = get("/v1/files/" + done["output_file_id"].get<std::string>());
  EXPECT_EQ(json::parse(output_meta.body)["purpose"], "batch_output");

  // One ledger row per line, surface batch, classified bulk, no request id twice.
  stop();
  auto rows = gateway::read_sqlite_ledger(dir_ / "ledger.sqlite3");
  std::set<std::string> request_ids;
  for (const auto& row : rows) {
    EXPECT_EQ(row.surface, "batch");
    EXPECT_EQ(row.endpoint, "/v1/chat/completions");
    EXPECT_EQ(row.tenant, "acme");
    EXPECT_EQ(row.key_id, "acme-k");
    if (row.status == gateway::LedgerStatus::ok) {
      EXPECT_EQ(row.volume, "bulk");
      EXPECT_GT(row.usage.completion_tokens, 0);
    }
    request_ids.insert(row.request_id);
  }
  EXPECT_EQ(rows.size(), 7u);
  EXPECT_EQ(request_ids.size(), 7u);
}

TEST_F(BatchApi, UploadErrorsNameTheLine) {
  start();
  std::string input = chat_line("a", "fast", "x") + chat_line("b", "fast", "y") +
                      R"({"custom_id":"c","method":"GET","url":"/v1/chat/completions","body":{}})" +
                      "\n";
  json r = upload(input);
  EXPECT_EQ(r["_status"], 400);
  EXPECT_NE(r["error"]["message"].get<std::string>().find("line 3"), std::string::npos) << r.dump();
  r = upload(chat_line("a", "fast", "x") + chat_line("a", "fast", "y"));
  EXPECT_EQ(r["_status"], 400);
  EXPECT_NE(r["error"]["message"].get<std::string>().find("line 2: duplicate custom_id"),
            std::string::npos)
      << r.dump();
  r = upload(chat_line("a", "fast", "x") + "{not json\n");
  EXPECT_NE(r["error"]["message"].get<std::string>().find("line 2"), std::string::npos);
}

TEST_F(BatchApi, UnknownPathsAndMethodsAreRefusedInOpenAIsFormat) {
  start();
  const TestResponse nested = get("/v1/files/file-1/content/more");
  EXPECT_EQ(nested.status, 404);
  EXPECT_EQ(json::parse(nested.body)["error"]["message"], "Unknown URL");
  EXPECT_EQ(get("/v1/batches/batch_1/x/cancel").status, 404);
  const std::string auth = std::string("Bearer ") + kAcmeKey;
  for (const std::string path : {"/v1/files", "/v1/batches", "/v1/batches/batch_1/cancel"}) {
    TestResponse r = client_.request("PUT", gateway_->url(path), {}, {{"authorization", auth}});
    EXPECT_EQ(r.status, 400) << path;
    const json error = json::parse(r.body)["error"];
    EXPECT_EQ(error["code"], "method_not_allowed") << path;
    EXPECT_EQ(error["message"], "Unsupported method PUT for " + path);
  }
}

TEST_F(BatchApi, AKeySeesOnlyItsTenantsFilesAndBatches) {
  start();
  json file = upload(chat_line("a", "fast", "x"));
  ASSERT_EQ(file["_status"], 200);
  const std::string file_id = file["id"];
  EXPECT_EQ(get("/v1/files/" + file_id, kGlobexKey).status, 404);
  EXPECT_EQ(get("/v1/files/" + file_id + "/content", kGlobexKey).status, 404);
  EXPECT_EQ(create(file_id, kGlobexKey)["_status"], 404);
  json created = create(file_id);
  ASSERT_EQ(created["_status"], 200);
  const std::string batch_id = created["id"];
  EXPECT_EQ(get("/v1/batches/" + batch_id, kGlobexKey).status, 404);
  EXPECT_EQ(json::parse(get("/v1/batches", kGlobexKey).body)["data"].size(), 0u);
  EXPECT_EQ(json::parse(get("/v1/files", kGlobexKey).body)["data"].size(), 0u);
  EXPECT_EQ(json::parse(get("/v1/batches").body)["data"].size(), 1u);
  EXPECT_EQ(get("/v1/files").status, 200);
  EXPECT_EQ(client_.get(gateway_->url("/v1/batches")).status, 401);
  TestResponse del = client_.request("DELETE", gateway_->url("/v1/files/" + file_id), {},
                                     {{"authorization", std::string("Bearer ") + kGlobexKey}});
  EXPECT_EQ(del.status, 404);
  wait_for_batch(client_, gateway_->url("/v1/batches/" + batch_id), kAcmeKey);
}

TEST_F(BatchApi, ListsBatchesNewestFirstWithLimitAndAfter) {
  start();
  json file = upload(chat_line("a", "fast", "x"));
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(create(file["id"])["id"]);
  json page = json::parse(get("/v1/batches?limit=2").body);
  ASSERT_EQ(page["data"].size(), 2u);
  EXPECT_EQ(page["data"][0]["id"], ids[2]);
  EXPECT_EQ(page["data"][1]["id"], ids[1]);
  EXPECT_EQ(page["has_more"], true);
  json next = json::parse(get("/v1/batches?limit=2&after=" + ids[1]).body);
  ASSERT_EQ(next["data"].size(), 1u);
  EXPECT_EQ(next["data"][0]["id"], ids[0]);
  EXPECT_EQ(next["has_more"], false);
  for (const auto& id : ids) wait_for_batch(client_, gateway_->url("/v1/batches/" + id), kAcmeKey);
}

TEST_F(BatchApi, CancelStopsStartingLinesAndListsTheRestInTheErrorFile) {
  start(/*concurrency=*/1);
  // Each answer takes a while, so the cancel lands with most lines unrun.
  for (int i = 0; i < 20; ++i) {
    fake_.push_script({.fault = fakes::Fault::slow_first_token, .delay_ms = 100});
  }
  std::string input;
  for (int i = 0; i < 20; ++i) input += chat_line("c" + std::to_string(i), "fast", "hi");
  json file = upload(input);
  json created = create(file["id"]);
  ASSERT_EQ(created["_status"], 200);
  const std::string id = created["id"];
  ASSERT_TRUE(fake_.wait_for_requests(1, std::chrono::seconds(5)));
  TestResponse c = client_.post(gateway_->url("/v1/batches/" + id + "/cancel"), "",
                                {{"authorization", std::string("Bearer ") + kAcmeKey}});
  ASSERT_EQ(c.status, 200) << c.body;
  const std::string status = json::parse(c.body)["status"];
  EXPECT_TRUE(status == "cancelling" || status == "cancelled") << status;
  json done = wait_for_batch(client_, gateway_->url("/v1/batches/" + id), kAcmeKey);
  ASSERT_EQ(done["status"], "cancelled") << done.dump();
  EXPECT_TRUE(done["cancelling_at"].is_number());
  EXPECT_TRUE(done["cancelled_at"].is_number());
  std::set<std::string> seen;
  size_t cancelled = 0;
  for (const char* which : {"output_file_id", "error_file_id"}) {
    if (!done[which].is_string()) continue;
    for (const json& line :
         jsonl(get("/v1/files/" + done[which].get<std::string>() + "/content").body)) {
      EXPECT_TRUE(seen.insert(line["custom_id"].get<std::string>()).second);
      if (line["error"].is_object() && line["error"]["code"] == "batch_cancelled") ++cancelled;
    }
  }
  EXPECT_EQ(seen.size(), 20u) << "every line once, in the output or the error file";
  EXPECT_GT(cancelled, 10u);
  EXPECT_LT(fake_.request_count(Vendor::openai), 10u);
}

}  // namespace
}  // namespace sy::testing
