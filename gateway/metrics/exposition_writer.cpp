#include "metrics/exposition_writer.h"

#include <cassert>
#include <charconv>
#include <cmath>

namespace sy::gateway::metrics {

namespace {

bool name_char(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

bool valid_name(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, colon)) return false;
  }
  return true;
}

void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '"':
        if (quote) {
          out += "\\\"";
        } else {
          out += c;
        }
        break;
      default:
        out += c;
    }
  }
}

void append_integer(std::string& out, auto v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::trunc(v) && std::fabs(v) < 9.0e15) {
    // Exact integers print without an exponent or a fraction (counts, bytes, blocks).
    append_integer(out, static_cast<int64_t>(v));
  } else {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest exact form
    out.append(buf, end);
  }
}

}  // namespace

std::string_view to_string(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

bool valid_metric_name(std::string_view name) { return valid_name(name, true); }
bool valid_label_name(std::string_view name) { return valid_name(name, false); }

std::string format_value(double v) {
  std::string out;
  append_double(out, v);
  return out;
}

void ExpositionWriter::family(std::string_view name, MetricType type, std::string_view help) {
  assert(valid_metric_name(name));
  family_.assign(name);
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += to_string(type);
  out_ += '\n';
}

void ExpositionWriter::line(std::string_view suffix, std::span<const Label> labels,
                            const Label* extra) {
  out_ += family_;
  out_ += suffix;
  if (!labels.empty() || extra != nullptr) {
    out_ += '{';
    bool first = true;
    auto put = [&](const Label& label) {
      assert(valid_label_name(label.name));
      if (!first) out_ += ',';
      first = false;
      out_ += label.name;
      out_ += "=\"";
      append_escaped(out_, label.value, true);
      out_ += '"';
    };
    for (const Label& label : labels) put(label);
    if (extra != nullptr) put(*extra);
    out_ += '}';
  }
  out_ += ' ';
}

void ExpositionWriter::value(double v) {
  append_double(out_, v);
  out_ += '\n';
}

void ExpositionWriter::value(uint64_t v) {
  append_integer(out_, v);
  out_ += '\n';
}

void ExpositionWriter::sample(std::span<const Label> labels, double v) {
  line("", labels, nullptr);
  value(v);
}

void ExpositionWriter::sample(std::span<const Label> labels, uint64_t v) {
  line("", labels, nullptr);
  value(v);
}

void ExpositionWriter::histogram(std::span<const Label> labels, const HistogramSample& h) {
  std::string le;
  for (size_t i = 0; i < h.upper_bounds.size(); ++i) {
    le.clear();
    append_double(le, h.upper_bounds[i]);
    const Label bound{"le", le};
    line("_bucket", labels, &bound);
    value(h.cumulative[i]);
  }
  const Label inf{"le", "+Inf"};
  line("_bucket", labels, &inf);
  value(h.count);
  line("_sum", labels, nullptr);
  value(h.sum);
  line("_count", labels, nullptr);
  value(h.count);
}

}  // namespace sy::gateway::metrics
