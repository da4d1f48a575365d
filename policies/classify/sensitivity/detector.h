#pragma once
// A built-in detector: one vectorscan pattern that proposes candidates and one validator that
// accepts, narrows or rejects each. Patterns are written for vectorscan (no lookaround, no
// backreferences) and matched with leftmost start-of-match, so a candidate's span is
// [leftmost start, an end the pattern can stop at]; a validator may narrow it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "switchyard/policies/classify/sensitivity_types.h"

namespace sy::policies::sensitivity_detail {

struct Hit {
  size_t begin = 0;  // byte span in the whole scanned text
  size_t end = 0;
  double confidence = 0.0;
};

// `text` is the whole scanned string (validators may look at context around the candidate);
// [begin, end) is the candidate. Returns the accepted (possibly narrowed) span or nullopt.
using Validator = std::optional<Hit> (*)(std::string_view text, size_t begin, size_t end);

// Where a candidate's variable-length tail stops, given the end the pattern matched. A pattern
// matches only a short fixed-length head of a long value (a token's first characters) and the
// extender runs on to the value's end: unbounded repeats with start-of-match tracking made
// vectorscan tens of times slower and reported one match per possible end.
using Extender = size_t (*)(std::string_view text, size_t end);

struct Detector {
  FindingType type;
  std::string_view name;     // reported as Finding::detector
  std::string_view pattern;  // vectorscan syntax
  bool caseless = false;
  Validator validate = nullptr;
  Extender extend = nullptr;  // optional
  // Set by the table, not per entry: the pattern cannot match outside a digit region (see
  // digit_regions.h), so it is compiled into the region database and scanned only there.
  bool region_scanned = false;
  // Set by the table for region-scanned detectors: the RegionShape (digit_regions.h) every
  // region holding one of its findings has.
  uint8_t region_shape = 0;
  // Optional: the pattern is compiled without start-of-match tracking (expensive in
  // vectorscan for a leading unbounded class) and this finds the leftmost start in code.
  size_t (*find_start)(std::string_view text, size_t end) = nullptr;
  // Set by the table: compiled without start-of-match tracking in the main database; the start
  // of each (rare) match is found by rescanning a window before its end with this pattern
  // alone, tracking the start there (leading unbounded classes make tracking expensive in a
  // whole-text scan). No built-in uses it now (the street patterns, its users, find their
  // starts in code: detector_table.cpp); kept for a pattern without a start finder.
  bool start_by_rescan = false;
  // Set by the table for the first-name gazetteer, email and AWS access key: not compiled into
  // any database; their matches come from code that finds exactly the pattern's
  // (NameGazetteer in name_gazetteer.h, find_anchored in anchor_finder.h).
  bool found_in_code = false;
};

// Every built-in detector, in a fixed order (a detector's index is its vectorscan id).
std::span<const Detector> builtin_detectors();

}  // namespace sy::policies::sensitivity_detail
