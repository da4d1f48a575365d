// The metrics registry and its exposition: what a scraper reads is valid Prometheus text 0.0.4
// (checked by a strict parser), counters add up exactly, money comes out in USD, histograms are
// cumulative with +Inf == _count, label values are escaped, and cardinality is bounded.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "gateway/metrics/exposition_parser.h"
#include "metrics/exposition_writer.h"
#include "metrics/gateway_metrics.h"
#include "metrics/latency_histogram.h"
#include "metrics/series_map.h"

namespace sy::gateway::metrics {
namespace {

using sy::testing::Exposition;
using namespace std::chrono_literals;

LedgerRow row(std::string backend, std::string model, std::string tenant, int http_status,
              LedgerStatus status = LedgerStatus::ok) {
  LedgerRow r;
  r.backend = std::move(backend);
  r.model = std::move(model);
  r.tenant = std::move(tenant);
  r.http_status = http_status;
  r.status = status;
  return r;
}

TEST(ExpositionParser, RefusesWhatAScraperWouldRefuse) {
  // The parser must catch each violation, or the tests below prove nothing.
  EXPECT_TRUE(Exposition::parse("# TYPE a_total counter\na_total 1\n").ok());
  EXPECT_FALSE(Exposition::parse("a_total 1\n").ok()) << "sample without TYPE";
  EXPECT_FALSE(Exposition::parse("# TYPE a_total counter\na_total 1").ok()) << "no final LF";
  EXPECT_FALSE(Exposition::parse("# TYPE a counter\na 1\n").ok()) << "counter without _total";
  EXPECT_FALSE(Exposition::parse("# TYPE g gauge\ng{x=\"a\\tb\"} 1\n").ok()) << "bad escape";
  EXPECT_FALSE(Exposition::parse("# TYPE g gauge\ng{1x=\"a\"} 1\n").ok()) << "bad label name";
  EXPECT_FALSE(Exposition::parse("# TYPE g gauge\ng{x=\"a\",x=\"b\"} 1\n").ok());
  EXPECT_FALSE(Exposition::parse("# TYPE g gauge\ng one\n").ok()) << "bad value";
  EXPECT_FALSE(Exposition::parse("# TYPE g gauge\ng 1\ng 2\n").ok()) << "duplicate sample";
  EXPECT_FALSE(Exposition::parse("# TYPE g gauge\ng 1\n# TYPE h gauge\nh 1\n# TYPE g gauge\n").ok())
      << "family not contiguous";
  const char* not_cumulative =
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n";
  EXPECT_FALSE(Exposition::parse(not_cumulative).ok());
  const char* inf_not_count =
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n";
  EXPECT_FALSE(Exposition::parse(inf_not_count).ok());
  const char* no_inf = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n";
  EXPECT_FALSE(Exposition::parse(no_inf).ok());
}

TEST(ExpositionWriter, EscapesLabelValuesAndHelpSoTheyReadBackExactly) {
  ExpositionWriter w;
  w.family("odd_total", MetricType::counter, "Help with a \\ backslash\nand a new line");
  const std::string value = "quote \" backslash \\ newline \n end";
  w.sample({{"x", value}}, uint64_t{7});
  const auto parsed = Exposition::parse(w.text());
  ASSERT_TRUE(parsed.ok()) << parsed.error() << "\n" << w.text();
  ASSERT_EQ(parsed.families().size(), 1u);
  EXPECT_EQ(parsed.families()[0].help, "Help with a \\ backslash\nand a new line");
  EXPECT_EQ(parsed.families()[0].samples[0].label("x"), value);
  EXPECT_EQ(parsed.value("odd_total"), 7);
  EXPECT_NE(w.text().find(R"(x="quote \" backslash \\ newline \n end")"), std::string::npos)
      << w.text();
}

TEST(ExpositionWriter, FormatsIntegersExactlyAndFractionsShortest) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(0.001234), "0.001234");
  EXPECT_EQ(format_value(-2.5), "-2.5");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  ExpositionWriter w;
  w.family("big_total", MetricType::counter, "h");
  w.sample({}, uint64_t{18'446'744'073'709'551'615ull});
  EXPECT_EQ(w.text().substr(w.text().rfind('\n', w.text().size() - 2) + 1),
            "big_total 18446744073709551615\n");
}

TEST(LatencyHistogram, CountsABoundInItsOwnBucketAndSumsSeconds) {
  static constexpr std::array<double, 3> kBounds = {0.1, 1, 10};
  LatencyHistogram h(kBounds);
  h.observe(100ms);  // exactly on 0.1: le="0.1" includes it
  h.observe(101ms);  // le="1"
  h.observe(20s);    // above every bound
  h.observe(-5ms);   // clamped to 0
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 3, 3}));
  EXPECT_EQ(s.count, 4u);
  EXPECT_NEAR(s.sum_seconds, 20.201, 1e-9);
}

TEST(SeriesMap, FoldsCombinationsBeyondTheCapIntoOneOverflowSeries) {
  struct Slot {
    std::atomic<uint64_t> n{0};
  };
  SeriesMap<Slot, 2> map(2);
  map.at({"a", "1"}).n += 1;
  map.at({"b", "1"}).n += 1;
  map.at({"a", "1"}).n += 1;  // existing: no overflow
  map.at({"c", "1"}).n += 1;
  map.at({"d", "1"}).n += 1;
  EXPECT_EQ(map.size(), 3u);
  EXPECT_EQ(map.overflowed(), 2u);
  std::vector<std::pair<std::string, uint64_t>> seen;
  map.for_each(
      [&](const auto& key, const Slot& slot) { seen.emplace_back(key[0], slot.n.load()); });
  EXPECT_EQ(seen,
            (std::vector<std::pair<std::string, uint64_t>>{{"_overflow", 2}, {"a", 2}, {"b", 1}}));
}

TEST(GatewayMetrics, ExportsRequestsTokensMoneyAndLatencyAsValidExposition) {
  GatewayMetrics m;
  LedgerRow ok = row("oai", "gpt-4o-mini", "acme", 200);
  ok.usage = {.prompt_tokens = 100,
              .completion_tokens = 40,
              .cached_tokens = 30,
              .cache_write_tokens = 5,
              .reasoning_tokens = 10};
  ok.cost = 1234;            // µ$
  ok.baseline_cost = 20000;  // µ$
  m.record_request(ok, 250ms, 40ms);
  m.record_request(ok, 3s, std::nullopt);  // buffered: no TTFT
  LedgerRow dear = ok;
  dear.cost = 30000;  // costlier than its baseline: savings go down
  m.record_request(dear, 1ms, std::nullopt);
  m.record_request(row("", "", "acme", 403, LedgerStatus::denied), std::nullopt, std::nullopt);

  const std::string text = m.render();
  const auto e = Exposition::parse(text);
  ASSERT_TRUE(e.ok()) << e.error() << "\n" << text;

  EXPECT_EQ(e.value("switchyard_requests_total", {{"backend", "oai"},
                                                  {"model", "gpt-4o-mini"},
                                                  {"tenant", "acme"},
                                                  {"status", "ok"},
                                                  {"code", "200"}}),
            3);
  EXPECT_EQ(e.value("switchyard_requests_total",
                    {{"backend", ""}, {"tenant", "acme"}, {"status", "denied"}, {"code", "403"}}),
            1);
  const std::map<std::string, std::string> oai = {{"backend", "oai"}, {"tenant", "acme"}};
  auto tokens = [&](const std::string& type) {
    auto labels = oai;
    labels["type"] = type;
    return e.value("switchyard_tokens_total", labels);
  };
  EXPECT_EQ(tokens("input"), 300);
  EXPECT_EQ(tokens("output"), 120);
  EXPECT_EQ(tokens("cached"), 90);
  EXPECT_EQ(tokens("cache_write"), 15);
  EXPECT_EQ(tokens("reasoning"), 30);
  EXPECT_DOUBLE_EQ(*e.value("switchyard_cost_usd_total", oai), 0.032468);
  EXPECT_DOUBLE_EQ(*e.value("switchyard_baseline_cost_usd_total", oai), 0.06);
  EXPECT_DOUBLE_EQ(*e.value("switchyard_savings_usd", oai), 0.06 - 0.032468);
  // The refusal has no tokens: no usage series for backend "".
  EXPECT_FALSE(e.value("switchyard_cost_usd_total", {{"backend", ""}}));

  EXPECT_EQ(e.value("switchyard_request_duration_seconds_count", {{"backend", "oai"}}), 3);
  EXPECT_EQ(
      e.value("switchyard_request_duration_seconds_bucket", {{"backend", "oai"}, {"le", "0.25"}}),
      2);  // 1 ms and 250 ms
  EXPECT_NEAR(*e.value("switchyard_request_duration_seconds_sum", {{"backend", "oai"}}), 3.251,
              1e-9);
  EXPECT_EQ(e.value("switchyard_time_to_first_token_seconds_count", {{"backend", "oai"}}), 1);
  EXPECT_EQ(e.value("switchyard_metrics_overflow_series_total"), 0);
}

TEST(GatewayMetrics, CollectorsWriteTheirFamiliesAfterTheRegistrysOwn) {
  GatewayMetrics m;
  int calls = 0;
  m.add_collector([&](ExpositionWriter& w) {
    ++calls;
    w.family("test_queue_depth", MetricType::gauge, "A live figure.");
    w.sample({{"backend", "local"}}, 3.5);
  });
  const auto e = Exposition::parse(m.render());
  ASSERT_TRUE(e.ok()) << e.error();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(e.value("test_queue_depth", {{"backend", "local"}}), 3.5);
  EXPECT_EQ(e.families().back().name, "test_queue_depth");
}

TEST(GatewayMetrics, ConcurrentRequestsAreAllCounted) {
  GatewayMetrics m;
  constexpr int kThreads = 4, kEach = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      LedgerRow r = row("b" + std::to_string(t % 2), "m", "acme", 200);
      r.usage.prompt_tokens = 2;
      r.cost = 3;
      for (int i = 0; i < kEach; ++i) m.record_request(r, 1ms, std::nullopt);
    });
  }
  std::string mid = m.render();  // a scrape racing the writers still parses
  for (auto& t : threads) t.join();
  EXPECT_TRUE(Exposition::parse(mid).ok()) << Exposition::parse(mid).error();
  const auto e = Exposition::parse(m.render());
  ASSERT_TRUE(e.ok()) << e.error();
  EXPECT_EQ(e.sum("switchyard_requests_total"), kThreads * kEach);
  EXPECT_EQ(e.sum("switchyard_tokens_total", {{"type", "input"}}), 2.0 * kThreads * kEach);
  EXPECT_DOUBLE_EQ(e.sum("switchyard_cost_usd_total"), 3e-6 * kThreads * kEach);
  EXPECT_EQ(e.sum("switchyard_request_duration_seconds_count"), kThreads * kEach);
}

TEST(GatewayMetrics, StatusCodeLabelsComeFromATable) {
  EXPECT_EQ(status_code_label(200), "200");
  EXPECT_EQ(status_code_label(0), "0");
  EXPECT_EQ(status_code_label(599), "599");
  EXPECT_EQ(status_code_label(600), "other");
  EXPECT_EQ(status_code_label(-1), "other");
}

}  // namespace
}  // namespace sy::gateway::metrics
