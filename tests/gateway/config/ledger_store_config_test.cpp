// The ledger's store selection: sqlite by default, postgres with a url taken from the
// environment and never echoed in an error.

#include <gtest/gtest.h>

#include "gateway/config/config_test_env.h"
#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {
namespace {

using testing::test_env;

std::string ledger_error(std::string_view text) {
  try {
    load_config_string(text, "test.yaml",
                       test_env({{"LEDGER_PG_URL", "postgresql://sy:hunter2@db:5432/ledger"}}));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(LedgerStoreConfig, DefaultsToSqlite) {
  auto config = load_config_string("", "test.yaml", test_env());
  EXPECT_EQ(config->ledger.store, LedgerStore::sqlite);
  EXPECT_TRUE(config->ledger.url.empty());
}

TEST(LedgerStoreConfig, ReadsPostgresWithItsUrlFromTheEnvironment) {
  auto config = load_config_string(
      "ledger:\n  store: postgres\n  url: ${LEDGER_PG_URL}\n  max_batch: 100\n", "test.yaml",
      test_env({{"LEDGER_PG_URL", "postgresql://sy:hunter2@db:5432/ledger"}}));
  EXPECT_EQ(config->ledger.store, LedgerStore::postgres);
  EXPECT_EQ(config->ledger.url, "postgresql://sy:hunter2@db:5432/ledger");
  EXPECT_EQ(config->ledger.max_batch, 100u);
}

TEST(LedgerStoreConfig, RefusesIncompleteOrUnknownStoresWithoutEchoingTheUrl) {
  EXPECT_NE(ledger_error("ledger: {store: postgres}\n").find("store: postgres needs a url"),
            std::string::npos);
  EXPECT_NE(ledger_error("ledger: {store: mysql}\n").find("must be sqlite or postgres"),
            std::string::npos);
  const std::string misplaced = ledger_error("ledger:\n  url: ${LEDGER_PG_URL}\n");
  EXPECT_NE(misplaced.find("is for store: postgres"), std::string::npos) << misplaced;
  EXPECT_EQ(misplaced.find("hunter2"), std::string::npos) << misplaced;
}

}  // namespace
}  // namespace sy::gateway
