#pragma once
// A main-database pattern found in code instead of by vectorscan, anchored on a rare pair of
// bytes that one SIMD pass over the text finds:
//   aws_access_key   \b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b   at each "A[KSBC3]"
// In the main database the key's 'A'-led literals fire all over ordinary text; here a
// candidate costs a few byte reads. The matches are the pattern's own: one per end offset,
// each with its fixed 20-byte start (anchor_finder_test.cpp holds them to vectorscan on
// generated text). The email pattern was tried here too and stays in vectorscan
// (detector_table.cpp says why).

#include <cstddef>
#include <string_view>
#include <vector>

#include "classify/sensitivity/scan_database.h"

namespace sy::policies::sensitivity_detail {

// The pattern the finder implements, as in the detector table: a detector whose pattern is
// not exactly this stays in the vectorscan database.
inline constexpr std::string_view kAwsAccessKeyPattern =
    R"(\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b)";

struct AnchorIds {
  // Pattern ids to report, or kNone to skip the pattern.
  static constexpr unsigned kNone = ~0u;
  unsigned aws_access_key = kNone;
};

// Appends {id, begin, end} for every match of the pattern in `text`, in increasing end order.
void find_anchored(std::string_view text, const AnchorIds& ids, std::vector<PatternMatch>& out);

// Tests only: false makes the finder use its byte loop where the CPU has AVX2 (both must agree).
void allow_avx2_for_anchors(bool allowed);

}  // namespace sy::policies::sensitivity_detail
