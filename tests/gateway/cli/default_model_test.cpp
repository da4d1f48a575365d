#include "cli/default_model.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "gateway/cli/temp_dir.h"
#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const fs::path kStories = fs::path(SWITCHYARD_MODELS_DIR) / "stories260K" / "stories260K.gguf";

TEST(DefaultModel, ModelOptionComesFirst) {
  TempDir data;
  fs::create_directories(data / "models");
  data.write("models/other.gguf", "x");
  auto found = find_default_model(kStories.string(), data.path(), data.path());
  ASSERT_TRUE(found) << found.error();
  EXPECT_EQ(*found, fs::absolute(kStories));
  auto missing = find_default_model("/nowhere/m.gguf", data.path(), data.path());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), "--model /nowhere/m.gguf: no such file");
}

TEST(DefaultModel, ThenTheFirstGgufOfTheDataDirectorysModels) {
  TempDir data;
  fs::create_directories(data / "models");
  data.write("models/b.gguf", "x");
  data.write("models/a.gguf", "x");
  data.write("models/0-notes.txt", "x");
  auto found = find_default_model("", data.path(), data.path());
  ASSERT_TRUE(found) << found.error();
  EXPECT_EQ(*found, data / "models" / "a.gguf");
}

TEST(DefaultModel, ThenTheSharedStoriesBesideTheCheckout) {
  TempDir root;
  fs::create_directories(root / "checkout");
  fs::create_directories(root / "shared/models/stories260K");
  root.write("shared/models/stories260K/stories260K.gguf", "x");
  TempDir data;
  auto found = find_default_model("", data.path(), root / "checkout");
  ASSERT_TRUE(found) << found.error();
  EXPECT_EQ(*found, fs::canonical(root / "shared/models/stories260K/stories260K.gguf"));
}

TEST(DefaultModel, ElseSaysHowToFetchOne) {
  TempDir data;
  // A working directory whose parent is ours, whatever lies beside the system temp dir.
  fs::create_directories(data / "checkout");
  auto found = find_default_model("", data.path(), data / "checkout");
  ASSERT_FALSE(found);
  EXPECT_NE(
      found.error().find("switchyard model pull stories260K -o " + (data / "models").string()),
      std::string::npos)
      << found.error();
  EXPECT_NE(found.error().find("--model"), std::string::npos);
}

TEST(DefaultModel, ConfigServesItThroughALocalBackendUnderItsNameAndDefault) {
  GatewayConfig base = *default_config();
  base.listen.port = 1234;
  base.data_dir = "/data";
  ConfigPtr config = default_model_config(base, kStories);
  EXPECT_EQ(config->listen.port, 1234);
  EXPECT_EQ(config->data_dir, "/data");
  EXPECT_FALSE(config->requires_keys());
  ASSERT_EQ(config->backends.size(), 1u);
  const BackendConfig& b = config->backends[0];
  EXPECT_EQ(b.name, "local");
  EXPECT_EQ(b.protocol, "local");
  EXPECT_EQ(b.models, std::vector<std::string>{"stories260K"});
  ASSERT_EQ(b.local.models.size(), 1u);
  EXPECT_EQ(b.local.models[0].path, kStories);
  EXPECT_EQ(b.local.models[0].chat_template, "plain");
  ASSERT_EQ(config->models.size(), 1u);
  EXPECT_EQ(config->models[0].name, "default");
  EXPECT_EQ(config->models[0].targets[0].backend, "local");
  EXPECT_EQ(config->models[0].targets[0].model, "stories260K");
}

}  // namespace
}  // namespace sy::gateway
