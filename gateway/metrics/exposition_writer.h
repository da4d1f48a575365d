#pragma once
// Writes the Prometheus text exposition format, version 0.0.4: per metric family one `# HELP`
// and one `# TYPE` line, then its samples `name{label="value",...} value`, every line ending in
// '\n'. Label values escape backslash, double quote and line feed; HELP text escapes backslash
// and line feed. Values are integers when integral, else the shortest decimal that reads back
// exactly; infinities are `+Inf`/`-Inf`.
//
// Contract: the caller writes all samples of a family right after its family() call (the
// format requires a family's lines to be contiguous), uses valid metric and label names
// ([a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]*, checked in debug builds) and never
// starts the same family twice. Not thread-safe: one writer per scrape.

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace sy::gateway::metrics {

enum class MetricType { counter, gauge, histogram };
std::string_view to_string(MetricType type);

struct Label {
  std::string_view name;
  std::string_view value;
};

// Cumulative bucket counts of one histogram series: cumulative[i] observations were at most
// upper_bounds[i] seconds; `count` (the +Inf bucket) is all of them.
struct HistogramSample {
  std::span<const double> upper_bounds;
  std::span<const uint64_t> cumulative;
  uint64_t count = 0;
  double sum = 0;
};

class ExpositionWriter {
 public:
  // The HTTP content type of what this writes.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // Starts a family: its HELP and TYPE lines. Counter names end in `_total` by convention.
  void family(std::string_view name, MetricType type, std::string_view help);
  // One sample of the current family (counter or gauge).
  void sample(std::span<const Label> labels, double value);
  void sample(std::span<const Label> labels, uint64_t value);
  void sample(std::initializer_list<Label> labels, double value) {
    sample(std::span<const Label>(labels.begin(), labels.size()), value);
  }
  void sample(std::initializer_list<Label> labels, uint64_t value) {
    sample(std::span<const Label>(labels.begin(), labels.size()), value);
  }
  // One series of the current histogram family: `_bucket{...,le="..."}` per bound and
  // le="+Inf", then `_sum` and `_count`.
  void histogram(std::span<const Label> labels, const HistogramSample& h);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void line(std::string_view suffix, std::span<const Label> labels, const Label* extra);
  void value(double v);
  void value(uint64_t v);

  std::string out_;
  std::string family_;  // the current family's name
};

// `v` as the exposition writes it (for `le` values and tests).
std::string format_value(double v);
// Whether `name` is a valid metric name / label name.
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace sy::gateway::metrics
