// bench_difficulty: the difficulty classifier on the committed labeled set
// (policies/classify/difficulty/data/*.jsonl).
//
//   bench_difficulty features DATA.jsonl
//       one JSON line per row: {id, label, split, features: {name: value}}. The fitting script
//       (scripts/fit_difficulty.py) reads these, so the gateway's extractor is the only one.
//   bench_difficulty evaluate DATA.jsonl [--policy POLICY.yaml] [--split heldout|fit|all]
//       AUC of the score (hard vs easy) beside a prompt-length-only baseline computed in the same
//       run, and the cost/quality curve: share kept local vs share of hard prompts caught.
//   bench_difficulty speed [RUNS [BYTES]]
//       classify() p50/p99 (wall clock and thread CPU time) for 1, 2, 8 and 64 KB prompts of
//       cue-dense text and of plain prose.
//
// Rows labeled both_wrong (neither model right) are left out of AUC and curves: no routing
// choice helps them (policies/classify/difficulty/data/README.md).

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "switchyard/backends/openai_json.h"
#include "switchyard/policies/classify/difficulty_classifier.h"
#include "switchyard/policies/rules/policy_loader.h"

namespace {

using nlohmann::json;
using sy::policies::DifficultyClassifier;
using sy::policies::DifficultyConfig;
using sy::policies::DifficultyVector;
using sy::policies::kDifficultyFeatureNames;

struct Row {
  std::string id;
  std::string label;  // easy | hard | both_wrong
  std::string split;  // fit | heldout
  std::string task;   // the benchmark the prompt came from ("" when the row does not say)
  DifficultyVector features{};
  double chars = 0;  // prompt characters: the baseline's score
};

std::vector<Row> read_rows(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::vector<Row> rows;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    const json j = json::parse(line);
    auto chat = sy::backends::openai::parse_chat_request(j.at("request").dump());
    if (!chat) {
      throw std::runtime_error(path + ":" + std::to_string(number) + ": " + chat.error().message);
    }
    Row row;
    row.id = j.at("id").get<std::string>();
    row.label = j.at("label").get<std::string>();
    row.split = j.at("split").get<std::string>();
    row.task = j.value("task", "");
    row.features = sy::policies::extract_difficulty_features(*chat);
    for (const auto& m : chat->messages) row.chars += static_cast<double>(m.text().size());
    rows.push_back(std::move(row));
  }
  return rows;
}

// Mann-Whitney AUC (ties count half) and its Hanley-McNeil standard error.
struct Auc {
  double auc = 0;
  double se = 0;
};
Auc auc(const std::vector<double>& hard, const std::vector<double>& easy) {
  if (hard.empty() || easy.empty()) return {};
  double wins = 0;
  for (double h : hard) {
    for (double e : easy) wins += h > e ? 1.0 : (h == e ? 0.5 : 0.0);
  }
  const double n1 = static_cast<double>(hard.size()), n2 = static_cast<double>(easy.size());
  const double a = wins / (n1 * n2);
  const double q1 = a / (2 - a), q2 = 2 * a * a / (1 + a);
  const double var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a)) / (n1 * n2);
  return {a, std::sqrt(std::max(0.0, var))};
}

// Share of hard prompts caught when the `local_share` lowest-scored prompts stay local.
double caught_at(const std::vector<std::pair<double, bool>>& scored, double local_share) {
  std::vector<std::pair<double, bool>> sorted = scored;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const size_t local = static_cast<size_t>(std::round(local_share * sorted.size()));
  size_t hard = 0, caught = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (!sorted[i].second) continue;
    ++hard;
    if (i >= local) ++caught;
  }
  return hard == 0 ? 0 : static_cast<double>(caught) / hard;
}

// First line: {"feature_names": [...]} in the classifier's order; then one row per line with
// "features" as an array in that order (the fitting script writes weights in the same order).
int features(const std::string& path) {
  json names = json::array();
  for (std::string_view name : kDifficultyFeatureNames) names.push_back(name);
  std::cout << json{{"feature_names", names}}.dump() << "\n";
  for (const Row& row : read_rows(path)) {
    json f = json::array();
    for (double v : row.features) f.push_back(v);
    std::cout
        << json{{"id", row.id}, {"label", row.label}, {"split", row.split}, {"features", f}}.dump()
        << "\n";
  }
  return 0;
}

int evaluate(const std::string& path, const std::string& policy_path, const std::string& split) {
  DifficultyConfig config = DifficultyConfig::defaults();
  if (!policy_path.empty()) config = sy::policies::load_policy_file(policy_path)->difficulty;
  const DifficultyClassifier classifier(config);

  std::vector<double> hard_scores, easy_scores, hard_chars, easy_chars;
  std::vector<std::pair<double, bool>> by_score, by_chars;
  // Per task: [hard scores, easy scores, hard chars, easy chars]. Within one task the surface
  // of the prompts is alike, so this shows how much of the AUC is only "which task is it".
  std::map<std::string, std::array<std::vector<double>, 4>> by_task;
  size_t both_wrong = 0;
  std::array<std::array<size_t, 3>, 2> confusion{};  // [hard?][easy, medium, hard]
  const std::vector<Row> rows = read_rows(path);
  // A second reference: each prompt scored by its task's share of hard prompts on the fit split
  // ("knows which benchmark a prompt comes from, nothing else"), so the classifier's AUC can be
  // told apart from task recognition.
  std::map<std::string, std::array<double, 2>> task_fit;  // task -> [hard, easy+hard]
  for (const Row& row : rows) {
    if (row.split != "fit" || row.label == "both_wrong") continue;
    auto& t = task_fit[row.task];
    t[0] += row.label == "hard" ? 1 : 0;
    t[1] += 1;
  }
  std::vector<double> hard_prior, easy_prior;
  for (const Row& row : rows) {
    if (split != "all" && row.split != split) continue;
    if (row.label == "both_wrong") {
      ++both_wrong;
      continue;
    }
    const bool hard = row.label == "hard";
    const auto result = classifier.score(row.features);
    (hard ? hard_scores : easy_scores).push_back(result.score);
    (hard ? hard_chars : easy_chars).push_back(row.chars);
    by_score.emplace_back(result.score, hard);
    by_chars.emplace_back(row.chars, hard);
    auto& task = by_task[row.task];
    task[hard ? 0 : 1].push_back(result.score);
    task[hard ? 2 : 3].push_back(row.chars);
    ++confusion[hard ? 1 : 0][static_cast<size_t>(result.difficulty)];
    const auto fit = task_fit.find(row.task);
    const double prior = fit == task_fit.end() ? 0.5 : fit->second[0] / fit->second[1];
    (hard ? hard_prior : easy_prior).push_back(prior);
  }
  const Auc model = auc(hard_scores, easy_scores);
  const Auc length = auc(hard_chars, easy_chars);
  std::printf(
      "difficulty on %s split of %s%s\n", split.c_str(), path.c_str(),
      policy_path.empty() ? " (shipped weights)" : (" (weights of " + policy_path + ")").c_str());
  std::printf("  prompts: %zu easy, %zu hard, %zu both wrong (left out)\n", easy_scores.size(),
              hard_scores.size(), both_wrong);
  std::printf("  AUC classifier      %.3f (+/- %.3f, 1 s.e.)\n", model.auc, model.se);
  std::printf("  AUC length baseline %.3f (+/- %.3f, 1 s.e.); reversed (shorter = harder) %.3f\n",
              length.auc, length.se, 1 - length.auc);
  const Auc prior = auc(hard_prior, easy_prior);
  std::printf(
      "  AUC task prior      %.3f (+/- %.3f, 1 s.e.): the fit split's hard share of the "
      "prompt's task\n",
      prior.auc, prior.se);
  if (by_task.size() > 1) {
    for (const auto& [name, v] : by_task) {
      const Auc m = auc(v[0], v[1]), l = auc(v[2], v[3]);
      std::printf("    %-14s %3zu easy %3zu hard: classifier %.3f (+/- %.3f), length %.3f\n",
                  name.c_str(), v[1].size(), v[0].size(), m.auc, m.se, l.auc);
    }
  }
  std::printf(
      "  classes: easy prompts -> easy %zu / medium %zu / hard %zu; "
      "hard prompts -> easy %zu / medium %zu / hard %zu\n",
      confusion[0][0], confusion[0][1], confusion[0][2], confusion[1][0], confusion[1][1],
      confusion[1][2]);
  std::printf("  cost/quality: kept local | hard caught by classifier | by length baseline\n");
  for (double share : {0.5, 0.6, 0.7, 0.8, 0.9}) {
    std::printf("                %5.0f%%    | %5.1f%%                     | %5.1f%%\n", 100 * share,
                100 * caught_at(by_score, share), 100 * caught_at(by_chars, share));
  }
  std::printf("  thresholds (medium %.3f, hard %.3f):\n", config.medium_threshold,
              config.hard_threshold);
  for (double t : {config.medium_threshold, config.hard_threshold}) {
    size_t local = 0, hard = 0, caught = 0;
    for (const auto& [score, is_hard] : by_score) {
      if (score < t) ++local;
      if (is_hard) {
        ++hard;
        if (score >= t) ++caught;
      }
    }
    std::printf("    frontier at score >= %.3f: %.1f%% kept local, %.1f%% of hard caught\n", t,
                by_score.empty() ? 0.0 : 100.0 * local / by_score.size(),
                hard == 0 ? 0.0 : 100.0 * caught / hard);
  }
  return 0;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// classify() on two kinds of text (cue-dense maths/code, plain prose like bench/sensitivity's
// 2 KB decision) at four sizes; wall clock and thread CPU time (the machine is shared, so CPU
// time is the figure to compare). `runs` 0 = the default counts; `only_size` 0 = all sizes
// (one size is for instruction counts under callgrind).
int speed(int runs, size_t only_size) {
  const std::array<std::pair<const char*, std::string>, 2> paragraphs = {{
      {"cues",
       "Explain step by step why the average speed of a train that covers 120 km in 1.5 hours "
       "is 80 km/h, and prove that no faster constant speed fits. Write a Python function that "
       "checks the result; it must not use any library. "},
      {"prose", "The quarterly report covers revenue and churn. "},
  }};
  const DifficultyClassifier classifier;
  for (const auto& [kind, paragraph] : paragraphs) {
    for (size_t size : {1024, 2048, 8 * 1024, 64 * 1024}) {
      if (only_size != 0 && size != only_size) continue;
      std::string text;
      while (text.size() < size) text += paragraph;
      text.resize(size);
      sy::backends::ChatRequest request;
      request.model = "m";
      sy::backends::Message m;
      m.content.push_back({.text = text});
      request.messages.push_back(std::move(m));
      std::vector<double> us, cpu_us;
      const int n = runs > 0 ? runs : (size > 10000 ? 500 : 5000);
      double sink = 0;
      for (int i = 0; i < n; ++i) {
        const double c0 = thread_cpu_seconds();
        const auto start = std::chrono::steady_clock::now();
        sink += classifier.classify(request).score;
        us.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count());
        cpu_us.push_back((thread_cpu_seconds() - c0) * 1e6);
      }
      const double p50 = percentile(us, 0.5);
      std::printf(
          "classify %-5s %6zu B: p50 %7.2f us  p99 %7.2f us  (%.1f MB/s); thread CPU time: "
          "p50 %7.2f us  p99 %7.2f us%s\n",
          kind, size, p50, percentile(us, 0.99), static_cast<double>(size) / p50,
          percentile(cpu_us, 0.5), percentile(cpu_us, 0.99), sink < 0 ? "!" : "");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 2 && args[0] == "features") return features(args[1]);
    if (args.size() >= 2 && args[0] == "evaluate") {
      std::string policy, split = "heldout";
      for (size_t i = 2; i + 1 < args.size(); i += 2) {
        if (args[i] == "--policy") policy = args[i + 1];
        if (args[i] == "--split") split = args[i + 1];
      }
      return evaluate(args[1], policy, split);
    }
    if (!args.empty() && args.size() <= 3 && args[0] == "speed") {
      return speed(args.size() >= 2 ? std::stoi(args[1]) : 0,
                   args.size() == 3 ? std::stoul(args[2]) : 0);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_difficulty: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: bench_difficulty features DATA.jsonl\n"
               "       bench_difficulty evaluate DATA.jsonl [--policy FILE] [--split S]\n"
               "       bench_difficulty speed [RUNS [BYTES]]\n");
  return 2;
}
