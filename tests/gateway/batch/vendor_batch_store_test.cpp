// The vendor batch store: what a restart needs to poll a vendor batch again instead of
// submitting its lines twice.

#include "batch/vendor_batch_store.h"

#include <gtest/gtest.h>

#include "gateway/cli/temp_dir.h"

namespace sy::gateway {
namespace {

VendorBatchRecord sample(const std::string& batch_id, const std::string& vendor_id) {
  return VendorBatchRecord{
      .batch_id = batch_id,
      .backend = "oai",
      .vendor_batch_id = vendor_id,
      .submitted_at_ms = 1234,
      .lines = {{.line = 0, .custom_id = "batch_req_x_0", .row_json = "{\"a\":1}"},
                {.line = 7, .custom_id = "batch_req_x_7", .row_json = "{}"}}};
}

TEST(VendorBatchStore, KeepsOpenVendorBatchesAcrossReopenUntilDone) {
  testing::TempDir dir;
  const auto path = dir.path() / "vendor_batches.sqlite3";
  int64_t first = 0;
  {
    VendorBatchStore store(path, false);
    auto id = store.insert(sample("batch_a", "vb_1"));
    ASSERT_TRUE(id.has_value());
    first = *id;
    ASSERT_TRUE(store.insert(sample("batch_b", "vb_2")).has_value());
    ASSERT_TRUE(store.mark_cancel_sent(first).has_value());
  }
  VendorBatchStore store(path, false);
  auto open = store.open_batches();
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open[0].id, first);
  EXPECT_EQ(open[0].batch_id, "batch_a");
  EXPECT_EQ(open[0].backend, "oai");
  EXPECT_EQ(open[0].vendor_batch_id, "vb_1");
  EXPECT_EQ(open[0].submitted_at_ms, 1234);
  EXPECT_TRUE(open[0].cancel_sent);
  EXPECT_FALSE(open[1].cancel_sent);
  ASSERT_EQ(open[0].lines.size(), 2u);
  EXPECT_EQ(open[0].lines[1].line, 7);
  EXPECT_EQ(open[0].lines[1].custom_id, "batch_req_x_7");
  EXPECT_EQ(open[0].lines[0].row_json, "{\"a\":1}");
  ASSERT_TRUE(store.mark_done(first).has_value());
  open = store.open_batches();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].vendor_batch_id, "vb_2");
}

}  // namespace
}  // namespace sy::gateway
