#pragma once
// What SensitivityClassifier keeps behind its pimpl: the vectorscan database and, for each
// pattern id in it, where the pattern came from (a built-in detector or a tenant's list).

#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "classify/sensitivity/anchor_finder.h"
#include "classify/sensitivity/chain_matchers.h"
#include "classify/sensitivity/name_gazetteer.h"
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
  // the whole text. Region databases: the literal-less built-ins, scanned over digit regions.
  std::unique_ptr<ScanDatabase> database;
  // One region database per RegionShape, each holding that shape's detectors; a region is
  // scanned by the databases of the shapes it has. `ids` maps a group's pattern index to its
  // id in `sources`.
  struct RegionGroup {
    uint8_t shape = 0;
    std::unique_ptr<ScanDatabase> database;
    std::vector<unsigned> ids;
  };
  std::vector<RegionGroup> region_groups;
  // Region detectors matched in code (chain_matchers.h) in place of a region database: per
  // RegionShape, its detectors' matchers, run over the regions of that shape; ids as in
  // `sources`.
  struct CodeGroup {
    uint8_t shape = 0;
    std::vector<ChainMatcher> matchers;
  };
  std::vector<CodeGroup> code_groups;
  // By pattern id: main database ids first, then the region detectors' ids.
  std::vector<PatternSource> sources;
  // By main-database pattern index: its id in `sources` (the gazetteer has an id there but no
  // pattern in the database).
  std::vector<unsigned> main_ids;
  std::unique_ptr<NameGazetteer> gazetteer;
  unsigned gazetteer_id = 0;
  // The AWS access key matches found by find_anchored (anchor_finder.h): their id in
  // `sources`, kNone when the key is not found in code.
  AnchorIds anchor_ids;
  // Common JSON member names and values of chat requests ("role", "content", "user", ...) that
  // this classifier finds nothing in, checked once at creation: the request walk scans every
  // key and value, and for these the answer is known (a tenant term may make one a finding,
  // and then it is not here).
  std::unordered_set<std::string_view> clean_texts;
  // By built-in index: the pattern alone with start tracking, for Detector::start_by_rescan.
  std::vector<std::unique_ptr<ScanDatabase>> rescan;
};

}  // namespace sy::policies::sensitivity_detail
