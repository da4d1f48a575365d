#pragma once
// What SensitivityClassifier keeps behind its pimpl: the vectorscan database and, for each
// pattern id in it, where the pattern came from (a built-in detector or a tenant's list).

#include <memory>
#include <vector>

#include "classify/sensitivity/scan_database.h"

namespace sy::policies::sensitivity_detail {

struct PatternSource {
  enum class Kind { builtin, term_list, pattern };
  Kind kind;
  size_t index;  // into builtin_detectors(), config.term_lists or config.patterns
};

class CompiledPatterns {
 public:
  // Main database: literal-anchored built-ins and every tenant term and pattern, scanned over
  // the whole text. Region database: the literal-less built-ins, scanned over digit regions.
  std::unique_ptr<ScanDatabase> database;
  std::unique_ptr<ScanDatabase> region_database;
  std::unique_ptr<ScanDatabase> region_filter;  // the same patterns without start tracking
  // By pattern id: main database ids first, then region ids offset by region_id_base.
  std::vector<PatternSource> sources;
  unsigned region_id_base = 0;
  // By built-in index: the pattern alone with start tracking, for Detector::start_by_rescan.
  std::vector<std::unique_ptr<ScanDatabase>> rescan;
};

}  // namespace sy::policies::sensitivity_detail
