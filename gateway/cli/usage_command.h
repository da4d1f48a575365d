#pragma once
// `switchyard usage [--config FILE] [--data-dir DIR] [--group-by G] [--from DAY] [--to DAY]
// [--tenant NAME] [--csv] [--savings]`: ledger totals read straight from the configured store
// (SQLite under the data directory, or PostgreSQL), the same numbers as GET /v1/usage; with
// --savings the savings report of GET /v1/usage/savings (spent, baseline, saving by rule and
// class, the local hardware's break-even). A table on stdout, or CSV with --csv. Exit 0 on
// success, 1 when the config or the store is unusable, 2 on bad arguments.

#include <string>

namespace CLI {
class App;
}

namespace sy::gateway {

struct UsageCommandOptions {
  std::string config_path;  // "" = the embedded default config
  std::string data_dir;     // overrides the config's
  std::string group_by = "tenant";
  std::string from, to;  // YYYY-MM-DD (UTC), inclusive
  std::string tenant;    // "" = every tenant
  bool csv = false;
  bool savings = false;
};

int run_usage(const UsageCommandOptions& options);

void add_usage_command(CLI::App& app, int& exit_code);

}  // namespace sy::gateway
