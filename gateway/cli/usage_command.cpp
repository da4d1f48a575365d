#include "cli/usage_command.h"

#include <cstdio>
#include <exception>
#include <memory>
#include <vector>

#include <CLI/CLI.hpp>

#include "ledger/ledger_query.h"
#include "switchyard/gateway/config_loader.h"

namespace sy::gateway {

namespace {

// CSV field: quoted when it holds a separator, a quote or a line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

std::vector<std::string> cells(const UsageTotals& t) {
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.4f", t.error_rate());
  return {std::to_string(t.requests),      std::to_string(t.errors),
          rate,                            std::to_string(t.tokens_in),
          std::to_string(t.tokens_out),    std::to_string(t.tokens_cached),
          backends::format_usd(t.cost),    backends::format_usd(t.baseline_cost),
          backends::format_usd(t.savings())};
}

void print(const std::vector<std::vector<std::string>>& rows, bool csv) {
  if (csv) {
    for (const auto& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) {
        std::printf("%s%s", i ? "," : "", csv_field(row[i]).c_str());
      }
      std::printf("\n");
    }
    return;
  }
  std::vector<size_t> width(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    if (r + 1 == rows.size() && rows.size() > 2) {  // a rule above the total
      for (size_t i = 0; i < width.size(); ++i) {
        std::printf("%s%s", i ? "  " : "", std::string(width[i], '-').c_str());
      }
      std::printf("\n");
    }
    for (size_t i = 0; i < rows[r].size(); ++i) {
      // The group name reads left-aligned, numbers right-aligned.
      std::printf(i == 0 ? "%-*s" : "  %*s", static_cast<int>(width[i]), rows[r][i].c_str());
    }
    std::printf("\n");
  }
}

}  // namespace

int run_usage(const UsageCommandOptions& options) {
  UsageQuery query;
  const auto group = usage_group_from(options.group_by);
  if (!group) {
    std::fprintf(stderr,
                 "usage: --group-by must be one of tenant, key, backend, model, rule, day, "
                 "volume, sensitivity, none\n");
    return 2;
  }
  query.group_by = *group;
  if (auto problem = set_usage_days(query, options.from, options.to)) {
    std::fprintf(stderr, "usage: %s\n", problem->c_str());
    return 2;
  }
  if (!options.tenant.empty()) query.tenant = options.tenant;
  try {
    ConfigPtr config =
        options.config_path.empty() ? default_config() : load_config_file(options.config_path);
    if (!options.data_dir.empty()) {
      auto copy = std::make_shared<GatewayConfig>(*config);
      copy->data_dir = options.data_dir;
      config = copy;
    }
    auto store = open_ledger_query(*config);
    if (!store) {
      std::fprintf(stderr, "usage: the ledger is disabled in this config\n");
      return 1;
    }
    const std::vector<UsageTotals> groups = store->aggregate(query);
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header = {std::string(to_string(query.group_by)),
                                       "requests",
                                       "errors",
                                       "error_rate",
                                       "tokens_in",
                                       "tokens_out",
                                       "tokens_cached",
                                       "cost_usd",
                                       "baseline_usd",
                                       "savings_usd"};
    rows.push_back(header);
    UsageTotals total;
    total.group = "total";
    for (const UsageTotals& g : groups) {
      if (query.group_by != UsageGroup::none) {
        std::vector<std::string> row = {g.group.empty() ? "(none)" : g.group};
        for (auto& cell : cells(g)) row.push_back(std::move(cell));
        rows.push_back(std::move(row));
      }
      total.requests += g.requests;
      total.errors += g.errors;
      total.tokens_in += g.tokens_in;
      total.tokens_out += g.tokens_out;
      total.tokens_cached += g.tokens_cached;
      total.cost += g.cost;
      total.baseline_cost += g.baseline_cost;
    }
    std::vector<std::string> last = {"total"};
    for (auto& cell : cells(total)) last.push_back(std::move(cell));
    rows.push_back(std::move(last));
    print(rows, options.csv);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "usage: %s\n", e.what());
    return 1;
  }
}

void add_usage_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<UsageCommandOptions>();
  CLI::App* cmd = app.add_subcommand("usage", "Tokens, cost, baseline and savings from the ledger");
  cmd->add_option("--config", options->config_path, "YAML config file (none: embedded default)");
  cmd->add_option("--data-dir", options->data_dir, "Data directory (the SQLite ledger's)");
  cmd->add_option("--group-by", options->group_by,
                  "tenant|key|backend|model|rule|day|volume|sensitivity|none (default tenant)");
  cmd->add_option("--from", options->from, "First day, YYYY-MM-DD (UTC)");
  cmd->add_option("--to", options->to, "Last day, YYYY-MM-DD (UTC), inclusive");
  cmd->add_option("--tenant", options->tenant, "Only this tenant's rows");
  cmd->add_flag("--csv", options->csv, "CSV instead of a table");
  cmd->callback([options, &exit_code] { exit_code = run_usage(*options); });
}

}  // namespace sy::gateway
