// VolumeClassifier: declared workload, batch origin and the tenant's sliding-window rate.

#include "switchyard/policies/classify/volume_classifier.h"

#include <gtest/gtest.h>

namespace sy::policies {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(VolumeClassifier, DeclaredBulkAndBatchOriginAreBulk) {
  VolumeClassifier volume(VolumeConfig{});
  EXPECT_EQ(volume.classify({.tenant = "t"})->volume, VolumeClass::interactive);
  auto declared = volume.classify({.workload_header = "Bulk", .tenant = "t"});
  EXPECT_EQ(declared->volume, VolumeClass::bulk);
  EXPECT_EQ(declared->reason, "declared bulk (x-switchyard-workload)");
  EXPECT_EQ(volume.classify({.batch_origin = true, .tenant = "t"})->volume, VolumeClass::bulk);
  EXPECT_EQ(volume.classify({.workload_header = "interactive", .tenant = "t"})->volume,
            VolumeClass::interactive);
  auto bad = volume.classify({.workload_header = "batchy", .tenant = "t"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(),
            "x-switchyard-workload: unknown workload 'batchy' (expected interactive or bulk)");
}

TEST(VolumeClassifier, TenantRequestRateOverTheWindowIsBulk) {
  VolumeClassifier volume(VolumeConfig{.window = 60'000ms, .bulk_requests_per_window = 5});
  const auto t0 = Clock::time_point{} + 1000h;
  for (int i = 0; i < 5; ++i) {
    auto r = volume.classify({.tenant = "busy", .now = t0 + i * 1s});
    EXPECT_EQ(r->volume, VolumeClass::interactive) << i;
  }
  auto sixth = volume.classify({.tenant = "busy", .now = t0 + 5s});
  EXPECT_EQ(sixth->volume, VolumeClass::bulk);
  EXPECT_EQ(sixth->window_requests, 6u);
  EXPECT_EQ(sixth->reason, "tenant rate: 6 requests in 60000 ms (bulk above 5)");
  // Another tenant is unaffected; explain (peek) does not count.
  EXPECT_EQ(volume.classify({.tenant = "calm", .now = t0 + 5s})->volume, VolumeClass::interactive);
  EXPECT_EQ(volume.peek({.tenant = "busy", .now = t0 + 6s})->window_requests, 7u);
  EXPECT_EQ(volume.peek({.tenant = "busy", .now = t0 + 6s})->window_requests, 7u);
  // The window slides: two minutes later the old requests are gone.
  auto later = volume.classify({.tenant = "busy", .now = t0 + 125s});
  EXPECT_EQ(later->volume, VolumeClass::interactive);
  EXPECT_EQ(later->window_requests, 1u);
}

TEST(VolumeClassifier, TenantTokenRateIsBulk) {
  VolumeClassifier volume(VolumeConfig{.window = 10'000ms, .bulk_tokens_per_window = 1000});
  const auto t0 = Clock::time_point{} + 1000h;
  EXPECT_EQ(volume.classify({.tenant = "t", .estimated_tokens = 600, .now = t0})->volume,
            VolumeClass::interactive);
  auto second = volume.classify({.tenant = "t", .estimated_tokens = 600, .now = t0 + 1s});
  EXPECT_EQ(second->volume, VolumeClass::bulk);
  EXPECT_EQ(second->window_tokens, 1200u);
}

TEST(VolumeClassifier, DeclaredInteractiveDoesNotLowerAMeasuredRate) {
  VolumeClassifier volume(VolumeConfig{.window = 60'000ms, .bulk_requests_per_window = 1});
  const auto t0 = Clock::time_point{} + 1000h;
  volume.classify({.tenant = "t", .now = t0});
  auto r = volume.classify({.workload_header = "interactive", .tenant = "t", .now = t0});
  EXPECT_EQ(r->volume, VolumeClass::bulk);
}

// The same long prompt prefix many times in the window (a bulk job sent one request at a
// time): digits and names masked, so a form filled with different values still matches.
TEST(VolumeClassifier, RepeatedTemplatesInTheWindowAreBulk) {
  VolumeClassifier volume(VolumeConfig{
      .window = 60'000ms, .bulk_template_repeats = 2, .template_prefix_bytes = 64});
  const auto t0 = Clock::time_point{} + 1000h;
  auto prompt = [](std::string name, int order) {
    return "Write a polite reply to customer " + name + " about order " + std::to_string(order) +
           " which was delayed by the carrier; offer a voucher and apologise.";
  };
  const std::string names[] = {"Anna Schmidt", "Bo Li", "Carla Gomez", "Dmitri Ivanov",
                               "Eve Adams"};
  for (int i = 0; i < 3; ++i) {
    std::string p = prompt(names[i], 1000 + i * 7919);
    auto r = volume.classify({.tenant = "shop", .prompt_head = p, .now = t0 + i * 1s});
    EXPECT_EQ(r->volume, VolumeClass::interactive) << i;
    EXPECT_EQ(r->template_repeats, static_cast<uint64_t>(i));
  }
  std::string fourth = prompt(names[3], 55);
  auto peeked = volume.peek({.tenant = "shop", .prompt_head = fourth, .now = t0 + 3s});
  EXPECT_EQ(peeked->volume, VolumeClass::bulk);
  auto r = volume.classify({.tenant = "shop", .prompt_head = fourth, .now = t0 + 3s});
  EXPECT_EQ(r->volume, VolumeClass::bulk);
  EXPECT_EQ(r->template_repeats, 3u);
  EXPECT_EQ(r->reason,
            "template repeat: 3 earlier requests in 60000 ms start with the same 64-byte "
            "template (bulk above 2)");
  // A different prompt, a different tenant, a short prompt, or the window passing: not bulk.
  std::string other =
      "Summarise the attached quarterly report for the board in five bullets please.";
  EXPECT_EQ(volume.classify({.tenant = "shop", .prompt_head = other, .now = t0 + 4s})->volume,
            VolumeClass::interactive);
  EXPECT_EQ(volume.classify({.tenant = "other", .prompt_head = fourth, .now = t0 + 4s})->volume,
            VolumeClass::interactive);
  EXPECT_EQ(volume.classify({.tenant = "shop", .prompt_head = "Write a polite", .now = t0 + 4s})
                ->volume,
            VolumeClass::interactive);
  std::string late = prompt(names[4], 9);
  auto after = volume.classify({.tenant = "shop", .prompt_head = late, .now = t0 + 62s});
  EXPECT_EQ(after->volume, VolumeClass::interactive);
  EXPECT_EQ(after->template_repeats, 1u);  // of the four, only the one at 3 s is in the window
}

TEST(VolumeClassifier, TemplateKeyMasksDigitsNamesAndBlanks) {
  auto key = [](std::string_view s) { return VolumeClassifier::template_key(s, 20); };
  EXPECT_EQ(key("Dear Anna, order 123 is late"), key("Dear Bartholomew,  order 9 is late"));
  EXPECT_NE(key("Dear Anna, order 123 is late"), key("Dear Anna, parcel 123 is late"));
  EXPECT_FALSE(key("too short").has_value());
}

}  // namespace
}  // namespace sy::policies
