// SensitivityClassifier: compile once, scan in one pass, validate candidates, resolve
// overlaps. The request walk is in sensitivity_request_walker.cpp.

#include "switchyard/policies/classify/sensitivity_classifier.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "classify/sensitivity/compiled_patterns.h"
#include "classify/sensitivity/detector.h"
#include "classify/sensitivity/digit_regions.h"
#include "classify/sensitivity/validators/validators.h"

namespace sy::policies {

using sensitivity_detail::CompiledPatterns;
using sensitivity_detail::Detector;
using sensitivity_detail::PatternMatch;
using sensitivity_detail::PatternSource;
using sensitivity_detail::PatternSpec;
using sensitivity_detail::ScanDatabase;

namespace {

constexpr std::array<std::string_view, 4> kLevelNames = {"public", "internal", "confidential",
                                                         "restricted"};
constexpr std::array<std::string_view, kFindingTypeCount> kTypeNames = {
    "payment_card",   "iban",          "us_ssn",         "national_id",
    "email",          "phone",         "ip_address",     "mac_address",
    "crypto_address", "date_of_birth", "person_name",    "street_address",
    "secret",         "custom_term",   "custom_pattern", "unscannable"};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool word_byte(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// A literal term as a vectorscan pattern: every non-alphanumeric byte escaped as \xHH, word
// boundaries where the term starts/ends with a word character.
std::string term_pattern(std::string_view term) {
  std::string out;
  if (word_byte(term.front())) out += "\\b";
  for (char c : term) {
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (alnum) {
      out.push_back(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  if (word_byte(term.back())) out += "\\b";
  return out;
}

constexpr size_t kRescanWindow = 256;

// Member names and values that recur in every chat request (OpenAI and Anthropic shapes).
constexpr std::string_view kCommonRequestTexts[] = {
    "model",       "messages",    "role",        "content",     "type",
    "text",        "name",        "user",        "system",      "assistant",
    "tool",        "developer",   "tools",       "tool_calls",  "tool_call_id",
    "function",    "arguments",   "parameters",  "description", "properties",
    "required",    "stream",      "temperature", "max_tokens",  "top_p",
    "metadata",    "image_url",   "url",         "id",          "object",
    "stop",        "n",           "seed",        "strict",      "schema",
    "auto",        "none",        "string",      "integer",     "number",
    "boolean",     "array",       "items",       "enum",        "input",
    "tool_choice", "tool_use",    "tool_result", "input_schema", "stop_sequences",
    "response_format", "json_schema", "json_object", "stream_options", "include_usage",
    "max_completion_tokens", "parallel_tool_calls", "frequency_penalty", "presence_penalty",
    "user_id",     "image",       "source",      "media_type",  "data",
    "top_k",       "thinking",    "budget_tokens", "refusal",   "reasoning_effort"};
constexpr size_t kCommonRequestTextMax = 21;  // the longest above

// Where the rescan window for a match ending at `end` starts: kRescanWindow bytes back, then
// back to just after a non-word byte where that is close, so that \b at its start means what
// it means in the text.
size_t rescan_from(std::string_view text, size_t end) {
  constexpr size_t kWordSlack = 64;
  size_t from = end > kRescanWindow ? end - kRescanWindow : 0;
  for (size_t slack = 0; from > 0 && slack < kWordSlack && word_byte(text[from - 1]); ++slack) {
    --from;
  }
  return from;
}

// The leftmost start of a match of `single` (one pattern) ending at `end`, found by scanning
// its window with start tracking; `end` when none.
size_t rescan_start(const ScanDatabase& single, std::string_view text, size_t end) {
  std::vector<PatternMatch> found;
  std::pair<size_t, size_t> window{rescan_from(text, end), end};
  if (!single.scan_ranges(text, {&window, 1}, found)) return end;
  size_t start = end;
  for (const PatternMatch& m : found) {
    if (m.end == end) start = std::min(start, m.begin);
  }
  return start;
}

// rescan_start for the matches `at` (indices into `matches`, ascending ends), with one scan per
// cluster of close ends instead of one per end ("Baker Street" and "Baker Street." are two
// ends of one address, a French street name has one per letter). A start found in the
// cluster's window is the one the end's own window gives when it lies in that window and the
// window's edge is after a non-word byte (or the text's start); otherwise the end is rescanned
// alone, as before. (Exact for the street patterns: what follows a match's end constrains it
// the same way in both windows, as the whole-text scan already found a match ending there.)
void rescan_starts(const ScanDatabase& single, std::string_view text,
                   std::span<const size_t> at, std::vector<PatternMatch>& matches) {
  constexpr size_t kClusterGap = 64;
  std::vector<PatternMatch> found;
  for (size_t a = 0; a < at.size();) {
    size_t b = a + 1;
    while (b < at.size() && matches[at[b]].end - matches[at[b - 1]].end <= kClusterGap) ++b;
    size_t first_end = matches[at[a]].end;
    size_t last_end = matches[at[b - 1]].end;
    found.clear();
    std::pair<size_t, size_t> window{rescan_from(text, first_end), last_end};
    bool ok = b - a > 1 && single.scan_ranges(text, {&window, 1}, found);
    for (size_t k = a; k < b; ++k) {
      PatternMatch& m = matches[at[k]];
      size_t from = rescan_from(text, m.end);
      size_t start = m.end;
      for (const PatternMatch& f : found) {
        if (f.end == m.end) start = std::min(start, f.begin);
      }
      bool same = ok && start < m.end && start >= from && (from == 0 || !word_byte(text[from - 1]));
      m.begin = same ? start : rescan_start(single, text, m.end);
    }
    a = b;
  }
}

// (begin, end descending): the order a pattern's matches are validated in.
bool before_by_begin(const PatternMatch& a, const PatternMatch& b) {
  if (a.begin != b.begin) return a.begin < b.begin;
  return a.end > b.end;
}

// Orders one pattern's matches [from, to) by before_by_begin. They arrive by end: begins
// ascending and each begin's ends ascending (a pattern reports every end it can stop at, each
// with its leftmost start: a card's 12 and 16 digits, "Street" and "Street."), so reversing each
// begin's run orders them in one pass; anything else falls back to a sort. (std::sort whenever
// a run had two ends sorted most patterns' whole lists in mispredicted comparisons.)
void order_by_begin(std::vector<PatternMatch>::iterator from,
                    std::vector<PatternMatch>::iterator to) {
  for (auto a = from; a < to;) {
    auto b = a + 1;
    while (b < to && b->begin == a->begin) ++b;
    if (b < to && b->begin < a->begin) {
      std::sort(from, to, before_by_begin);
      return;
    }
    if (b - a > 1) {
      std::reverse(a, b);
      if (!std::is_sorted(a, b, before_by_begin)) std::sort(a, b, before_by_begin);
    }
    a = b;
  }
}

// A finding before it is reported: plain data, so that the sorts below move 48 bytes, not
// two strings. `detector` points into the built-in table or the classifier's config.
struct Candidate {
  FindingType type;
  SensitivityLevel level;
  double confidence;
  size_t begin;
  size_t end;
  std::string_view detector;
};

bool better(const Candidate& a, const Candidate& b) {
  if (a.confidence != b.confidence) return a.confidence > b.confidence;
  return (a.end - a.begin) > (b.end - b.begin);
}

// Within one type (and one detector for tenant lists, which carry their own levels), keep one
// finding per overlapping cluster: the most confident, then the longest.
// Candidates are stably sorted by (type, [tenant list name], begin) first: ties keep the
// order they were validated in (by pattern id, then start). Long lists are distributed by type
// first (a counting sort) and each type's run sorted alone: they arrive sorted by begin within
// each pattern, and one comparison sort of the whole list was ~5% of a scan's time.
void merge_same_type(std::vector<Candidate>& findings) {
  auto order = [](const Candidate& a, const Candidate& b) {
    if (a.type != b.type) return a.type < b.type;
    // Names compared only for tenant lists: comparing them first was most of this sort.
    if (a.type >= FindingType::custom_term && a.detector != b.detector) {
      return a.detector < b.detector;
    }
    return a.begin < b.begin;
  };
  if (findings.size() <= 32) {
    std::stable_sort(findings.begin(), findings.end(), order);
  } else {
    std::array<size_t, kFindingTypeCount + 1> first{};  // (type) its first slot
    for (const Candidate& c : findings) ++first[static_cast<size_t>(c.type) + 1];
    for (size_t k = 1; k < first.size(); ++k) first[k] += first[k - 1];
    std::vector<Candidate> by_type(findings.size());
    std::array<size_t, kFindingTypeCount> next{};
    std::copy(first.begin(), first.end() - 1, next.begin());
    for (const Candidate& c : findings) by_type[next[static_cast<size_t>(c.type)]++] = c;
    for (size_t k = 0; k < kFindingTypeCount; ++k) {
      auto from = by_type.begin() + static_cast<std::ptrdiff_t>(first[k]);
      auto to = by_type.begin() + static_cast<std::ptrdiff_t>(first[k + 1]);
      if (!std::is_sorted(from, to, order)) std::stable_sort(from, to, order);
    }
    findings.swap(by_type);
  }
  size_t kept = 0;
  for (size_t i = 0; i < findings.size(); ++i) {
    const Candidate& f = findings[i];
    if (kept > 0) {
      Candidate& last = findings[kept - 1];
      bool same_group =
          last.type == f.type && (f.type < FindingType::custom_term || last.detector == f.detector);
      if (same_group && f.begin < last.end) {
        if (better(f, last)) last = f;
        continue;
      }
    }
    findings[kept++] = f;
  }
  findings.resize(kept);
}

// Stably sorts `v`, which arrives as a few ascending runs by `less`: finds the runs and merges
// them pairwise (std::merge keeps ties in order), log2(runs) linear passes. std::stable_sort
// does ~log2(n / 7) passes whatever the order, and was ~2% of a scan's time here; it stays for
// short lists (a request's few findings), where the three buffers here would cost more.
template <typename T, typename Less>
void merge_runs(std::vector<T>& v, Less less) {
  if (v.size() <= 32) {
    std::stable_sort(v.begin(), v.end(), less);
    return;
  }
  std::vector<size_t> bounds{0};  // run starts, then the end
  for (size_t i = 1; i < v.size(); ++i) {
    if (less(v[i], v[i - 1])) bounds.push_back(i);
  }
  bounds.push_back(v.size());
  if (bounds.size() <= 2) return;
  std::vector<T> merged(v.size());
  std::vector<size_t> next;
  while (bounds.size() > 2) {
    next.assign(1, 0);
    size_t k = 0;
    for (; k + 2 < bounds.size(); k += 2) {
      std::merge(v.begin() + bounds[k], v.begin() + bounds[k + 1], v.begin() + bounds[k + 1],
                 v.begin() + bounds[k + 2], merged.begin() + bounds[k], less);
      next.push_back(bounds[k + 2]);
    }
    if (k + 1 < bounds.size()) {  // an odd run out: copied as it is
      std::copy(v.begin() + bounds[k], v.end(), merged.begin() + bounds[k]);
      next.push_back(v.size());
    }
    v.swap(merged);
    bounds.swap(next);
  }
}

// Drops a finding that lies wholly inside a more confident one of at least its level (a
// phone-shaped run inside a card number); never one that would lower the level.
// (Stable, from merge_same_type's order: the candidates arrive as one begin-sorted run per
// type; ties stay in type order.)
void drop_contained(std::vector<Candidate>& findings) {
  merge_runs(findings, [](const Candidate& a, const Candidate& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    return a.end > b.end;
  });
  std::vector<bool> dropped(findings.size(), false);
  std::vector<size_t> open;  // findings that may still contain later ones
  for (size_t i = 0; i < findings.size(); ++i) {
    const Candidate& f = findings[i];
    std::erase_if(open, [&](size_t j) { return findings[j].end <= f.begin; });
    for (size_t j : open) {
      const Candidate& g = findings[j];
      if (g.end >= f.end && g.confidence > f.confidence && g.level >= f.level) {
        dropped[i] = true;
        break;
      }
    }
    open.push_back(i);
  }
  size_t kept = 0;
  for (size_t i = 0; i < findings.size(); ++i) {
    if (!dropped[i]) findings[kept++] = findings[i];
  }
  findings.resize(kept);
}

}  // namespace

std::string_view to_string(SensitivityLevel level) {
  return kLevelNames[static_cast<size_t>(level)];
}

std::optional<SensitivityLevel> parse_sensitivity_level(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  for (size_t i = 0; i < kLevelNames.size(); ++i) {
    std::string_view name = kLevelNames[i];
    if (name.size() != text.size()) continue;
    if (std::equal(name.begin(), name.end(), text.begin(),
                   [](char a, char b) { return a == lower(b); })) {
      return static_cast<SensitivityLevel>(i);
    }
  }
  return std::nullopt;
}

std::string_view to_string(FindingType type) { return kTypeNames[static_cast<size_t>(type)]; }

std::optional<FindingType> parse_finding_type(std::string_view text) {
  for (size_t i = 0; i < kTypeNames.size(); ++i) {
    if (kTypeNames[i] == text) return static_cast<FindingType>(i);
  }
  return std::nullopt;
}

std::string_view to_string(SensitivityResult::DecidedBy by) {
  switch (by) {
    case SensitivityResult::DecidedBy::detectors:
      return "detectors";
    case SensitivityResult::DecidedBy::label:
      return "label";
    case SensitivityResult::DecidedBy::floor:
      return "floor";
  }
  return "detectors";
}

std::array<SensitivityLevel, kFindingTypeCount> SensitivityConfig::default_levels() {
  using L = SensitivityLevel;
  using T = FindingType;
  std::array<L, kFindingTypeCount> levels{};
  levels.fill(L::confidential);
  for (T t : {T::payment_card, T::iban, T::us_ssn, T::national_id, T::secret}) {
    levels[static_cast<size_t>(t)] = L::restricted;
  }
  for (T t : {T::ip_address, T::mac_address}) levels[static_cast<size_t>(t)] = L::internal;
  return levels;
}

SensitivityClassifier::SensitivityClassifier(SensitivityConfig config,
                                             std::unique_ptr<CompiledPatterns> patterns)
    : config_(std::move(config)), patterns_(std::move(patterns)) {}

SensitivityClassifier::~SensitivityClassifier() = default;

std::expected<std::shared_ptr<const SensitivityClassifier>, SensitivityError>
SensitivityClassifier::create(SensitivityConfig config) {
  if (!(config.min_confidence >= 0.0 && config.min_confidence <= 1.0)) {
    return std::unexpected(SensitivityError{"sensitivity: min_confidence must be in [0, 1]"});
  }
  auto patterns = std::make_unique<CompiledPatterns>();
  std::vector<PatternSpec> specs;
  std::span<const Detector> builtins = sensitivity_detail::builtin_detectors();
  std::vector<PatternSpec> region_specs;
  std::vector<PatternSource> region_sources;
  for (size_t i = 0; i < builtins.size(); ++i) {
    const Detector& d = builtins[i];
    if (d.region_scanned) {
      region_specs.push_back({std::string(d.pattern), d.caseless});
      region_sources.push_back({PatternSource::Kind::builtin, i});
      continue;
    }
    if (d.found_in_code) {
      const auto id = static_cast<unsigned>(patterns->sources.size());
      if (d.name == "aws_access_key") {
        patterns->anchor_ids.aws_access_key = id;
      } else {
        patterns->gazetteer_id = id;
        patterns->gazetteer = std::make_unique<sensitivity_detail::NameGazetteer>(
            sensitivity_detail::first_name_alternation());
      }
      patterns->sources.push_back({PatternSource::Kind::builtin, i});
      continue;
    }
    patterns->main_ids.push_back(static_cast<unsigned>(patterns->sources.size()));
    specs.push_back(
        {std::string(d.pattern), d.caseless, d.find_start == nullptr && !d.start_by_rescan});
    patterns->sources.push_back({PatternSource::Kind::builtin, i});
  }
  for (size_t l = 0; l < config.term_lists.size(); ++l) {
    const CustomTermList& list = config.term_lists[l];
    if (list.name.empty()) {
      return std::unexpected(SensitivityError{
          .message = "sensitivity: term list #" + std::to_string(l) + " has no name",
          .term_list = l});
    }
    for (size_t t = 0; t < list.terms.size(); ++t) {
      if (list.terms[t].empty()) {
        return std::unexpected(SensitivityError{.message = "sensitivity: term list '" + list.name +
                                                           "': term #" + std::to_string(t) +
                                                           " is empty",
                                                .term_list = l});
      }
      specs.push_back({term_pattern(list.terms[t]), !list.case_sensitive});
      patterns->main_ids.push_back(static_cast<unsigned>(patterns->sources.size()));
      patterns->sources.push_back({PatternSource::Kind::term_list, l});
    }
  }
  for (size_t p = 0; p < config.patterns.size(); ++p) {
    const CustomPattern& pattern = config.patterns[p];
    std::string label =
        "sensitivity: custom pattern '" + pattern.name + "' (#" + std::to_string(p) + ")";
    if (pattern.name.empty()) {
      return std::unexpected(SensitivityError{.message = label + " has no name", .pattern = p});
    }
    if (pattern.regex.empty()) {
      return std::unexpected(SensitivityError{.message = label + " is empty", .pattern = p});
    }
    specs.push_back({pattern.regex, pattern.case_insensitive});
    patterns->main_ids.push_back(static_cast<unsigned>(patterns->sources.size()));
    patterns->sources.push_back({PatternSource::Kind::pattern, p});
  }
  auto database = ScanDatabase::compile(specs);
  if (!database) {
    const auto& failure = database.error();
    SensitivityError error{.reason = failure.message};
    std::string message = "sensitivity: vectorscan cannot compile ";
    if (failure.index >= 0 && static_cast<size_t>(failure.index) < patterns->main_ids.size()) {
      const PatternSource& source =
          patterns->sources[patterns->main_ids[static_cast<size_t>(failure.index)]];
      switch (source.kind) {
        case PatternSource::Kind::pattern:
          message += "custom pattern '" + config.patterns[source.index].name + "' (#" +
                     std::to_string(source.index) + ", /" + config.patterns[source.index].regex +
                     "/)";
          error.pattern = source.index;
          break;
        case PatternSource::Kind::term_list:
          message += "a term of list '" + config.term_lists[source.index].name + "'";
          error.term_list = source.index;
          break;
        case PatternSource::Kind::builtin:
          message += "built-in detector '" + std::string(builtins[source.index].name) + "'";
          break;
      }
    } else {
      // The set as a whole (a resource limit): the custom pattern that fails alone is named.
      for (size_t p = 0; p < config.patterns.size(); ++p) {
        const CustomPattern& pattern = config.patterns[p];
        auto alone = ScanDatabase::compile({{pattern.regex, pattern.case_insensitive}});
        if (!alone) {
          error.pattern = p;
          error.reason = alone.error().message;
          error.message = message + "custom pattern '" + pattern.name + "' (#" + std::to_string(p) +
                          ", /" + pattern.regex + "/): " + error.reason;
          return std::unexpected(std::move(error));
        }
      }
      message += "the pattern set";
    }
    error.message = message + ": " + failure.message;
    return std::unexpected(std::move(error));
  }
  patterns->database = std::move(*database);
  patterns->rescan.resize(builtins.size());
  for (size_t i = 0; i < builtins.size(); ++i) {
    if (!builtins[i].start_by_rescan) continue;
    auto single = ScanDatabase::compile({{std::string(builtins[i].pattern), builtins[i].caseless}});
    if (!single) {
      return std::unexpected(SensitivityError{"sensitivity: vectorscan cannot compile built-in "
                                              "detector '" +
                                              std::string(builtins[i].name) +
                                              "': " + single.error().message});
    }
    patterns->rescan[i] = std::move(*single);
  }
  const unsigned region_id_base = static_cast<unsigned>(patterns->sources.size());
  for (uint8_t shape = 1; shape < sensitivity_detail::kShapeAll; shape <<= 1) {
    CompiledPatterns::RegionGroup group;
    group.shape = shape;
    CompiledPatterns::CodeGroup code_group;
    code_group.shape = shape;
    std::vector<PatternSpec> group_specs;
    for (size_t r = 0; r < region_specs.size(); ++r) {
      const Detector& d = builtins[region_sources[r].index];
      if (d.region_shape != shape) continue;
      if (auto code = sensitivity_detail::chain_pattern_for(d)) {
        code_group.matchers.push_back({*code, region_id_base + static_cast<unsigned>(r)});
        continue;
      }
      group_specs.push_back(region_specs[r]);
      group.ids.push_back(region_id_base + static_cast<unsigned>(r));
    }
    if (!code_group.matchers.empty()) patterns->code_groups.push_back(std::move(code_group));
    if (group_specs.empty()) continue;
    auto region_database = ScanDatabase::compile(group_specs);
    if (!region_database) {
      return std::unexpected(SensitivityError{"sensitivity: vectorscan cannot compile the "
                                              "built-in region detectors: " +
                                              region_database.error().message});
    }
    group.database = std::move(*region_database);
    patterns->region_groups.push_back(std::move(group));
  }
  patterns->sources.insert(patterns->sources.end(), region_sources.begin(), region_sources.end());
  CompiledPatterns* compiled = patterns.get();
  std::shared_ptr<const SensitivityClassifier> classifier(
      new SensitivityClassifier(std::move(config), std::move(patterns)));
  for (std::string_view text : kCommonRequestTexts) {
    if (classifier->scan(text).empty()) compiled->clean_texts.insert(text);
  }
  return classifier;
}

std::vector<Finding> SensitivityClassifier::scan(std::string_view text) const {
  if (text.size() <= kCommonRequestTextMax && patterns_->clean_texts.contains(text)) return {};
  std::vector<PatternMatch> matches;
  std::vector<sensitivity_detail::ByteRange> regions;
  std::vector<uint8_t> shapes;  // (region) its RegionShape bits
  sensitivity_detail::find_shaped_regions(text, regions, shapes);
  // Room for the usual number of candidates (a few per region, one per ~1 KB of prose) up
  // front on long texts: growing the vector copied it a dozen times there. (Short texts
  // mostly have none: no allocation for them.)
  if (text.size() >= 16384) matches.reserve(4 * regions.size() + text.size() / 1024);
  bool scanned = patterns_->database->scan(text, matches);
  for (PatternMatch& m : matches) m.id = patterns_->main_ids[m.id];
  const size_t database_count = matches.size();
  if (patterns_->gazetteer) patterns_->gazetteer->find(text, patterns_->gazetteer_id, matches);
  if (patterns_->anchor_ids.aws_access_key != sensitivity_detail::AnchorIds::kNone) {
    sensitivity_detail::find_anchored(text, patterns_->anchor_ids, matches);
  }
  if (scanned && !regions.empty()) {
    // Per shape, its regions joined by '\n' (no region pattern can match it, and it is a
    // non-word byte like the bytes around each region) and scanned in one call: one call per
    // region costs more in vectorscan's per-call setup than the scan itself. There is no
    // pass without start tracking first: the shape check leaves few regions where nothing
    // matches, so it cost more (8% of the scan's instructions) than it saved.
    std::string joined;
    std::vector<size_t> starts;  // (region of the group) where it begins in `joined`
    std::vector<size_t> members;  // (region of the group) its index in `regions`
    for (const CompiledPatterns::RegionGroup& group : patterns_->region_groups) {
      joined.clear();
      starts.clear();
      members.clear();
      for (size_t r = 0; r < regions.size(); ++r) {
        if (!(shapes[r] & group.shape)) continue;
        if (!joined.empty()) joined.push_back('\n');
        starts.push_back(joined.size());
        members.push_back(r);
        joined.append(text.substr(regions[r].begin, regions[r].end - regions[r].begin));
      }
      if (joined.empty()) continue;
      size_t first = matches.size();
      scanned = group.database->scan(joined, matches);
      if (!scanned) break;
      for (size_t i = first; i < matches.size(); ++i) {
        PatternMatch& m = matches[i];
        size_t k = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), m.begin) -
                                       starts.begin()) -
                   1;
        const sensitivity_detail::ByteRange& region = regions[members[k]];
        m.id = group.ids[m.id];
        m.begin = m.begin - starts[k] + region.begin;
        m.end = m.end - starts[k] + region.begin;
      }
    }
  }
  if (scanned) {
    for (const CompiledPatterns::CodeGroup& group : patterns_->code_groups) {
      for (size_t r = 0; r < regions.size(); ++r) {
        if (shapes[r] & group.shape) {
          sensitivity_detail::match_chains(text, regions[r], group.matchers, matches);
        }
      }
    }
  }
  std::span<const Detector> builtins = sensitivity_detail::builtin_detectors();
  std::vector<size_t> rescanned;  // (match) indices of start_by_rescan matches, by detector
  for (size_t i = 0; i < database_count; ++i) {
    const PatternSource& source = patterns_->sources[matches[i].id];
    if (source.kind != PatternSource::Kind::builtin) continue;
    const Detector& d = builtins[source.index];
    if (d.find_start) matches[i].begin = d.find_start(text, matches[i].end);
    if (d.start_by_rescan) rescanned.push_back(i);
  }
  std::sort(rescanned.begin(), rescanned.end(), [&](size_t a, size_t b) {
    if (matches[a].id != matches[b].id) return matches[a].id < matches[b].id;
    return matches[a].end < matches[b].end;
  });
  for (size_t a = 0; a < rescanned.size();) {
    size_t b = a;
    while (b < rescanned.size() && matches[rescanned[b]].id == matches[rescanned[a]].id) ++b;
    size_t detector = patterns_->sources[matches[rescanned[a]].id].index;
    rescan_starts(*patterns_->rescan[detector], text,
                  std::span<const size_t>(rescanned).subspan(a, b - a), matches);
    a = b;
  }
  // A rescan that found no start (cannot happen unless the window cut the match) drops it.
  std::erase_if(matches, [](const PatternMatch& m) { return m.begin >= m.end; });
  if (!scanned) {
    // Fail closed: text we could not scan counts as unscannable content.
    return {Finding{FindingType::unscannable,
                    "scan_failed",
                    0,
                    text.size(),
                    1.0,
                    config_.level_of(FindingType::unscannable),
                    {},
                    false}};
  }
  // A pattern reports every end it can stop at, each with the leftmost start: validate the
  // longest few ends per (pattern, start) and keep the first that passes. This bounds the
  // validators' work on hostile text (a megabyte-long "token") to a constant per start.
  constexpr int kEndsPerStart = 4;
  // Ordered by (id, begin, end descending): distributed by id first (a counting sort: one pass,
  // no comparisons), then each id's matches ordered, which arrive nearly in order (by end).
  // One std::sort of the whole list was ~6% of a scan's time in mispredicted comparisons.
  // (Equal matches are indistinguishable, so the order is the one std::sort gave.)
  if (matches.size() <= 64) {  // short texts: one small sort, no buffers
    std::sort(matches.begin(), matches.end(), [&](const PatternMatch& a, const PatternMatch& b) {
      if (a.id != b.id) return a.id < b.id;
      return before_by_begin(a, b);
    });
  } else {
    std::vector<size_t> first(patterns_->sources.size() + 1, 0);  // (id) its first slot
    for (const PatternMatch& m : matches) ++first[m.id + 1];
    for (size_t id = 1; id < first.size(); ++id) first[id] += first[id - 1];
    std::vector<PatternMatch> by_id(matches.size());
    std::vector<size_t> next(first.begin(), first.end() - 1);  // (id) its next free slot
    for (const PatternMatch& m : matches) by_id[next[m.id]++] = m;
    for (size_t id = 0; id + 1 < first.size(); ++id) {
      auto from = by_id.begin() + static_cast<std::ptrdiff_t>(first[id]);
      auto to = by_id.begin() + static_cast<std::ptrdiff_t>(first[id + 1]);
      order_by_begin(from, to);
    }
    matches.swap(by_id);
  }
  std::vector<Candidate> findings;
  // About one finding per two matches on digit-dense text: growing from empty copied it often.
  if (matches.size() >= 64) findings.reserve(matches.size() / 2);
  int tried = 0;
  bool settled = false;
  for (size_t i = 0; i < matches.size(); ++i) {
    const PatternMatch& m = matches[i];
    if (i == 0 || m.id != matches[i - 1].id || m.begin != matches[i - 1].begin) {
      tried = 0;
      settled = false;
    }
    if (settled || tried >= kEndsPerStart) continue;
    ++tried;
    const PatternSource& source = patterns_->sources[m.id];
    switch (source.kind) {
      case PatternSource::Kind::builtin: {
        const Detector& d = builtins[source.index];
        size_t end = d.extend ? d.extend(text, m.end) : m.end;
        auto hit = d.validate(text, m.begin, end);
        if (!hit || hit->end <= hit->begin) break;
        findings.push_back(
            {d.type, config_.level_of(d.type), hit->confidence, hit->begin, hit->end, d.name});
        settled = true;
        break;
      }
      case PatternSource::Kind::term_list: {
        const CustomTermList& list = config_.term_lists[source.index];
        findings.push_back({FindingType::custom_term, list.level, 1.0, m.begin, m.end, list.name});
        settled = true;
        break;
      }
      case PatternSource::Kind::pattern: {
        const CustomPattern& pattern = config_.patterns[source.index];
        findings.push_back(
            {FindingType::custom_pattern, pattern.level, 1.0, m.begin, m.end, pattern.name});
        settled = true;
        break;
      }
    }
  }
  merge_same_type(findings);
  drop_contained(findings);
  // By begin, then type: drop_contained left them by begin, so only each run of one begin
  // (rare: a phone and a card from one digit) needs ordering.
  for (auto a = findings.begin(); a != findings.end();) {
    auto b = a + 1;
    while (b != findings.end() && b->begin == a->begin) ++b;
    if (b - a > 1) {
      std::stable_sort(a, b,
                       [](const Candidate& x, const Candidate& y) { return x.type < y.type; });
    }
    a = b;
  }
  std::vector<Finding> out;
  out.reserve(findings.size());
  for (const Candidate& c : findings) {
    out.push_back(Finding{
        c.type, std::string(c.detector), c.begin, c.end, c.confidence, c.level, {}, false});
  }
  return out;
}

SensitivityLevel SensitivityClassifier::level_of(const std::vector<Finding>& findings) const {
  SensitivityLevel level = SensitivityLevel::public_;
  for (const Finding& f : findings) {
    if (f.confidence >= config_.min_confidence) level = std::max(level, f.level);
  }
  return level;
}

}  // namespace sy::policies
