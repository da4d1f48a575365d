// SensitivityClassifier: detector cases and request-walk cases as data
// (tests/policies/cases/sensitivity/*.yaml), plus generated checksum-valid numbers, custom
// tenant terms/patterns, refused patterns and bounded-time hostile input.

#include "switchyard/policies/classify/sensitivity_classifier.h"

#include "switchyard/backends/openai_json.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>

namespace sy::policies {
namespace {

std::string cases_dir() {
  return std::string(SWITCHYARD_SOURCE_DIR) + "/tests/policies/cases/sensitivity";
}

const SensitivityClassifier& default_classifier() {
  static std::shared_ptr<const SensitivityClassifier> classifier = [] {
    auto created = SensitivityClassifier::create(SensitivityConfig{});
    if (!created) throw std::runtime_error(created.error().message);
    return *created;
  }();
  return *classifier;
}

std::string describe(std::string_view text, const std::vector<Finding>& findings) {
  std::string out;
  for (const Finding& f : findings) {
    out += std::string(to_string(f.type)) + "/" + f.detector + " [" +
           std::string(text.substr(f.begin, f.end - f.begin)) + "] conf " +
           std::to_string(f.confidence) + " path " + f.path + "\n";
  }
  return out.empty() ? "(no findings)\n" : out;
}

TEST(SensitivityClassifier, DetectorCasesFromData) {
  YAML::Node cases = YAML::LoadFile(cases_dir() + "/detectors.yaml");
  ASSERT_GT(cases.size(), 40u);
  const SensitivityClassifier& classifier = default_classifier();
  for (const YAML::Node& c : cases) {
    std::string name = c["name"].as<std::string>();
    std::string text = c["text"].as<std::string>();
    std::vector<Finding> findings = classifier.scan(text);
    SCOPED_TRACE(name + "\n" + describe(text, findings));
    for (const YAML::Node& e : c["expect"]) {
      FindingType type = *parse_finding_type(e["type"].as<std::string>());
      std::string value = e["value"].as<std::string>();
      bool found = false;
      for (const Finding& f : findings) {
        if (f.type != type || text.substr(f.begin, f.end - f.begin) != value) continue;
        if (e["detector"] && f.detector != e["detector"].as<std::string>()) continue;
        if (e["min_confidence"]) {
          EXPECT_GE(f.confidence, e["min_confidence"].as<double>());
        }
        if (e["max_confidence"]) {
          EXPECT_LE(f.confidence, e["max_confidence"].as<double>());
        }
        found = true;
      }
      EXPECT_TRUE(found) << "expected " << to_string(type) << " [" << value << "]";
    }
    for (const YAML::Node& a : c["absent"]) {
      FindingType type = *parse_finding_type(a.as<std::string>());
      for (const Finding& f : findings) {
        EXPECT_NE(f.type, type) << "unexpected " << to_string(type) << " ["
                                << text.substr(f.begin, f.end - f.begin) << "]";
      }
    }
  }
}

TEST(SensitivityClassifier, RequestCasesFromData) {
  YAML::Node cases = YAML::LoadFile(cases_dir() + "/requests.yaml");
  ASSERT_GT(cases.size(), 10u);
  const SensitivityClassifier& classifier = default_classifier();
  for (const YAML::Node& c : cases) {
    std::string name = c["name"].as<std::string>();
    SCOPED_TRACE(name);
    nlohmann::json body = nlohmann::json::parse(c["request"].as<std::string>());
    std::string header = c["header"] ? c["header"].as<std::string>() : "";
    SensitivityContext context{header, SensitivityLevel::public_};
    if (c["floor"]) context.tenant_floor = *parse_sensitivity_level(c["floor"].as<std::string>());
    auto result = classifier.classify_request(body, context);
    if (c["error"]) {
      ASSERT_FALSE(result.has_value());
      EXPECT_NE(result.error().message.find(c["error"].as<std::string>()), std::string::npos)
          << result.error().message;
      continue;
    }
    ASSERT_TRUE(result.has_value()) << result.error().message;
    SCOPED_TRACE(describe("", {}) + [&] {
      std::string s;
      for (const Finding& f : result->findings) {
        s += std::string(to_string(f.type)) + "/" + f.detector + " at " + f.path + "\n";
      }
      return s;
    }());
    EXPECT_EQ(to_string(result->level), c["level"].as<std::string>());
    if (c["decided_by"]) {
      EXPECT_EQ(to_string(result->decided_by), c["decided_by"].as<std::string>());
    }
    for (const YAML::Node& e : c["findings"]) {
      FindingType type = *parse_finding_type(e["type"].as<std::string>());
      std::string path = e["path"].as<std::string>();
      bool found = false;
      for (const Finding& f : result->findings) {
        if (f.type != type || f.path != path) continue;
        if (e["detector"] && f.detector != e["detector"].as<std::string>()) continue;
        if (e["in_key"] && f.in_key != e["in_key"].as<bool>()) continue;
        found = true;
      }
      EXPECT_TRUE(found) << "expected " << to_string(type) << " at " << path;
    }
  }
}

// ---- generated checksum-valid numbers: each must be found, and each with its check digit
// changed must not ----

std::string random_digits(std::mt19937& rng, size_t n, char first_min = '0') {
  std::uniform_int_distribution<int> digit(0, 9);
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    char c;
    do c = static_cast<char>('0' + digit(rng));
    while (i == 0 && c < first_min);
    s.push_back(c);
  }
  return s;
}

char luhn_check_digit(const std::string& payload) {
  int sum = 0;
  bool twice = true;  // the check digit will sit to the right
  for (size_t i = payload.size(); i-- > 0;) {
    int d = payload[i] - '0';
    if (twice) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    twice = !twice;
  }
  return static_cast<char>('0' + (10 - sum % 10) % 10);
}

char nhs_check_digit(const std::string& nine) {
  int sum = 0;
  for (size_t i = 0; i < 9; ++i) sum += (nine[i] - '0') * static_cast<int>(10 - i);
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  return check == 10 ? 'X' : static_cast<char>('0' + check);
}

char verhoeff_check_digit(const std::string& payload) {
  static const int d[10][10] = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
                                {2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
                                {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
                                {6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
                                {8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}};
  static const int p[8][10] = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
                               {5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
                               {9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
                               {2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8}};
  static const int inv[10] = {0, 4, 3, 2, 1, 5, 6, 7, 8, 9};
  int c = 0;
  for (size_t i = 0; i < payload.size(); ++i) {
    c = d[c][p[(i + 1) % 8][payload[payload.size() - 1 - i] - '0']];
  }
  return static_cast<char>('0' + inv[c]);
}

std::string iban_with_check(const std::string& country, const std::string& bban) {
  std::string rearranged = bban + country + "00";
  int r = 0;
  for (char c : rearranged) {
    if (c >= '0' && c <= '9')
      r = (r * 10 + (c - '0')) % 97;
    else
      r = (r * 100 + (c - 'A' + 10)) % 97;
  }
  int check = 98 - r;
  return country + (check < 10 ? "0" : "") + std::to_string(check) + bban;
}

char de_tax_check_digit(const std::string& ten) {
  int product = 10;
  for (char c : ten) {
    int sum = (c - '0' + product) % 10;
    if (sum == 0) sum = 10;
    product = (sum * 2) % 11;
  }
  int check = 11 - product;
  return static_cast<char>('0' + (check == 10 ? 0 : check));
}

// Ten digits, first not 0, in which exactly one digit appears exactly twice (the rest once).
std::string de_tax_payload(std::mt19937& rng) {
  std::string digits = "0123456789";
  for (;;) {
    std::shuffle(digits.begin(), digits.end(), rng);
    std::string ten = digits.substr(0, 9);
    ten.insert(ten.begin() + static_cast<long>(rng() % 9 + 1), ten[rng() % 9]);
    bool triple = false;
    for (size_t i = 0; i + 2 < 10; ++i) triple |= ten[i] == ten[i + 1] && ten[i] == ten[i + 2];
    if (ten[0] != '0' && !triple) return ten;
  }
}

// BIP 173/350 checksum over hrp and 5-bit data; returns the six checksum values.
std::vector<int> bech32_checksum(const std::string& hrp, const std::vector<int>& data,
                                 uint32_t constant) {
  auto polymod = [](const std::vector<int>& values) {
    const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    uint32_t chk = 1;
    for (int v : values) {
      uint32_t top = chk >> 25;
      chk = ((chk & 0x1ffffff) << 5) ^ static_cast<uint32_t>(v);
      for (int i = 0; i < 5; ++i) chk ^= ((top >> i) & 1) ? gen[i] : 0;
    }
    return chk;
  };
  std::vector<int> values;
  for (char c : hrp) values.push_back(c >> 5);
  values.push_back(0);
  for (char c : hrp) values.push_back(c & 31);
  values.insert(values.end(), data.begin(), data.end());
  values.insert(values.end(), 6, 0);
  uint32_t mod = polymod(values) ^ constant;
  std::vector<int> out;
  for (int i = 0; i < 6; ++i) out.push_back(static_cast<int>((mod >> (5 * (5 - i))) & 31));
  return out;
}

std::string bech32_address(std::mt19937& rng, int version, bool break_checksum) {
  constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  std::vector<int> data = {version};
  for (int i = 0; i < 32; ++i) data.push_back(static_cast<int>(rng() % 32));  // 20-byte program
  auto checksum = bech32_checksum("bc", data, version == 0 ? 1u : 0x2bc830a3u);
  if (break_checksum) checksum[5] = (checksum[5] + 1) % 32;
  std::string out = "bc1";
  for (int v : data) out += kCharset[static_cast<size_t>(v)];
  for (int v : checksum) out += kCharset[static_cast<size_t>(v)];
  return out;
}

char other_digit(char c) { return c == '9' ? '0' : static_cast<char>(c + 1); }

struct Generated {
  std::string valid;
  std::string invalid;
  std::string context;  // text before the number
  FindingType type;
};

std::vector<Generated> generate(std::mt19937& rng) {
  std::vector<Generated> out;
  for (int i = 0; i < 20; ++i) {
    std::string card = "4" + random_digits(rng, 14);
    card += luhn_check_digit(card);
    std::string bad = card;
    bad.back() = other_digit(bad.back());
    out.push_back({card, bad, "card number ", FindingType::payment_card});

    std::string bban = random_digits(rng, 18);
    std::string iban = iban_with_check("DE", bban);
    std::string bad_iban = iban;
    bad_iban[3] = other_digit(bad_iban[3]);
    out.push_back({iban, bad_iban, "IBAN ", FindingType::iban});

    std::string nhs;
    do {
      nhs = random_digits(rng, 9, '1');
    } while (nhs_check_digit(nhs) == 'X');
    nhs += nhs_check_digit(nhs);
    std::string bad_nhs = nhs;
    bad_nhs.back() = other_digit(bad_nhs.back());
    out.push_back({nhs, bad_nhs, "NHS number ", FindingType::national_id});

    std::string aadhaar = random_digits(rng, 11, '2');
    aadhaar += verhoeff_check_digit(aadhaar);
    std::string bad_aadhaar = aadhaar;
    bad_aadhaar.back() = other_digit(bad_aadhaar.back());
    out.push_back({aadhaar, bad_aadhaar, "Aadhaar ", FindingType::national_id});

    std::string sin = random_digits(rng, 8, '1');
    if (sin[0] == '8') sin[0] = '7';
    sin += luhn_check_digit(sin);
    std::string bad_sin = sin;
    bad_sin.back() = other_digit(bad_sin.back());
    out.push_back({sin, bad_sin, "SIN ", FindingType::national_id});

    std::string dni = random_digits(rng, 8);
    constexpr std::string_view kLetters = "TRWAGMYFPDXBNJZSQVHLCKE";
    size_t index = static_cast<size_t>(std::stol(dni) % 23);
    out.push_back({dni + kLetters[index], dni + kLetters[(index + 1) % 23], "DNI ",
                   FindingType::national_id});

    std::string ten = de_tax_payload(rng);
    std::string tax = ten + de_tax_check_digit(ten);
    std::string bad_tax = tax;
    bad_tax.back() = other_digit(bad_tax.back());
    out.push_back({tax, bad_tax, "Steuer-ID ", FindingType::national_id});

    std::mt19937 copy = rng;
    std::string segwit = bech32_address(rng, i % 2, false);
    out.push_back(
        {segwit, bech32_address(copy, i % 2, true), "send BTC to ", FindingType::crypto_address});
  }
  return out;
}

TEST(SensitivityClassifier, FindsGeneratedValidNumbersAndRejectsBrokenChecksums) {
  std::mt19937 rng(7);
  const SensitivityClassifier& classifier = default_classifier();
  for (const Generated& g : generate(rng)) {
    std::string text = "Details: " + g.context + g.valid + ", thanks";
    auto findings = classifier.scan(text);
    bool found = false;
    for (const Finding& f : findings) {
      if (f.type == g.type && text.substr(f.begin, f.end - f.begin) == g.valid &&
          f.confidence >= classifier.config().min_confidence) {
        found = true;
      }
    }
    EXPECT_TRUE(found) << text << "\n" << describe(text, findings);

    std::string bad_text = "Details: " + g.context + g.invalid + ", thanks";
    for (const Finding& f : classifier.scan(bad_text)) {
      EXPECT_FALSE(f.type == g.type && f.confidence >= classifier.config().min_confidence)
          << bad_text << "\n"
          << describe(bad_text, classifier.scan(bad_text));
    }
  }
}

TEST(SensitivityClassifier, LevelsFollowTheConfiguredMapping) {
  const SensitivityClassifier& classifier = default_classifier();
  EXPECT_EQ(classifier.level_of(classifier.scan("card 4111 1111 1111 1111")),
            SensitivityLevel::restricted);
  EXPECT_EQ(classifier.level_of(classifier.scan("mail me at a.b@example.com")),
            SensitivityLevel::confidential);
  EXPECT_EQ(classifier.level_of(classifier.scan("host 192.168.1.20")), SensitivityLevel::internal);
  EXPECT_EQ(classifier.level_of(classifier.scan("nothing here")), SensitivityLevel::public_);

  SensitivityConfig config;
  config.levels[static_cast<size_t>(FindingType::email)] = SensitivityLevel::restricted;
  auto custom = SensitivityClassifier::create(config);
  ASSERT_TRUE(custom.has_value()) << custom.error().message;
  EXPECT_EQ((*custom)->level_of((*custom)->scan("mail me at a.b@example.com")),
            SensitivityLevel::restricted);
}

TEST(SensitivityClassifier, CustomTermsAndPatternsShareTheScan) {
  SensitivityConfig config;
  config.term_lists.push_back(
      {"code_names", {"Project Bluebird", "NIGHTJAR"}, SensitivityLevel::restricted, false});
  config.patterns.push_back(
      {"acme_customer_id", R"(\bACME-\d{6}\b)", SensitivityLevel::confidential, false});
  auto created = SensitivityClassifier::create(config);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  const SensitivityClassifier& c = **created;

  std::string text = "Status of project bluebird for ACME-123456; nightjars are birds.";
  auto findings = c.scan(text);
  SCOPED_TRACE(describe(text, findings));
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].type, FindingType::custom_term);
  EXPECT_EQ(findings[0].detector, "code_names");
  EXPECT_EQ(text.substr(findings[0].begin, findings[0].end - findings[0].begin),
            "project bluebird");
  EXPECT_EQ(findings[0].level, SensitivityLevel::restricted);
  EXPECT_EQ(findings[1].type, FindingType::custom_pattern);
  EXPECT_EQ(text.substr(findings[1].begin, findings[1].end - findings[1].begin), "ACME-123456");
  EXPECT_EQ(c.level_of(findings), SensitivityLevel::restricted);
}

// Common request member names and values skip the scan only where this classifier finds
// nothing in them: a tenant's term or pattern that matches one still reports it, in a key too.
TEST(SensitivityClassifier, CommonRequestWordsAreScannedForTenantTerms) {
  SensitivityConfig config;
  config.term_lists.push_back(
      {"words", {"content", "assistant"}, SensitivityLevel::internal, false});
  config.patterns.push_back({"short", R"(^us)", SensitivityLevel::confidential, false});
  auto created = SensitivityClassifier::create(config);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  const SensitivityClassifier& c = **created;
  for (std::string_view word : {"content", "assistant"}) {
    auto findings = c.scan(word);
    ASSERT_EQ(findings.size(), 1u) << word;
    EXPECT_EQ(findings[0].detector, "words");
  }
  auto user = c.scan("user");
  ASSERT_EQ(user.size(), 1u);
  EXPECT_EQ(user[0].detector, "short");
  EXPECT_TRUE(c.scan("role").empty());

  auto plain = SensitivityClassifier::create({});
  ASSERT_TRUE(plain.has_value());
  EXPECT_TRUE((*plain)->scan("content").empty());
  nlohmann::json body = {{"model", "m"},
                         {"messages", {{{"role", "user"}, {"content", "plain words"}}}}};
  auto result = c.classify_request(body, {});
  ASSERT_TRUE(result.has_value());
  bool key_finding = false;
  for (const Finding& f : result->findings) key_finding |= f.in_key && f.detector == "words";
  EXPECT_TRUE(key_finding);
}

TEST(SensitivityClassifier, RefusesPatternsVectorscanCannotCompileNamingThem) {
  SensitivityConfig config;
  config.patterns.push_back({"good", R"(\bok\b)", SensitivityLevel::internal, false});
  config.patterns.push_back({"backref", R"((a+)\1)", SensitivityLevel::internal, false});
  auto created = SensitivityClassifier::create(config);
  ASSERT_FALSE(created.has_value());
  EXPECT_NE(created.error().message.find("custom pattern 'backref' (#1"), std::string::npos)
      << created.error().message;

  SensitivityConfig lookahead;
  lookahead.patterns.push_back({"lookahead", R"(foo(?=bar))", SensitivityLevel::internal, false});
  EXPECT_FALSE(SensitivityClassifier::create(lookahead).has_value());

  SensitivityConfig empty_term;
  empty_term.term_lists.push_back({"names", {"ok", ""}, SensitivityLevel::internal, false});
  auto refused = SensitivityClassifier::create(empty_term);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("term list 'names': term #1 is empty"), std::string::npos);
}

TEST(SensitivityClassifier, HostileInputScansInBoundedTime) {
  const SensitivityClassifier& classifier = default_classifier();
  // A megabyte each of digits with spaces, of repeated '@', of invalid UTF-8, and a
  // pathological alternation-shaped text; each must come back quickly.
  std::vector<std::string> inputs;
  std::string digits;
  while (digits.size() < (1 << 20)) digits += "1234 5678 ";
  inputs.push_back(digits);
  inputs.push_back(std::string(1 << 20, '@'));
  std::string bad_utf8;
  while (bad_utf8.size() < (1 << 20)) bad_utf8 += "\xff\xfe\xc3(\xa0\xe2\x28";
  inputs.push_back(bad_utf8);
  std::string mixed;
  while (mixed.size() < (1 << 20)) mixed += "a.a.a.a@b.b.b.b. password=Xq7#pL9!vR2@mK4z ";
  inputs.push_back(mixed);
  for (const std::string& input : inputs) {
    auto start = std::chrono::steady_clock::now();
    auto findings = classifier.scan(input);
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 5.0) << "input starting " << input.substr(0, 20);
  }
}

// Patterns that backtracking engines take exponential time on (nested quantifiers, overlapping
// alternations) compile into vectorscan's automata and scan a megabyte built to provoke them
// in one linear pass; a repeat too large to compile is a clear error naming the pattern.
TEST(SensitivityClassifier, PathologicalCustomPatternsScanInLinearTime) {
  SensitivityConfig config;
  config.patterns.push_back({"nested", R"((a+)+$)", SensitivityLevel::internal, false});
  config.patterns.push_back({"alternation", R"((a|aa)*c)", SensitivityLevel::internal, false});
  config.patterns.push_back({"doubled", R"((x+x+)+y)", SensitivityLevel::internal, false});
  auto created = SensitivityClassifier::create(config);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  std::string as(1 << 20, 'a');
  std::string xs(1 << 20, 'x');
  for (const std::string* input : {&as, &xs}) {
    auto start = std::chrono::steady_clock::now();
    auto findings = (*created)->scan(*input);
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 5.0) << "input of " << input->front();
    if (input == &as) {
      bool nested = false;
      for (const Finding& f : findings) nested |= f.detector == "nested";
      EXPECT_TRUE(nested) << "(a+)+$ matches a run of a at the end";
    }
  }
  SensitivityConfig huge;
  huge.patterns.push_back({"huge", R"((a{1000}){1000})", SensitivityLevel::internal, false});
  auto refused = SensitivityClassifier::create(huge);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("custom pattern 'huge'"), std::string::npos)
      << refused.error().message;
}

TEST(SensitivityClassifier, WalksAParsedChatRequestIncludingPassthroughFields) {
  auto request = backends::openai::parse_chat_request(R"({
    "model": "m",
    "messages": [
      {"role": "user", "content": "hello"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
        "function": {"name": "lookup", "arguments": "{\"ssn\": \"536-22-1234\"}"}}]}],
    "metadata": {"sensitivity": "internal"},
    "vendor_notes": {"owner": "jane@example.org"}
  })");
  ASSERT_TRUE(request.has_value()) << request.error().message;
  auto result = default_classifier().classify_chat_request(*request, {});
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->level, SensitivityLevel::restricted);
  EXPECT_EQ(result->declared, SensitivityLevel::internal);
  bool ssn = false, email = false;
  for (const Finding& f : result->findings) {
    ssn |= f.type == FindingType::us_ssn && f.path == "/messages/1/tool_calls/0/function/arguments";
    email |= f.type == FindingType::email && f.path == "/vendor_notes/owner";
  }
  EXPECT_TRUE(ssn);
  EXPECT_TRUE(email);
}

TEST(SensitivityClassifier, ConcurrentScansShareOneClassifier) {
  const SensitivityClassifier& classifier = default_classifier();
  std::string text = "card 4111 1111 1111 1111, mail a.b@example.com, IBAN GB82WEST12345698765432";
  size_t expected = classifier.scan(text).size();
  ASSERT_EQ(expected, 3u);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (classifier.scan(text).size() != expected) ++mismatches;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(SensitivityClassifier, CaseSensitiveAndNonAsciiTerms) {
  SensitivityConfig config;
  config.term_lists.push_back({"exact", {"OpX"}, SensitivityLevel::internal, true});
  config.term_lists.push_back({"names", {"Müller GmbH"}, SensitivityLevel::confidential, false});
  auto created = SensitivityClassifier::create(config);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  std::string text = "opx and OpX for müller gmbh";
  auto findings = (*created)->scan(text);
  SCOPED_TRACE(describe(text, findings));
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(text.substr(findings[0].begin, findings[0].end - findings[0].begin), "OpX");
  // ASCII letters fold; the UTF-8 bytes of 'ü' match as written.
  EXPECT_EQ(text.substr(findings[1].begin, findings[1].end - findings[1].begin), "müller gmbh");
}

TEST(SensitivityClassifier, DeepNestingIsBoundedAndCountsAsUnscannable) {
  SensitivityConfig config;
  config.max_json_depth = 16;
  auto created = SensitivityClassifier::create(config);
  ASSERT_TRUE(created.has_value());
  nlohmann::json body = "4111 1111 1111 1111";
  for (int i = 0; i < 40; ++i) body = nlohmann::json::array({body});
  auto result = (*created)->classify_request(body, {});
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->findings.empty());
  EXPECT_EQ(result->findings[0].type, FindingType::unscannable);
  EXPECT_EQ(result->findings[0].detector, "nesting_limit");
  EXPECT_EQ(result->level, SensitivityLevel::confidential);
}

}  // namespace
}  // namespace sy::policies
