// Sensitivity scan throughput: MB/s of SensitivityClassifier::scan on one core over 1 MB of
// mixed text (prose, code, logs, numbers, ~1 PII value per 400 bytes), printed beside the same
// run's single-core memory read bandwidth; and classify_request p50/p99 for chat requests of
// 1, 2, 8 and 64 KB. Usage: bench_sensitivity [repetitions=20]
//   bench_sensitivity --decide-only   the 2 KB full decisions only (and their parts)
//   bench_sensitivity --scan-only N   N scans of the 1 MiB text and nothing else (callgrind)
//   bench_sensitivity --dump FILE     every finding on the bench texts, one per line (to check
//                                     that a change to the scanner keeps its findings)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "mixed_text.h"
#include "switchyard/backends/openai_json.h"
#include "switchyard/policies/classify/difficulty_classifier.h"
#include "switchyard/policies/classify/sensitivity_classifier.h"
#include "switchyard/policies/router.h"
#include "switchyard/policies/rules/policy_loader.h"

namespace {

using sy::bench::memory_read_gbps;
using sy::bench::mixed_text;
using sy::bench::thread_cpu_seconds;

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Texts whose findings --dump writes: the bench text, other seeds and sizes of it, and
// random bytes drawn from a digit-heavy alphabet (regions of every shape).
std::vector<std::string> dump_texts() {
  std::vector<std::string> texts = {mixed_text(1 << 20, 1)};
  for (unsigned seed = 2; seed < 40; ++seed) texts.push_back(mixed_text(200 + seed * 97, seed));
  // Random tokens: digit groups, letter groups, separators, a few words and '@'.
  std::mt19937 rng(99);
  const char* kWords[] = {"ssn ", "dob: ", "IBAN ", "call ", "Dear ", "Street ", "@", "::", "+",
                          "password=", "born on ", "Mr. ", "GB", "DE", "X", "AB "};
  for (int t = 0; t < 400; ++t) {
    std::string s;
    size_t n = 20 + rng() % 300;
    while (s.size() < n) {
      switch (rng() % 6) {
        case 0:
        case 1:
        case 2:
          for (unsigned i = 0, k = 1 + rng() % 5; i < k; ++i) s.push_back('0' + rng() % 10);
          break;
        case 3:
          s.push_back(" - ./:("[rng() % 7]);
          break;
        case 4:
          for (unsigned i = 0, k = 1 + rng() % 3; i < k; ++i) s.push_back('A' + rng() % 26);
          break;
        default:
          s += kWords[rng() % std::size(kWords)];
      }
    }
    texts.push_back(std::move(s));
  }
  // More seeds of the bench text, and grouped numbers in the layouts the digit-chain
  // detectors know (cards, SSN, phones, NHS, tax IDs, Aadhaar, SIN, IBAN), with context words,
  // perturbed separators and neighbours.
  for (unsigned seed = 40; seed < 140; ++seed) texts.push_back(mixed_text(500 + seed * 41, seed));
  const char* kShapes[] = {"dddd dddd dddd dddd", "dddd-dddd-dddd-dddd", "ddddddddddddddd",
                           "ddd-dd-dddd", "ddd dd dddd", "(#dd) ddd-dddd", "#dd.ddd.dddd",
                           "ddd ddd dddd", "#d ddd ddd ddd", "#ddd dddd dddd", "ddd-ddd-ddd",
                           "00dd dd ddd dddd", "0ddd dddddd", "0dd/dddd dddd", "dddddddddddd",
                           "DEdd dddd dddd dddd dddd dd", "GBdd ABCD dddd dddd dddd dd",
                           "AB dd dd dd C", "ddddddddZ", "X-ddddddd-L", "dd.dd.dd.dd"};
  const char* kContext[] = {"card ", "SSN ", "phone: ", "NHS ", "Steuer-ID ", "Aadhaar ",
                            "SIN ", "IBAN ", "ref ", "order ", "", "", ""};
  for (int t = 0; t < 1500; ++t) {
    std::string s;
    for (int k = 0, n = 1 + static_cast<int>(rng() % 6); k < n; ++k) {
      s += kContext[rng() % std::size(kContext)];
      for (const char* c = kShapes[rng() % std::size(kShapes)]; *c; ++c) {
        if (*c == 'd') {
          s.push_back(static_cast<char>('0' + rng() % 10));
        } else if (*c == '#') {
          s.push_back(static_cast<char>('2' + rng() % 8));
        } else if (rng() % 25 == 0) {
          s.push_back(" -./"[rng() % 4]);  // a separator where another byte was
        } else {
          s.push_back(*c);
        }
      }
      s += (rng() % 3 == 0) ? ", " : " and ";
    }
    texts.push_back(std::move(s));
  }
  return texts;
}

}  // namespace

// A full routing decision (Router::decide: sensitivity over the whole request, volume,
// difficulty, the rules of the three example uses, candidate ordering, the mask plan) for a
// 2 KB chat request, as the gateway makes it for every request. Target (issue 7): p99 < 50 us.
int full_decision(int reps) {
  using namespace sy::policies;
  PolicyPtr policy = load_policy_string(R"(
rules:
  - {name: restricted-local-only, when: {sensitivity: {at_least: restricted}},
     require: {kind: local}}
  - {name: eu-residency, when: {tenant: {residency: eu}}, require: {regions: [eu, local]}}
  - {name: bulk-local, when: {volume: bulk}, prefer: {kind: local}}
  - {name: hard-to-frontier, when: {difficulty: hard}, prefer: [frontier]}
  - {name: mask-contacts, when: {sensitivity: {at_most: confidential}},
     transform: {mask_pii: {types: [email, phone, person_name]}}}
)",
                                        "bench");
  auto router = Router::create(policy);
  if (!router) {
    std::fprintf(stderr, "%s\n", router.error().c_str());
    return 1;
  }
  TenantProfile tenant{.name = "globex", .attributes = {{"residency", "eu"}}};
  std::vector<RouteTarget> targets = {{"frontier", "gpt-4o"}, {"eu", "gpt-4o"}, {"local", "l"}};
  std::vector<BackendView> backends = {
      {.name = "frontier", .region = "us", .retains_data = true, .price_per_mtok = 10},
      {.name = "eu", .region = "eu", .price_per_mtok = 12},
      {.name = "local", .kind = sy::backends::BackendKind::local, .region = "local"}};
  // Two 2 KB requests: plain prose and code, and the bench's mixed text (a PII value per
  // ~400 bytes, so findings, a mask plan and the restricted rule all take part).
  for (unsigned seed : {0u, 7u}) {
    std::string text;
    if (seed == 0) {
      while (text.size() < 2048) text += "The quarterly report covers revenue and churn. ";
      text.resize(2048);
    } else {
      text = mixed_text(2048, seed);
    }
    nlohmann::json body = {{"model", "chat"},
                           {"messages",
                            {{{"role", "system"}, {"content", "You are a helpful assistant."}},
                             {{"role", "user"}, {"content", text}}}}};
    auto chat = sy::backends::openai::parse_chat_request(body.dump());
    if (!chat) return 1;
    RouteRequest request{.chat = &*chat, .endpoint = "/v1/chat/completions", .tenant = &tenant};
    std::vector<double> us;
    size_t findings = 0;
    int n = std::max(2000, reps * 100);
    for (int r = 0; r < n; ++r) {
      request.now = std::chrono::steady_clock::now();
      double c0 = thread_cpu_seconds();
      auto d = (*router)->decide(request, targets, backends);
      us.push_back((thread_cpu_seconds() - c0) * 1e6);
      if (!d) return 1;
      findings = d->sensitivity.findings.size();
    }
    std::printf("full decision 2 KB %s (%zu findings), thread CPU time: p50 %.1f us, "
                "p99 %.1f us (%d decisions)\n",
                seed == 0 ? "prose" : "mixed", findings, percentile(us, 0.5),
                percentile(us, 0.99), n);
    // Where a decision's time goes: its parts timed alone, the same way.
    auto part = [&](const char* name, auto&& fn) {
      std::vector<double> t;
      for (int r = 0; r < n; ++r) {
        double c0 = thread_cpu_seconds();
        fn();
        t.push_back((thread_cpu_seconds() - c0) * 1e6);
      }
      std::printf("  part %-44s p50 %5.1f us, p99 %5.1f us\n", name, percentile(t, 0.5),
                  percentile(t, 0.99));
    };
    const auto& classifier = (*router)->classifier();
    sy::policies::DifficultyClassifier difficulty(policy->difficulty);
    part("sensitivity: classify_chat_request", [&] {
      if (!classifier.classify_chat_request(*chat, {})) std::abort();
    });
    part("  of which: encode_chat_request", [&] {
      if (sy::backends::openai::encode_chat_request(*chat, false).empty()) std::abort();
    });
    part("  of which: scan of the 2 KB user text", [&] {
      if (classifier.scan(text).size() > 1000) std::abort();
    });
    part("difficulty: classify", [&] {
      if (difficulty.classify(*chat).score < 0) std::abort();
    });
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "--decide-only") return full_decision(1);
  if (argc > 2 && std::string_view(argv[1]) == "--scan-only") {
    auto created = sy::policies::SensitivityClassifier::create({});
    if (!created) return 1;
    std::string text = mixed_text(1 << 20, 1);
    size_t findings = 0;
    for (int r = 0; r < std::atoi(argv[2]); ++r) findings += (*created)->scan(text).size();
    std::printf("%zu findings\n", findings);
    return 0;
  }
  if (argc > 2 && std::string_view(argv[1]) == "--dump") {
    auto created = sy::policies::SensitivityClassifier::create({});
    if (!created) return 1;
    FILE* out = std::fopen(argv[2], "w");
    if (!out) return 1;
    auto texts = dump_texts();
    for (size_t t = 0; t < texts.size(); ++t) {
      for (const auto& f : (*created)->scan(texts[t])) {
        std::fprintf(out, "%zu %s %s %zu %zu %.4f %s\n", t, std::string(to_string(f.type)).c_str(),
                     f.detector.c_str(), f.begin, f.end, f.confidence,
                     std::string(to_string(f.level)).c_str());
      }
    }
    std::fclose(out);
    return 0;
  }
  int reps = argc > 1 ? std::atoi(argv[1]) : 20;
  auto start = Clock::now();
  auto created = sy::policies::SensitivityClassifier::create({});
  if (!created) {
    std::fprintf(stderr, "%s\n", created.error().message.c_str());
    return 1;
  }
  double compile_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  const auto& classifier = **created;

  std::string text = mixed_text(1 << 20, 1);
  size_t findings = 0;
  double best = 0;
  double best_cpu = 0;
  for (int r = 0; r < reps; ++r) {
    double c0 = thread_cpu_seconds();
    auto t0 = Clock::now();
    findings = classifier.scan(text).size();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    double cpu = thread_cpu_seconds() - c0;
    best = std::max(best, text.size() / s / 1e6);
    if (cpu > 0) best_cpu = std::max(best_cpu, text.size() / cpu / 1e6);
  }
  std::printf("compile (built-in detectors): %.0f ms\n", compile_ms);
  std::printf("scan 1 MiB mixed text: %.0f MB/s on one core (best of %d), %zu findings\n", best,
              reps, findings);
  // Thread CPU time leaves out the time the shared machine's scheduler took the core away.
  std::printf("scan 1 MiB mixed text, by thread CPU time: %.0f MB/s (best of %d)\n", best_cpu,
              reps);
  double memory = memory_read_gbps();
  std::printf("memory read bandwidth, one core, same run: %.1f GB/s\n", memory);
  // The machine is shared: absolute rates move with its load, the ratio much less.
  std::printf("scan rate / memory read rate: %.2f%% (CPU-time rate: %.2f%%)\n",
              100.0 * best / (memory * 1e3), 100.0 * best_cpu / (memory * 1e3));

  for (size_t size : {size_t{1} << 10, size_t{2} << 10, size_t{8} << 10, size_t{64} << 10}) {
    nlohmann::json body = {{"model", "m"},
                           {"messages",
                            {{{"role", "system"}, {"content", "You are a helpful assistant."}},
                             {{"role", "user"}, {"content", mixed_text(size, 7)}}}}};
    std::vector<double> us;
    std::vector<double> cpu_us;
    for (int r = 0; r < 1000; ++r) {
      double c0 = thread_cpu_seconds();
      auto t0 = Clock::now();
      auto result = classifier.classify_request(body, {});
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      cpu_us.push_back((thread_cpu_seconds() - c0) * 1e6);
      if (!result) return 1;
    }
    std::printf("classify_request %3zu KB: p50 %.1f us, p99 %.1f us; by thread CPU time: "
                "p50 %.1f us, p99 %.1f us\n",
                size >> 10, percentile(us, 0.5), percentile(us, 0.99), percentile(cpu_us, 0.5),
                percentile(cpu_us, 0.99));
  }
  return full_decision(reps);
}
