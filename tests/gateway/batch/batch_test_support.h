#pragma once
// Helpers for Files/Batch API tests: a multipart upload body as the OpenAI SDKs send it, and
// polling a batch until it reaches a final status (bounded by a deadline).

#include <chrono>
#include <string>
#include <thread>

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

inline backends::Headers upload_headers(const std::string& key) {
  return {{"authorization", "Bearer " + key},
          {"content-type", std::string("multipart/form-data; boundary=") + kBoundary}};
}

inline std::string chat_line(const std::string& custom_id, const std::string& model,
                             const std::string& text) {
  nlohmann::json line = {
      {"custom_id", custom_id},
      {"method", "POST"},
      {"url", "/v1/chat/completions"},
      {"body", {{"model", model}, {"messages", {{{"role", "user"}, {"content", text}}}}}}};
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

}  // namespace sy::testing
