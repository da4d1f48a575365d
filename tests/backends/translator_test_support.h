#pragma once
// Test-only helpers shared by the vendor translator tests: fixture files, feeding a stream
// decoder in fixed-size pieces, and a JSON summary of what a client would end up seeing, so
// expected results can live in data files.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "switchyard/backends/chat.h"
#include "switchyard/backends/translator.h"

namespace sy::backends::testing {

inline std::filesystem::path fixture_path(const std::string& relative) {
  return std::filesystem::path(SWITCHYARD_FIXTURES_DIR) / relative;
}

inline std::string read_fixture(const std::string& relative) {
  std::ifstream in(fixture_path(relative), std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << relative;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline nlohmann::json read_json_fixture(const std::string& relative) {
  return nlohmann::json::parse(read_fixture(relative));
}

// Names (without extension) of the files in `dir` ending in `ext`, sorted.
inline std::vector<std::string> fixture_names(const std::string& dir, const std::string& ext) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(fixture_path(dir))) {
    std::string file = entry.path().filename().string();
    if (file.ends_with(ext)) names.push_back(file.substr(0, file.size() - ext.size()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline nlohmann::json usage_json(const Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"cached_tokens", usage.cached_tokens},
          {"cache_write_tokens", usage.cache_write_tokens},
          {"reasoning_tokens", usage.reasoning_tokens}};
}

inline nlohmann::json response_json(const ChatResponse& response, bool with_usage = true) {
  nlohmann::json choices = nlohmann::json::array();
  for (const auto& choice : response.choices) {
    nlohmann::json calls = nlohmann::json::array();
    for (const auto& call : choice.message.tool_calls) {
      calls.push_back({{"id", call.id}, {"name", call.name}, {"arguments", call.arguments}});
    }
    choices.push_back(
        {{"index", choice.index},
         {"content", choice.message.content_is_null ? nlohmann::json(nullptr)
                                                    : nlohmann::json(choice.message.text())},
         {"tool_calls", calls},
         {"finish_reason", std::string(to_string(choice.finish_reason))}});
  }
  return {{"model", response.model},
          {"choices", choices},
          {"usage", with_usage ? usage_json(response.usage) : nlohmann::json(nullptr)}};
}

// What one decode of a whole stream produced.
struct StreamRun {
  std::vector<ChatChunk> chunks;
  std::optional<Error> error;
  std::string error_at;  // "feed" or "finish"
};

inline StreamRun run_stream(const Translator& translator, std::string_view body, size_t piece) {
  StreamRun run;
  auto decoder = translator.make_stream_decoder();
  for (size_t at = 0; at < body.size(); at += piece) {
    auto status = decoder->feed(body.substr(at, piece), run.chunks);
    if (!status) {
      run.error = status.error();
      run.error_at = "feed";
      return run;
    }
  }
  if (auto status = decoder->finish(run.chunks); !status) {
    run.error = status.error();
    run.error_at = "finish";
  }
  return run;
}

// The summary compared with a fixture's expected JSON: the accumulated response, whether
// usage was reported, and the error (kind and where) if the stream failed.
inline nlohmann::json stream_json(const StreamRun& run) {
  ChatAccumulator accumulator;
  for (const auto& chunk : run.chunks) accumulator.add(chunk);
  bool saw_usage = accumulator.saw_usage();
  nlohmann::json out = response_json(std::move(accumulator).finish(), saw_usage);
  if (run.error) {
    out["error"] = {{"kind", std::string(to_string(run.error->kind))}, {"at", run.error_at}};
  } else {
    out["error"] = nullptr;
  }
  return out;
}

// Stream shape every decoder must keep: a choice's role comes first, nothing of a choice
// follows its finish chunk, and usage (at most once) comes after every finish.
inline void expect_well_formed(const std::vector<ChatChunk>& chunks) {
  std::map<int, int> state;  // choice -> 0 unseen, 1 open, 2 finished
  bool saw_usage = false;
  for (const auto& chunk : chunks) {
    if (chunk.usage) {
      EXPECT_FALSE(saw_usage) << "usage reported twice";
      saw_usage = true;
      EXPECT_FALSE(chunk.has_content());
      continue;
    }
    EXPECT_FALSE(saw_usage) << "chunk after the usage chunk";
    int& s = state[chunk.choice_index];
    if (s == 0) {
      EXPECT_TRUE(chunk.role.has_value()) << "first chunk of a choice carries no role";
      s = 1;
    }
    EXPECT_NE(s, 2) << "chunk after finish for choice " << chunk.choice_index;
    if (chunk.finish_reason != FinishReason::none) s = 2;
  }
}

}  // namespace sy::backends::testing

namespace sy::backends::testing {

// A cut stream must never pass for a complete one: every strict prefix of a complete fixture
// either fails or (when only trailing framing was cut) decodes to exactly the full result.
inline void expect_no_truncated_success(const Translator& translator, const std::string& body,
                                        const nlohmann::json& expected) {
  for (size_t length = 0; length < body.size(); ++length) {
    auto run = run_stream(translator, std::string_view(body).substr(0, length), length + 1);
    if (!run.error) {
      EXPECT_EQ(stream_json(run), expected) << "prefix of " << length << " bytes";
    }
  }
}

}  // namespace sy::backends::testing
