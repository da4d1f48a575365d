#pragma once
// The digit-chain detectors' patterns matched in code instead of a vectorscan database: cards,
// US SSN, "00" international and NANP and national phones, NHS, DE tax ID, Aadhaar, CA SIN.
// Each is a layout of digit groups (how many digits, which separators between groups, where),
// so a region's digit groups say where each can match without running an automaton over its
// bytes. For each pattern the matches are exactly vectorscan's with leftmost start of match
// over the region scanned alone: one per end offset, with the leftmost start for that end
// (chain_matchers_test.cpp checks this against the patterns on random digit-heavy text).

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "classify/sensitivity/detector.h"
#include "classify/sensitivity/digit_regions.h"
#include "classify/sensitivity/scan_database.h"

namespace sy::policies::sensitivity_detail {

enum class ChainPattern : uint8_t {
  card,      // \b\d(?:[ \-]?\d){11,18}\b
  ssn,       // \b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b
  phone_00,  // \b00[1-9](?:[ .\-]?\d){6,15}\b
  nanp,      // (?:\b|\()[2-9]\d{2}\)?[ .\-]\d{3}[ .\-]\d{4}\b
  national,  // \b0\d{1,4}[ /\-]\d{2,4}(?:[ \-]?\d{2,4}){0,3}\b
  nhs,       // \b\d{3}[ \-]?\d{3}[ \-]?\d{4}\b
  de_tax,    // \b[1-9]\d(?: ?\d{3}){3}\b
  aadhaar,   // \b[2-9]\d{3}[ \-]?\d{4}[ \-]?\d{4}\b
  ca_sin,    // \b\d{3}[ \-]?\d{3}[ \-]?\d{3}\b
  // Two capitals then digits (RegionShape kShapeCapitals), matched on the region's bytes:
  iban,     // \b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b
  uk_nino,  // \b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b
};

// The code matcher for a built-in detector, when its pattern is exactly one of the above
// (compared as text, so an edited pattern falls back to vectorscan).
std::optional<ChainPattern> chain_pattern_for(const Detector& detector);

struct ChainMatcher {
  ChainPattern pattern;
  unsigned id;  // reported as PatternMatch::id
};

// Appends every match of `matchers` inside `region` of `text` (the bytes just outside the
// region are taken as non-word, as they are: regions sit next to non-word bytes).
void match_chains(std::string_view text, const ByteRange& region,
                  const std::vector<ChainMatcher>& matchers, std::vector<PatternMatch>& out);

}  // namespace sy::policies::sensitivity_detail
