#pragma once
// The first-name gazetteer's candidates found in code instead of by vectorscan: every match of
// `\b(?:NAME|NAME|...)[ ][A-Z][a-z]{2}` (the name_gazetteer detector's pattern) with its
// leftmost start. In the main database this one pattern (~200 names) cost a third of the
// database's time; here a SIMD pass finds " Xyy" (a space, a capital, two lower-case letters)
// and only those positions are looked up.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "classify/sensitivity/scan_database.h"

namespace sy::policies::sensitivity_detail {

class NameGazetteer {
 public:
  // `alternation`: the names joined by '|' (first_name_alternation()); names are matched
  // case-sensitively, as the pattern is.
  explicit NameGazetteer(std::string_view alternation);

  // Appends {id, begin, end} for every match in `text`, in increasing end order.
  void find(std::string_view text, unsigned id, std::vector<PatternMatch>& out) const;

 private:
  std::vector<std::string> names_;
  std::unordered_set<std::string_view> set_;
  std::vector<size_t> lengths_;  // distinct name lengths in bytes, longest first
  std::array<bool, 256> last_byte_{};  // bytes some name ends with
  bool ends_lower_ = true;             // every name ends with a lower-case letter or a UTF-8 byte
  // (byte) bit L set: some name of L bytes (L < 64) starts / ends with the byte. A candidate
  // start is looked up only where both ends fit a name of that length.
  std::array<uint64_t, 256> lengths_by_first_{};
  std::array<uint64_t, 256> lengths_by_last_{};
};

}  // namespace sy::policies::sensitivity_detail
