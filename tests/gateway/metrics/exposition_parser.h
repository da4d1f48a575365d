#pragma once
// A small strict reader of the Prometheus text exposition format 0.0.4, for tests. It refuses
// (error() says the line and why) what a scraper would refuse or misread:
//   - a sample without a preceding `# TYPE` of its family, a family's lines not contiguous, a
//     second HELP or TYPE for a name, an unknown type;
//   - invalid metric or label names, a duplicate label, an unknown escape in a label value
//     (only \\, \" and \n) or in HELP text (only \\ and \n), an unparsable value, a duplicate
//     sample;
//   - counter samples not named like their family, counter families not ending in _total
//     (this project's convention);
//   - histogram series whose buckets are not in increasing `le` order, not cumulative, not
//     ending with le="+Inf", or whose +Inf bucket differs from _count; a missing _sum/_count;
//   - text that does not end with a line feed.

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sy::testing {

struct ParsedSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in the order written
  double value = 0;

  std::optional<std::string> label(std::string_view name) const {
    for (const auto& [k, v] : labels) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
};

struct ParsedFamily {
  std::string name;
  std::string type;
  std::string help;
  std::vector<ParsedSample> samples;
};

class Exposition {
 public:
  static Exposition parse(std::string_view text) {
    Exposition e;
    e.run(text);
    return e;
  }

  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty(); }
  const std::vector<ParsedFamily>& families() const { return families_; }

  const ParsedFamily* family(std::string_view name) const {
    for (const auto& f : families_) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }

  // The value of the sample called `name` whose labels include every one of `match`; nullopt
  // when there is none, NaN when several match.
  std::optional<double> value(std::string_view name,
                              const std::map<std::string, std::string>& match = {}) const {
    std::optional<double> found;
    for (const auto& f : families_) {
      for (const auto& s : f.samples) {
        if (s.name != name || !matches(s, match)) continue;
        if (found) return std::nan("");
        found = s.value;
      }
    }
    return found;
  }

  // The sum of every matching sample (0 when none).
  double sum(std::string_view name, const std::map<std::string, std::string>& match = {}) const {
    double total = 0;
    for (const auto& f : families_) {
      for (const auto& s : f.samples) {
        if (s.name == name && matches(s, match)) total += s.value;
      }
    }
    return total;
  }

 private:
  static bool matches(const ParsedSample& s, const std::map<std::string, std::string>& match) {
    for (const auto& [k, v] : match) {
      auto got = s.label(k);
      if (!got || *got != v) return false;
    }
    return true;
  }

  static bool valid_name(std::string_view name, bool colon) {
    if (name.empty()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
      const char c = name[i];
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                      (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
      if (!ok) return false;
    }
    return true;
  }

  static std::optional<double> parse_value(std::string_view text) {
    if (text == "+Inf" || text == "Inf") return INFINITY;
    if (text == "-Inf") return -INFINITY;
    if (text == "NaN") return std::nan("");
    if (text.empty()) return std::nullopt;
    std::string copy(text);
    char* end = nullptr;
    const double v = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size()) return std::nullopt;
    return v;
  }

  bool fail(size_t line, const std::string& why) {
    if (error_.empty()) error_ = "line " + std::to_string(line) + ": " + why;
    return false;
  }

  // The family a sample name belongs to, given the current family's type.
  static bool belongs(const ParsedFamily& f, std::string_view sample) {
    if (sample == f.name) return f.type != "histogram";
    if (f.type == "histogram") {
      for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        if (sample.size() == f.name.size() + suffix.size() && sample.starts_with(f.name) &&
            sample.ends_with(suffix)) {
          return true;
        }
      }
    }
    return false;
  }

  bool parse_sample(size_t n, std::string_view line, ParsedSample& s) {
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = std::string(line.substr(0, i));
    if (!valid_name(s.name, true)) return fail(n, "invalid metric name '" + s.name + "'");
    std::set<std::string> seen;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string_view::npos) return fail(n, "label without '='");
        std::string name(line.substr(i, eq - i));
        if (!valid_name(name, false)) return fail(n, "invalid label name '" + name + "'");
        if (!seen.insert(name).second) return fail(n, "duplicate label '" + name + "'");
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') return fail(n, "label value not quoted");
        ++i;
        std::string value;
        for (;;) {
          if (i >= line.size()) return fail(n, "unterminated label value");
          const char c = line[i++];
          if (c == '"') break;
          if (c == '\\') {
            if (i >= line.size()) return fail(n, "dangling escape");
            const char e = line[i++];
            if (e == '\\') {
              value += '\\';
            } else if (e == '"') {
              value += '"';
            } else if (e == 'n') {
              value += '\n';
            } else {
              return fail(n, std::string("unknown escape \\") + e);
            }
          } else {
            value += c;
          }
        }
        s.labels.emplace_back(std::move(name), std::move(value));
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return fail(n, "unterminated label set");
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') return fail(n, "no space before the value");
    std::string_view rest = line.substr(i + 1);
    const size_t space = rest.find(' ');
    std::string_view value = rest.substr(0, space);
    if (space != std::string_view::npos) {
      std::string_view timestamp = rest.substr(space + 1);
      if (timestamp.empty() || timestamp.find_first_not_of("-0123456789") != timestamp.npos) {
        return fail(n, "bad timestamp");
      }
    }
    auto v = parse_value(value);
    if (!v) return fail(n, "bad value '" + std::string(value) + "'");
    s.value = *v;
    return true;
  }

  void run(std::string_view text) {
    if (!text.empty() && text.back() != '\n') {
      fail(0, "the text does not end with a line feed");
      return;
    }
    std::set<std::string> helped, typed, closed;
    std::set<std::string> sample_keys;
    ParsedFamily* current = nullptr;
    size_t n = 0;
    size_t start = 0;
    while (start < text.size()) {
      const size_t end = text.find('\n', start);
      std::string_view line = text.substr(start, end - start);
      start = end + 1;
      ++n;
      if (line.empty()) continue;
      if (line.starts_with("#")) {
        if (!line.starts_with("# HELP ") && !line.starts_with("# TYPE ")) continue;
        const bool help = line.starts_with("# HELP ");
        std::string_view rest = line.substr(7);
        const size_t space = rest.find(' ');
        std::string name(rest.substr(0, space));
        std::string_view arg = space == rest.npos ? "" : rest.substr(space + 1);
        if (!valid_name(name, true)) return (void)fail(n, "invalid metric name '" + name + "'");
        if (closed.count(name)) return (void)fail(n, "family " + name + " is not contiguous");
        if (!current || current->name != name) {
          if (current) closed.insert(current->name);
          families_.push_back(ParsedFamily{.name = name});
          current = &families_.back();
        }
        if (!current->samples.empty()) {
          return (void)fail(n, "HELP/TYPE after samples of " + name);
        }
        if (help) {
          if (!helped.insert(name).second) return (void)fail(n, "second HELP for " + name);
          std::string unescaped;
          for (size_t i = 0; i < arg.size(); ++i) {
            if (arg[i] != '\\') {
              unescaped += arg[i];
              continue;
            }
            if (++i >= arg.size()) return (void)fail(n, "dangling escape in HELP");
            if (arg[i] == '\\') {
              unescaped += '\\';
            } else if (arg[i] == 'n') {
              unescaped += '\n';
            } else {
              return (void)fail(n, "unknown escape in HELP");
            }
          }
          current->help = unescaped;
        } else {
          if (!typed.insert(name).second) return (void)fail(n, "second TYPE for " + name);
          static const std::set<std::string_view> kTypes = {"counter", "gauge", "histogram",
                                                            "summary", "untyped"};
          if (!kTypes.count(arg)) return (void)fail(n, "unknown type '" + std::string(arg) + "'");
          current->type = std::string(arg);
          if (current->type == "counter" && !name.ends_with("_total")) {
            return (void)fail(n, "counter " + name + " does not end in _total");
          }
        }
        continue;
      }
      ParsedSample s;
      if (!parse_sample(n, line, s)) return;
      if (!current || current->type.empty() || !belongs(*current, s.name)) {
        return (void)fail(n, "sample " + s.name + " has no preceding TYPE of its family");
      }
      std::string key = s.name;
      for (const auto& [k, v] : s.labels) key += "\x1f" + k + "=" + v;
      if (!sample_keys.insert(key).second) return (void)fail(n, "duplicate sample " + s.name);
      if (s.label("le") && !s.name.ends_with("_bucket")) {
        return (void)fail(n, "le label outside a histogram bucket");
      }
      current->samples.push_back(std::move(s));
    }
    for (const auto& f : families_) {
      if (f.type.empty()) return (void)fail(0, "family " + f.name + " has no TYPE");
      if (f.type == "histogram" && !check_histogram(f)) return;
    }
  }

  bool check_histogram(const ParsedFamily& f) {
    struct Series {
      std::vector<std::pair<double, double>> buckets;  // (le, count) in written order
      std::optional<double> sum, count;
    };
    std::map<std::vector<std::pair<std::string, std::string>>, Series> series;
    for (const auto& s : f.samples) {
      std::vector<std::pair<std::string, std::string>> labels;
      std::optional<double> le;
      for (const auto& [k, v] : s.labels) {
        if (k == "le") {
          le = parse_value(v);
          if (!le) return fail(0, f.name + ": bad le '" + v + "'");
        } else {
          labels.emplace_back(k, v);
        }
      }
      std::sort(labels.begin(), labels.end());
      Series& ser = series[labels];
      if (s.name.ends_with("_bucket")) {
        if (!le) return fail(0, f.name + ": bucket without le");
        ser.buckets.emplace_back(*le, s.value);
      } else if (s.name.ends_with("_sum")) {
        ser.sum = s.value;
      } else {
        ser.count = s.value;
      }
    }
    for (const auto& [labels, ser] : series) {
      if (ser.buckets.empty() || !ser.sum || !ser.count) {
        return fail(0, f.name + ": a series lacks buckets, _sum or _count");
      }
      for (size_t i = 1; i < ser.buckets.size(); ++i) {
        if (!(ser.buckets[i].first > ser.buckets[i - 1].first)) {
          return fail(0, f.name + ": le not increasing");
        }
        if (ser.buckets[i].second < ser.buckets[i - 1].second) {
          return fail(0, f.name + ": buckets not cumulative");
        }
      }
      if (!std::isinf(ser.buckets.back().first)) return fail(0, f.name + ": no +Inf bucket");
      if (ser.buckets.back().second != *ser.count) {
        return fail(0, f.name + ": +Inf bucket differs from _count");
      }
    }
    return true;
  }

  std::vector<ParsedFamily> families_;
  std::string error_;
};

}  // namespace sy::testing
