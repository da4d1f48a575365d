#pragma once
// The cases every BatchStore must pass, run against SQLite (sqlite_batch_store_test.cpp) and
// PostgreSQL (postgres_batch_store_integration_test.cpp). `open` opens the same store again
// each time it is called.

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "batch/batch_store.h"
#include "batch/ledger_row_json.h"
#include "switchyard/gateway/ledger.h"

namespace sy::gateway::testing {

using OpenStore = std::function<std::unique_ptr<BatchStore>()>;

inline BatchRecord job(const std::string& id, const std::string& tenant) {
  return BatchRecord{.id = id,
                     .tenant = tenant,
                     .input_file_id = "file-in",
                     .endpoint = "/v1/chat/completions",
                     .status = BatchStatus::in_progress,
                     .created_at = 100,
                     .expires_at = 100 + 86400,
                     .total = 3};
}

inline void stores_a_line_result_once_and_counts_it_once(const OpenStore& open) {
  auto store = open();
  ASSERT_TRUE(store->insert_batch(job("batch_1", "acme")).has_value());
  LineResult ok{.line = 0, .ok = true, .json = R"({"custom_id":"a"})"};
  EXPECT_EQ(store->record_line("batch_1", ok, R"({"row":1})", 5, 7, 11).value(), true);
  // The same line again (it ran twice across a crash): nothing changes.
  EXPECT_EQ(store->record_line("batch_1", ok, R"({"row":2})", 5, 7, 11).value(), false);
  LineResult bad{.line = 2, .ok = false, .json = R"({"custom_id":"c"})"};
  EXPECT_EQ(store->record_line("batch_1", bad, "", 1, 0, 0).value(), true);
  auto b = store->batch("batch_1");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->completed, 1);
  EXPECT_EQ(b->failed, 1);
  EXPECT_EQ(b->tokens_in, 6);
  EXPECT_EQ(b->cost_micro_usd, 11);
  EXPECT_EQ(store->done_lines("batch_1"), (std::set<int64_t>{0, 2}));
  auto results = store->results("batch_1");
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].json, R"({"custom_id":"a"})");
  // Only the row that had a ledger row waits to be billed, with its first text.
  auto unbilled = store->unbilled();
  ASSERT_EQ(unbilled.size(), 1u);
  EXPECT_EQ(unbilled[0].row_json, R"({"row":1})");
  ASSERT_TRUE(store->mark_billed({{"batch_1", 0}}).has_value());
  EXPECT_TRUE(store->unbilled().empty());
}

inline void survives_reopening_and_knows_unfinished_jobs(const OpenStore& open) {
  {
    auto store = open();
    ASSERT_TRUE(store->insert_batch(job("batch_1", "acme")).has_value());
    auto done = job("batch_2", "acme");
    done.status = BatchStatus::completed;
    ASSERT_TRUE(store->insert_batch(done).has_value());
    ASSERT_TRUE(
        store->insert_file({.id = "file-a", .tenant = "acme", .purpose = "batch"}).has_value());
  }
  auto store = open();
  auto unfinished = store->unfinished_batches();
  ASSERT_EQ(unfinished.size(), 1u);
  EXPECT_EQ(unfinished[0].id, "batch_1");
  EXPECT_EQ(store->file("file-a")->tenant, "acme");
  EXPECT_EQ(store->list_batches("acme", 10, "").size(), 2u);
  EXPECT_EQ(store->list_batches("acme", 10, "batch_2").size(), 1u);
  EXPECT_TRUE(store->list_batches("globex", 10, "").empty());
  // A status moves only from the states named.
  EXPECT_FALSE(
      store->transition("batch_2", {BatchStatus::in_progress}, BatchStatus::cancelling, 5).value());
  EXPECT_TRUE(
      store->transition("batch_1", {BatchStatus::in_progress}, BatchStatus::cancelling, 5).value());
  EXPECT_EQ(store->batch("batch_1")->status, BatchStatus::cancelling);
  EXPECT_EQ(store->batch("batch_1")->cancelling_at, 5);
  // Files list newest first, by purpose, after an id; a deleted file is gone.
  ASSERT_TRUE(store->insert_file({.id = "file-b", .tenant = "acme", .purpose = "batch_output"})
                  .has_value());
  EXPECT_EQ(store->list_files("acme", "", 10, "").front().id, "file-b");
  EXPECT_EQ(store->list_files("acme", "batch", 10, "").size(), 1u);
  EXPECT_EQ(store->list_files("acme", "", 10, "file-b").front().id, "file-a");
  ASSERT_TRUE(store->delete_file("file-a").has_value());
  EXPECT_FALSE(store->file("file-a").has_value());
  // update_batch stores status, times and output_written.
  auto b = *store->batch("batch_1");
  b.status = BatchStatus::cancelled;
  b.cancelled_at = 9;
  b.output_written = true;
  b.errors_json = R"({"object":"list","data":[]})";
  ASSERT_TRUE(store->update_batch(b).has_value());
  auto again = open()->batch("batch_1");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, BatchStatus::cancelled);
  EXPECT_EQ(again->cancelled_at, 9);
  EXPECT_TRUE(again->output_written);
  EXPECT_EQ(again->errors_json, b.errors_json);
  EXPECT_EQ(again->expires_at, 100 + 86400);
}

// A batch line's ledger row as the restart-repair tests store it in the outbox.
inline LedgerRow batch_line_row(const std::string& request_id) {
  LedgerRow r;
  r.time_ms = 1'700'000'000'000;
  r.request_id = request_id;
  r.tenant = "acme";
  r.surface = "batch";
  r.endpoint = "/v1/chat/completions";
  r.usage.prompt_tokens = 3;
  r.usage.completion_tokens = 4;
  r.cost = 9;
  return r;
}

// The crash window the restart repair closes: job "batch_x" finished with lines 0 and 1 stored
// with their rows; the ledger committed line 0 but it was not yet marked billed, and line 1
// never reached the ledger.
inline void store_crash_window(BatchStore& store, LedgerWriter& ledger) {
  ledger.write(batch_line_row("batch_req_x_0"));
  ledger.flush();
  BatchRecord done{.id = "batch_x", .tenant = "acme", .status = BatchStatus::completed};
  ASSERT_TRUE(store.insert_batch(done).has_value());
  for (int line : {0, 1}) {
    LineResult result{.line = line, .ok = true, .json = "{}"};
    ASSERT_TRUE(
        store
            .record_line("batch_x", result,
                         ledger_row_to_json(batch_line_row("batch_req_x_" + std::to_string(line))),
                         3, 4, 9)
            .value());
  }
}

inline VendorBatchRecord vendor_batch(const std::string& batch_id, const std::string& tag,
                                      const std::string& vendor_id, int64_t at_ms) {
  return VendorBatchRecord{
      .batch_id = batch_id,
      .backend = "oai",
      .tag = tag,
      .vendor_batch_id = vendor_id,
      .submitted_at_ms = at_ms,
      .lines = {{.line = 0, .custom_id = "batch_req_x_0", .row_json = R"({"a":"1\n\"q\""})"},
                {.line = 7, .custom_id = "batch_req_x_7", .row_json = "{}"}}};
}

// Vendor batches: an intent (no vendor id) stored before the vendor is asked, given its id
// later, one open record per (job, tag), kept across reopening until done.
inline void keeps_vendor_batches_and_their_intents(const OpenStore& open) {
  int64_t intent = 0, submitted = 0;
  {
    auto store = open();
    intent = store->insert_vendor_batch(vendor_batch("batch_a", "sy-batch_a-0", "", 1000)).value();
    submitted =
        store->insert_vendor_batch(vendor_batch("batch_b", "sy-batch_b-0", "vb_2", 2000)).value();
    EXPECT_NE(intent, submitted);
    // The same (job, tag) while open: nothing new, the stored one's id.
    EXPECT_EQ(store->insert_vendor_batch(vendor_batch("batch_a", "sy-batch_a-0", "", 3000)).value(),
              intent);
    ASSERT_TRUE(store->mark_vendor_batch_cancel_sent(submitted).has_value());
  }
  auto store = open();
  auto records = store->open_vendor_batches();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].id, intent);
  EXPECT_EQ(records[0].batch_id, "batch_a");
  EXPECT_EQ(records[0].backend, "oai");
  EXPECT_EQ(records[0].tag, "sy-batch_a-0");
  EXPECT_EQ(records[0].vendor_batch_id, "");  // an intent
  EXPECT_EQ(records[0].submitted_at_ms, 1000);
  EXPECT_FALSE(records[0].cancel_sent);
  ASSERT_EQ(records[0].lines.size(), 2u);
  EXPECT_EQ(records[0].lines[1].line, 7);
  EXPECT_EQ(records[0].lines[1].custom_id, "batch_req_x_7");
  EXPECT_EQ(records[0].lines[0].row_json, R"({"a":"1\n\"q\""})");
  EXPECT_TRUE(records[1].cancel_sent);
  EXPECT_EQ(records[1].vendor_batch_id, "vb_2");

  ASSERT_TRUE(store->set_vendor_batch_id(intent, "vb_1").has_value());
  EXPECT_EQ(store->open_vendor_batches()[0].vendor_batch_id, "vb_1");
  EXPECT_EQ(store->vendor_batch_ids("oai", 0), (std::set<std::string>{"vb_1", "vb_2"}));
  EXPECT_EQ(store->vendor_batch_ids("oai", 1500), (std::set<std::string>{"vb_2"}));
  EXPECT_TRUE(store->vendor_batch_ids("claude", 0).empty());

  ASSERT_TRUE(store->mark_vendor_batch_done(intent).has_value());
  records = store->open_vendor_batches();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].id, submitted);
  // Done, its tag may be used again (the job planned those lines anew), and its vendor id is
  // still known.
  const int64_t again =
      store->insert_vendor_batch(vendor_batch("batch_a", "sy-batch_a-0", "", 4000)).value();
  EXPECT_NE(again, intent);
  EXPECT_EQ(store->open_vendor_batches().size(), 2u);
  EXPECT_TRUE(store->vendor_batch_ids("oai", 0).contains("vb_1"));
}

}  // namespace sy::gateway::testing
