// The vendor batch clients (OpenAI Batch, Anthropic Message Batches) against the loopback
// fake's batch APIs: what goes on the wire, the status life cycle, results mapped back by
// custom_id, per-request errors and expiry, cancel, a results_url on another origin, and
// find_submitted: a submit whose answer was lost is found again (OpenAI by its tag, Anthropic
// by its custom_ids once it ended), and one never made is reported absent.

#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "backends/chat_builders.h"
#include "backends/http/io_threads.h"
#include "fakes/fake_vendor.h"
#include "switchyard/backends/vendor_batch.h"

namespace sy::backends {
namespace {

using fakes::Vendor;
using nlohmann::json;
using testing::IoThreads;
using testing::text_message;

struct Harness {
  explicit Harness(Vendor vendor, std::string key = "sk-test")
      : fake(fakes::FakeVendorOptions{.keys = {{vendor, key}}}), client(io.io()) {
    fake.set_batch_delay(std::chrono::milliseconds(30));
    VendorBatchClientOptions options;
    options.endpoint.base_url = fake.base_url(vendor);
    options.endpoint.api_key = key;
    options.timeouts.total = std::chrono::milliseconds(5000);
    batch = std::move(*make_vendor_batch_client(vendor == Vendor::openai ? "openai" : "anthropic",
                                                client, std::move(options)));
  }
  ~Harness() { client.shutdown(); }

  // Polls until ended (bounded).
  VendorBatchStatus wait(const std::string& id) {
    VendorBatchStatus last;
    for (int i = 0; i < 200; ++i) {
      auto status = batch->poll(id);
      EXPECT_TRUE(status.has_value()) << (status ? "" : status.error().message);
      if (!status) return last;
      last = *status;
      statuses.push_back(last.vendor_status);
      if (last.state != VendorBatchState::in_progress) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return last;
  }

  fakes::FakeVendor fake;
  IoThreads io;
  HttpClient client;
  std::unique_ptr<VendorBatchClient> batch;
  std::vector<std::string> statuses;
};

std::vector<VendorBatchItem> items(const std::string& model, int n) {
  std::vector<VendorBatchItem> out;
  for (int i = 0; i < n; ++i) {
    ChatRequest request;
    request.model = model;
    request.max_tokens = 64;
    request.messages.push_back(text_message(Role::user, "say hello number " + std::to_string(i)));
    out.push_back({.custom_id = "line_" + std::to_string(i), .request = std::move(request)});
  }
  return out;
}

std::string text_of(const ChatResponse& response) {
  std::string out;
  for (const auto& part : response.choices.at(0).message.content) out += part.text;
  return out;
}

TEST(OpenAiBatchClient, UploadsJsonlCreatesBatchPollsAndMapsResultsByCustomId) {
  Harness h(Vendor::openai);
  h.fake.set_batch_line_fault([](const std::string& custom_id, const std::string&) {
    return custom_id == "line_1"   ? fakes::BatchLineFault::errored
           : custom_id == "line_2" ? fakes::BatchLineFault::expired
                                   : fakes::BatchLineFault::none;
  });
  auto id = h.batch->submit(items("gpt-4o-mini", 4), "");
  ASSERT_TRUE(id.has_value()) << id.error().message;
  // On the wire: a multipart upload with purpose batch and one JSONL line per request, then
  // the batch over that file.
  auto requests = h.fake.requests();
  ASSERT_GE(requests.size(), 2u);
  EXPECT_EQ(requests[0].target, "/v1/files");
  EXPECT_NE(requests[0].headers["content-type"].find("multipart/form-data; boundary="),
            std::string::npos);
  EXPECT_EQ(requests[0].headers["authorization"], "Bearer sk-test");
  EXPECT_NE(requests[0].body.find("name=\"purpose\"\r\n\r\nbatch"), std::string::npos);
  EXPECT_NE(requests[0].body.find("\"custom_id\":\"line_3\""), std::string::npos);
  EXPECT_NE(requests[0].body.find("\"url\":\"/v1/chat/completions\""), std::string::npos);
  EXPECT_EQ(requests[0].body.find("\"stream\""), std::string::npos);
  EXPECT_EQ(requests[1].target, "/v1/batches");
  const json create = json::parse(requests[1].body);
  EXPECT_EQ(create["endpoint"], "/v1/chat/completions");
  EXPECT_EQ(create["completion_window"], "24h");
  EXPECT_EQ(h.fake.batched_request_count(Vendor::openai), 4u);

  const VendorBatchStatus status = h.wait(*id);
  EXPECT_EQ(status.state, VendorBatchState::ended);
  EXPECT_EQ(status.vendor_status, "completed");
  EXPECT_NE(std::find(h.statuses.begin(), h.statuses.end(), "finalizing"), h.statuses.end());

  auto results = h.batch->results(*id);
  ASSERT_TRUE(results.has_value()) << results.error().message;
  std::map<std::string, Result<ChatResponse>> by_id;
  for (auto& r : *results) by_id.emplace(r.custom_id, std::move(r.response));
  ASSERT_EQ(by_id.size(), 4u);
  ASSERT_TRUE(by_id.at("line_0").has_value());
  EXPECT_NE(text_of(*by_id.at("line_0")).find("gpt-4o-mini"), std::string::npos);
  EXPECT_GT(by_id.at("line_0")->usage.prompt_tokens, 0);
  EXPECT_GT(by_id.at("line_0")->usage.completion_tokens, 0);
  ASSERT_FALSE(by_id.at("line_1").has_value());
  EXPECT_EQ(by_id.at("line_1").error().kind, ErrorKind::invalid_request);
  ASSERT_FALSE(by_id.at("line_2").has_value());
  EXPECT_EQ(by_id.at("line_2").error().code, "batch_expired");
  EXPECT_TRUE(by_id.at("line_3").has_value());
}

TEST(OpenAiBatchClient, CancelEndsTheBatchWithCancelledRequests) {
  Harness h(Vendor::openai);
  h.fake.set_batch_delay(std::chrono::seconds(30));
  auto id = h.batch->submit(items("gpt-4o-mini", 2), "");
  ASSERT_TRUE(id.has_value()) << id.error().message;
  ASSERT_TRUE(h.batch->cancel(*id).has_value());
  EXPECT_EQ(h.wait(*id).vendor_status, "cancelled");
  auto results = h.batch->results(*id);
  ASSERT_TRUE(results.has_value());
  ASSERT_EQ(results->size(), 2u);
  for (const auto& r : *results) {
    ASSERT_FALSE(r.response.has_value());
    EXPECT_EQ(r.response.error().code, "batch_cancelled");
  }
}

TEST(OpenAiBatchClient, RejectedCredentialsAreTheVendorsAuthenticationError) {
  Harness h(Vendor::openai);
  VendorBatchClientOptions options;
  options.endpoint.base_url = h.fake.base_url(Vendor::openai);
  options.endpoint.api_key = "sk-wrong";
  auto wrong = std::move(*make_vendor_batch_client("openai", h.client, std::move(options)));
  auto id = wrong->submit(items("gpt-4o-mini", 1), "");
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().kind, ErrorKind::authentication);
  EXPECT_EQ(h.fake.batch_count(Vendor::openai), 0u);
}

TEST(AnthropicBatchClient, SubmitsMessagesParamsPollsUntilEndedAndReadsResults) {
  Harness h(Vendor::anthropic);
  h.fake.set_batch_line_fault([](const std::string& custom_id, const std::string&) {
    return custom_id == "line_0"   ? fakes::BatchLineFault::errored
           : custom_id == "line_2" ? fakes::BatchLineFault::expired
                                   : fakes::BatchLineFault::none;
  });
  auto id = h.batch->submit(items("claude-3-5-haiku-latest", 3), "");
  ASSERT_TRUE(id.has_value()) << id.error().message;
  auto requests = h.fake.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/v1/messages/batches");
  EXPECT_EQ(requests[0].headers["x-api-key"], "sk-test");
  EXPECT_FALSE(requests[0].headers["anthropic-version"].empty());
  const json body = json::parse(requests[0].body);
  ASSERT_EQ(body["requests"].size(), 3u);
  EXPECT_EQ(body["requests"][1]["custom_id"], "line_1");
  EXPECT_EQ(body["requests"][1]["params"]["model"], "claude-3-5-haiku-latest");
  EXPECT_EQ(body["requests"][1]["params"]["max_tokens"], 64);
  EXPECT_EQ(body["requests"][1]["params"]["messages"][0]["role"], "user");
  EXPECT_FALSE(body["requests"][1]["params"].contains("stream"));

  EXPECT_EQ(h.wait(*id).state, VendorBatchState::ended);
  EXPECT_EQ(h.statuses.back(), "ended");
  auto results = h.batch->results(*id);
  ASSERT_TRUE(results.has_value()) << results.error().message;
  ASSERT_EQ(results->size(), 3u);
  std::map<std::string, Result<ChatResponse>> by_id;
  for (auto& r : *results) by_id.emplace(r.custom_id, std::move(r.response));
  ASSERT_FALSE(by_id.at("line_0").has_value());
  EXPECT_EQ(by_id.at("line_0").error().kind, ErrorKind::invalid_request);
  ASSERT_TRUE(by_id.at("line_1").has_value());
  EXPECT_NE(text_of(*by_id.at("line_1")).find("claude-3-5-haiku-latest"), std::string::npos);
  EXPECT_GT(by_id.at("line_1")->usage.prompt_tokens, 0);
  ASSERT_FALSE(by_id.at("line_2").has_value());
  EXPECT_EQ(by_id.at("line_2").error().code, "batch_expired");
}

TEST(AnthropicBatchClient, CancelledRequestsComeBackCanceled) {
  Harness h(Vendor::anthropic);
  h.fake.set_batch_delay(std::chrono::seconds(30));
  auto id = h.batch->submit(items("claude-3-5-haiku-latest", 2), "");
  ASSERT_TRUE(id.has_value());
  ASSERT_TRUE(h.batch->cancel(*id).has_value());
  EXPECT_EQ(h.wait(*id).state, VendorBatchState::ended);
  auto results = h.batch->results(*id);
  ASSERT_TRUE(results.has_value());
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ(results->at(0).response.error().code, "batch_cancelled");
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> ids_of(const std::vector<VendorBatchItem>& batch) {
  std::vector<std::string> out;
  for (const auto& item : batch) out.push_back(item.custom_id);
  return out;
}

TEST(OpenAiBatchClient, FindsASubmitByItsTagAmongOthersAndNothingForAnUnusedTag) {
  Harness h(Vendor::openai);
  const int64_t since = unix_now() - 600;
  // Ours among 120 others (two pages of 100 in the listing), listed on the second page.
  for (int i = 0; i < 120; ++i) {
    ASSERT_TRUE(h.batch->submit(items("gpt-4o-mini", 1), "other-" + std::to_string(i)));
    if (i == 60) {
      ASSERT_TRUE(h.batch->submit(items("gpt-4o-mini", 2), "sy-batch_x-0"));
    }
  }
  json create;
  bool named = false;  // the input file is named after the tag
  for (const auto& r : h.fake.requests()) {
    if (r.method != "POST") continue;
    named |= r.target == "/v1/files" &&
             r.body.find("filename=\"switchyard_sy-batch_x-0.jsonl\"") != std::string::npos;
    if (r.target == "/v1/batches") {
      const json body = json::parse(r.body);
      if (body["metadata"]["switchyard_tag"] == "sy-batch_x-0") create = body;
    }
  }
  ASSERT_TRUE(create.is_object()) << "no create carried the tag as metadata";
  EXPECT_TRUE(named);

  auto found = h.batch->find_submitted(
      {.tag = "sy-batch_x-0", .custom_ids = {"line_0", "line_1"}, .since_unix_s = since});
  ASSERT_TRUE(found.has_value()) << found.error().message;
  EXPECT_EQ(found->match, VendorBatchMatch::found);
  EXPECT_TRUE(found->batch_id.starts_with("batch_fake"));
  EXPECT_EQ(h.fake.batch_count(Vendor::openai), 121u);  // finding submits nothing

  auto absent = h.batch->find_submitted(
      {.tag = "sy-batch_x-7", .custom_ids = {"line_0"}, .since_unix_s = since});
  ASSERT_TRUE(absent.has_value()) << absent.error().message;
  EXPECT_EQ(absent->match, VendorBatchMatch::absent);
  // A window that starts after every batch: nothing in it.
  auto later = h.batch->find_submitted(
      {.tag = "sy-batch_x-0", .custom_ids = {"line_0", "line_1"}, .since_unix_s = unix_now() + 60});
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->match, VendorBatchMatch::absent);
}

TEST(AnthropicBatchClient, FindsAnEndedSubmitByItsCustomIdsAndWaitsOnOneStillRunning) {
  Harness h(Vendor::anthropic);
  const int64_t since = unix_now() - 600;
  h.fake.set_batch_delay(std::chrono::seconds(30));
  auto mine = items("claude-3-5-haiku-latest", 2);
  mine[0].custom_id = "batch_req_x_0";
  mine[1].custom_id = "batch_req_x_1";
  auto id = h.batch->submit(mine, "sy-batch_x-0");
  ASSERT_TRUE(id.has_value()) << id.error().message;
  // Another client's batch of the same size, and one of another size.
  ASSERT_TRUE(h.batch->submit(items("claude-3-5-haiku-latest", 2), ""));
  ASSERT_TRUE(h.batch->submit(items("claude-3-5-haiku-latest", 3), ""));
  const VendorBatchSearch search{
      .tag = "sy-batch_x-0", .custom_ids = ids_of(mine), .since_unix_s = since};

  // Running, two batches of two requests: either could be it.
  auto running = h.batch->find_submitted(search);
  ASSERT_TRUE(running.has_value()) << running.error().message;
  EXPECT_EQ(running->match, VendorBatchMatch::undecided);

  // Ended: the results tell them apart.
  h.fake.set_batch_delay(std::chrono::milliseconds(0));
  auto ended = h.batch->find_submitted(search);
  ASSERT_TRUE(ended.has_value()) << ended.error().message;
  EXPECT_EQ(ended->match, VendorBatchMatch::found);
  EXPECT_EQ(ended->batch_id, *id);

  // Known to the caller already: not a candidate; nothing else matches.
  VendorBatchSearch known = search;
  known.known_ids = {*id};
  auto skipped = h.batch->find_submitted(known);
  ASSERT_TRUE(skipped.has_value());
  EXPECT_EQ(skipped->match, VendorBatchMatch::absent);
  EXPECT_EQ(h.fake.batch_count(Vendor::anthropic), 3u);
}

TEST(VendorBatchClient, OnlyOpenAiAndAnthropicHaveOne) {
  IoThreads io;
  HttpClient client(io.io());
  EXPECT_TRUE(has_vendor_batch_api("openai"));
  EXPECT_TRUE(has_vendor_batch_api("anthropic"));
  EXPECT_FALSE(has_vendor_batch_api("gemini"));
  auto gemini = make_vendor_batch_client("gemini", client, {});
  ASSERT_FALSE(gemini.has_value());
  EXPECT_EQ(gemini.error().kind, ErrorKind::not_found);
  client.shutdown();
}

}  // namespace
}  // namespace sy::backends
