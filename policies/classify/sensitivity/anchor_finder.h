#pragma once
// Two main-database patterns found in code instead of by vectorscan, both anchored on a rare
// pair of bytes that one SIMD pass over the text finds:
//   email            [A-Za-z0-9._%+\-]+@[A-Za-z0-9]      at each '@'
//   aws_access_key   \b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b   at each "A[KSBC3]"
// In the main database they cost ~25% of its time (the email's leading class and the key's
// 'A'-led literals fire all over ordinary text); here a candidate costs a few byte reads.
// The matches are the patterns' own: one per end offset; the email's start is what the
// detector's start finder gives for that end (the local part's leftmost start, capped as it
// always was), the key's is its fixed 20-byte start (anchor_finder_test.cpp holds both to
// vectorscan on generated text).

#include <cstddef>
#include <string_view>
#include <vector>

#include "classify/sensitivity/scan_database.h"

namespace sy::policies::sensitivity_detail {

// The patterns the finder implements, as in the detector table: a detector whose pattern is
// not exactly one of these stays in the vectorscan database.
inline constexpr std::string_view kEmailPattern = R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9])";
inline constexpr std::string_view kAwsAccessKeyPattern =
    R"(\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b)";

struct AnchorIds {
  // Pattern ids to report, or kNone to skip the pattern.
  static constexpr unsigned kNone = ~0u;
  unsigned email = kNone;
  unsigned aws_access_key = kNone;
};

// The email's leftmost start for a match ending at `end` (the detector's find_start).
size_t email_start(std::string_view text, size_t end);

// Appends {id, begin, end} for every match of the two patterns in `text`; each pattern's in
// increasing end order.
void find_anchored(std::string_view text, const AnchorIds& ids, std::vector<PatternMatch>& out);

// Tests only: false makes the finder use its byte loop where the CPU has AVX2 (both must agree).
void allow_avx2_for_anchors(bool allowed);

}  // namespace sy::policies::sensitivity_detail
