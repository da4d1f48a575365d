// `switchyard model pull NAME`: a known model's recorded URL (through SWITCHYARD_MODEL_MIRROR,
// here a loopback file server) and SHA-256, into the data directory's models/ where `serve`
// without a config finds it; and `serve` without a model saying how to get one.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "cli/known_models.h"
#include "gateway/cli/cli_process.h"
#include "gateway/cli/loopback_file_server.h"
#include "gateway/cli/temp_dir.h"

namespace sy::gateway {
namespace {

using testing::LoopbackFileServer;
using testing::read_file;
using testing::run_process;
using testing::switchyard_binary;
using testing::TempDir;

const std::filesystem::path kStories =
    std::filesystem::path(SWITCHYARD_MODELS_DIR) / "stories260K" / "stories260K.gguf";

// Sets an environment variable for the processes this test spawns.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

TEST(KnownModels, MirrorReplacesTheOrigin) {
  const KnownModel* stories = find_known_model("stories260K");
  ASSERT_NE(stories, nullptr);
  EXPECT_EQ(known_model_url(*stories, ""), stories->url);
  const std::string mirrored = known_model_url(*stories, "http://127.0.0.1:9/");
  EXPECT_TRUE(mirrored.starts_with("http://127.0.0.1:9/")) << mirrored;
  EXPECT_TRUE(mirrored.ends_with("/stories260K.gguf")) << mirrored;
  EXPECT_EQ(find_known_model("nope"), nullptr);
}

TEST(ModelPullKnown, FetchesTheRecordedFileIntoTheDataDirectorysModels) {
  const std::string body = read_file(kStories);
  ASSERT_FALSE(body.empty());
  const KnownModel* stories = find_known_model("stories260K");
  const std::string path = known_model_url(*stories, "http://h");  // "http://h/<path>"
  LoopbackFileServer server(
      {.path = path.substr(8), .body = body, .cut_responses = 1, .cut_after = 300'000});
  ScopedEnv mirror("SWITCHYARD_MODEL_MIRROR", "http://127.0.0.1:" + std::to_string(server.port()));
  TempDir data;
  auto r = run_process(
      {switchyard_binary(), "model", "pull", "stories260K", "--data-dir", data.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("sha256 verified"), std::string::npos) << r.out;
  EXPECT_EQ(read_file(data / "models" / "stories260K.gguf"), body);
}

TEST(ModelPullKnown, UnknownNameListsTheKnownOnes) {
  auto r = run_process({switchyard_binary(), "model", "pull", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("neither an http(s) URL nor a known model (stories260K"), std::string::npos)
      << r.err;
}

TEST(ModelPullKnown, WithoutNetworkSaysSo) {
  // Nothing listens on port 9 of the loopback: refused at once, like a machine offline.
  ScopedEnv mirror("SWITCHYARD_MODEL_MIRROR", "http://127.0.0.1:9");
  TempDir data;
  auto r = run_process({switchyard_binary(), "model", "pull", "stories260K", "--data-dir",
                        data.path().string(), "--attempts", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no network access?"), std::string::npos) << r.err;
}

TEST(ServeWithoutConfig, WithoutAModelSaysHowToFetchOne) {
  if (std::filesystem::exists("../shared/models/stories260K/stories260K.gguf")) {
    GTEST_SKIP() << "this working directory has the shared model";
  }
  TempDir data;
  auto r = run_process(
      {switchyard_binary(), "serve", "--listen", "127.0.0.1:0", "--data-dir", data.path().string()},
      std::chrono::seconds(20));
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("switchyard model pull stories260K"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sy::gateway
