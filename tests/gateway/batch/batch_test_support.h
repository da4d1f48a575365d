#pragma once
// Helpers for Files/Batch API tests: a multipart upload body as the OpenAI SDKs send it, a
// chat line, creating a batch over an upload, polling a batch until it reaches a final status
// (bounded by a deadline), and reading its output or error file by custom_id.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway/test_http_client.h"

namespace sy::testing {

inline constexpr const char* kBoundary = "----switchyardTestBoundary7MA4YWxk";

inline std::string multipart_upload(const std::string& content, const std::string& purpose,
                                    const std::string& filename = "input.jsonl") {
  std::string b = std::string("--") + kBoundary + "\r\n";
  b += "Content-Disposition: form-data; name=\"purpose\"\r\n\r\n" + purpose + "\r\n";
  b += std::string("--") + kBoundary + "\r\n";
  b += "Content-Disposition: form-data; name=\"file\"; filename=\"" + filename + "\"\r\n";
  b += "Content-Type: application/jsonl\r\n\r\n" + content + "\r\n";
  b += std::string("--") + kBoundary + "--\r\n";
  return b;
}

// `key` "" = no authorization header (a gateway configured without keys).
inline backends::Headers auth_headers(const std::string& key) {
  if (key.empty()) return {};
  return {{"authorization", "Bearer " + key}};
}

inline backends::Headers upload_headers(const std::string& key) {
  backends::Headers headers = auth_headers(key);
  headers.emplace_back("content-type", std::string("multipart/form-data; boundary=") + kBoundary);
  return headers;
}

// One chat line; `max_tokens` in the body when given.
inline std::string chat_line(const std::string& custom_id, const std::string& model,
                             const std::string& text, std::optional<int> max_tokens = {}) {
  nlohmann::json body = {{"model", model}, {"messages", {{{"role", "user"}, {"content", text}}}}};
  if (max_tokens) body["max_tokens"] = *max_tokens;
  nlohmann::json line = {{"custom_id", custom_id},
                         {"method", "POST"},
                         {"url", "/v1/chat/completions"},
                         {"body", std::move(body)}};
  return line.dump() + "\n";
}

// GETs the batch until its status is final; returns the last body (status "" on timeout).
inline nlohmann::json wait_for_batch(TestHttpClient& client, const std::string& url,
                                     const std::string& key,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  nlohmann::json last;
  while (std::chrono::steady_clock::now() < deadline) {
    TestResponse r = client.get(url, {{"authorization", "Bearer " + key}});
    last = nlohmann::json::parse(r.body, nullptr, false);
    if (last.is_object()) {
      const std::string status = last.value("status", "");
      if (status == "completed" || status == "failed" || status == "cancelled" ||
          status == "expired") {
        return last;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  last["status"] = "";
  return last;
}

// The JSON objects of a JSONL text.
inline std::vector<nlohmann::json> jsonl(const std::string& text) {
  std::vector<nlohmann::json> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (end > pos)
      out.push_back(nlohmann::json::parse(text.substr(pos, end - pos), nullptr, false));
    pos = end + 1;
  }
  return out;
}

// Uploads `input` (JSONL) as a batch file to the gateway at `base_url` and creates a 24h
// chat-completions batch over it (`key` "" = no authorization); returns the batch id ("" when
// either call failed, which the expectations report).
inline std::string create_batch(TestHttpClient& client, const std::string& base_url,
                                const std::string& key, const std::string& input) {
  TestResponse up =
      client.post(base_url + "/v1/files", multipart_upload(input, "batch"), upload_headers(key));
  EXPECT_EQ(up.status, 200) << up.body;
  nlohmann::json body = {{"input_file_id", nlohmann::json::parse(up.body, nullptr, false)["id"]},
                         {"endpoint", "/v1/chat/completions"},
                         {"completion_window", "24h"}};
  TestResponse r = client.post(base_url + "/v1/batches", body.dump(), auth_headers(key));
  EXPECT_EQ(r.status, 200) << r.body;
  const nlohmann::json created = nlohmann::json::parse(r.body, nullptr, false);
  EXPECT_TRUE(created.is_object() && created.contains("id") && created["id"].is_string())
      << "upload: " << up.body << "\ncreate: " << r.body;
  return created.is_object() ? created.value("id", "") : "";
}

// custom_id -> line of the batch's `field` file ("output_file_id" or "error_file_id"); empty
// when the batch has no such file.
inline std::map<std::string, nlohmann::json> batch_file_lines(TestHttpClient& client,
                                                              const std::string& base_url,
                                                              const std::string& key,
                                                              const nlohmann::json& batch,
                                                              const char* field) {
  std::map<std::string, nlohmann::json> out;
  if (!batch[field].is_string()) return out;
  TestResponse r =
      client.get(base_url + "/v1/files/" + batch[field].get<std::string>() + "/content",
                 {{"authorization", "Bearer " + key}});
  EXPECT_EQ(r.status, 200) << field << ": " << r.body;
  for (nlohmann::json& line : jsonl(r.body)) {
    EXPECT_TRUE(line.contains("custom_id") && line["custom_id"].is_string()) << line.dump();
    if (line.contains("custom_id") && line["custom_id"].is_string()) {
      const std::string custom_id = line["custom_id"];
      out[custom_id] = std::move(line);
    }
  }
  return out;
}

}  // namespace sy::testing
