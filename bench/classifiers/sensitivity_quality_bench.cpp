// Detector quality of SensitivityClassifier (default configuration) on the committed labeled
// sets made by scripts/gen_pii_labels.mjs: precision, recall and F2 per entity type, the micro
// F2 over checksum-validated types, and recall/precision of the request-level question "does
// this text contain restricted data". Nothing is fitted here; report the held-out split.
// Usage: bench_sensitivity_quality [FILE=tests/data/pii/held_out.jsonl] [--misses]
//   --misses  also prints every false negative and false positive (use it on fit.jsonl)

#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "switchyard/policies/classify/sensitivity_classifier.h"

namespace {

using sy::policies::Finding;
using sy::policies::FindingType;
using sy::policies::SensitivityLevel;

struct Counts {
  size_t tp = 0, fp = 0, fn = 0;
};

double ratio(size_t a, size_t b) { return b == 0 ? 0.0 : static_cast<double>(a) / b; }

void print_row(const std::string& name, const Counts& c) {
  double p = ratio(c.tp, c.tp + c.fp);
  double r = ratio(c.tp, c.tp + c.fn);
  double f2 = (4 * p + r) == 0 ? 0.0 : 5 * p * r / (4 * p + r);
  std::printf("%-28s %6zu %6zu %6zu %9.3f %7.3f %7.3f\n", name.c_str(), c.tp, c.fp, c.fn, p, r,
              f2);
}

bool overlaps(size_t b1, size_t e1, size_t b2, size_t e2) { return b1 < e2 && b2 < e1; }

}  // namespace

int main(int argc, char** argv) {
  std::string file = "tests/data/pii/held_out.jsonl";
  bool misses = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--misses") == 0) {
      misses = true;
    } else {
      file = argv[i];
    }
  }
  std::ifstream in(file);
  if (!in) {
    std::fprintf(stderr, "cannot open %s (run from the repository root)\n", file.c_str());
    return 1;
  }
  auto created = sy::policies::SensitivityClassifier::create({});
  if (!created) {
    std::fprintf(stderr, "%s\n", created.error().message.c_str());
    return 1;
  }
  const auto& classifier = **created;
  const double min_conf = classifier.config().min_confidence;

  // Checksum-validated types: their validity rests on a check digit or checksum (UK NINO, a
  // national_id without one, is format-validated and counted here with its type).
  const std::set<std::string> checksum_types = {"payment_card", "iban", "national_id",
                                                "crypto_address"};
  std::map<std::string, Counts> per_type;
  Counts checksum_micro;
  Counts request;  // positive = restricted
  size_t rows = 0, negatives = 0, negatives_hit = 0, invalid = 0, invalid_hit = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++rows;
    nlohmann::json row = nlohmann::json::parse(line);
    const std::string text = row["text"];
    std::vector<Finding> all = classifier.scan(text);
    std::vector<Finding> findings;  // the ones that count: at or above min_confidence
    for (const Finding& f : all) {
      if (f.confidence >= min_conf) findings.push_back(f);
    }
    std::vector<bool> finding_matched(findings.size(), false);
    for (const auto& e : row["entities"]) {
      const std::string type = e["type"];
      size_t b = e["start"], en = e["end"];
      bool hit = false;
      for (size_t i = 0; i < findings.size(); ++i) {
        if (std::string(to_string(findings[i].type)) == type &&
            overlaps(b, en, findings[i].begin, findings[i].end)) {
          hit = true;
          finding_matched[i] = true;
        }
      }
      Counts& c = per_type[type];
      (hit ? c.tp : c.fn)++;
      if (checksum_types.contains(type)) (hit ? checksum_micro.tp : checksum_micro.fn)++;
      if (!hit && misses) {
        std::printf("FN %-16s %-40s | %s\n", type.c_str(), text.substr(b, en - b).c_str(),
                    row["id"].dump().c_str());
      }
    }
    for (size_t i = 0; i < findings.size(); ++i) {
      if (finding_matched[i]) continue;
      std::string type(to_string(findings[i].type));
      per_type[type].fp++;
      if (checksum_types.contains(type)) checksum_micro.fp++;
      if (misses) {
        std::printf("FP %-16s %-40s | %s %s %.2f\n", type.c_str(),
                    text.substr(findings[i].begin, findings[i].end - findings[i].begin).c_str(),
                    row["id"].dump().c_str(), findings[i].detector.c_str(),
                    findings[i].confidence);
      }
    }
    for (const auto& n : row["negatives"]) {
      size_t b = n["start"], en = n["end"];
      bool is_invalid = n["kind"] == "checksum_invalid" || n["kind"] == "invalid_area";
      bool hit = false;
      for (const Finding& f : findings) {
        if (!overlaps(b, en, f.begin, f.end)) continue;
        if (is_invalid ? n["type"] == to_string(f.type) : true) hit = true;
      }
      (is_invalid ? invalid : negatives)++;
      if (hit) (is_invalid ? invalid_hit : negatives_hit)++;
    }
    bool truth = row["restricted"];
    bool predicted = classifier.level_of(all) == SensitivityLevel::restricted;
    if (truth && predicted) request.tp++;
    if (!truth && predicted) request.fp++;
    if (truth && !predicted) request.fn++;
    if (misses && truth != predicted) {
      std::printf("REQ %s restricted=%d predicted=%d | %s\n", row["id"].dump().c_str(), truth,
                  predicted, text.c_str());
    }
  }

  std::printf("sensitivity detector quality on %s (%zu texts), default SensitivityConfig\n",
              file.c_str(), rows);
  std::printf(
      "matching: a labeled entity is found (TP) when a finding of the same type with confidence "
      ">= %.2f overlaps its byte span, else FN; a finding (confidence >= %.2f) overlapping no "
      "labeled entity of its type is FP (findings below the threshold are ignored, as for the "
      "level). F2 = 5PR/(4P+R). Request level: predicted restricted = level_of(scan(text)) == "
      "restricted; truth = a payment_card, iban, us_ssn, national_id or secret entity labeled.\n",
      min_conf, min_conf);
  std::printf("%-28s %6s %6s %6s %9s %7s %7s\n", "type", "TP", "FP", "FN", "precision", "recall",
              "F2");
  for (const auto& [type, c] : per_type) print_row(type, c);
  print_row("checksum-validated (micro)", checksum_micro);
  print_row("request: restricted", request);
  std::printf("checksum-invalid look-alikes reported as their type: %zu of %zu\n", invalid_hit,
              invalid);
  std::printf("other look-alikes (orders, timestamps, UUIDs, hashes, versions, tracking, amounts) "
              "overlapped by any finding: %zu of %zu\n",
              negatives_hit, negatives);
  double p = ratio(request.tp, request.tp + request.fp);
  double r = ratio(request.tp, request.tp + request.fn);
  double pc = ratio(checksum_micro.tp, checksum_micro.tp + checksum_micro.fp);
  double rc = ratio(checksum_micro.tp, checksum_micro.tp + checksum_micro.fn);
  double f2c = (4 * pc + rc) == 0 ? 0.0 : 5 * pc * rc / (4 * pc + rc);
  std::printf("targets: checksum-validated F2 >= 0.95: %s (%.3f); request recall >= 0.98 at "
              "precision >= 0.9: %s (recall %.3f, precision %.3f)\n",
              f2c >= 0.95 ? "met" : "NOT met", f2c, r >= 0.98 && p >= 0.9 ? "met" : "NOT met", r,
              p);
  return 0;
}
