#include "cli/usage_command.h"

#include <cstdio>
#include <exception>
#include <memory>
#include <vector>

#include <CLI/CLI.hpp>

#include "ledger/ledger_query.h"
#include "ledger/savings_report.h"
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
  return {std::to_string(t.requests),
          std::to_string(t.errors),
          rate,
          std::to_string(t.tokens_in),
          std::to_string(t.tokens_out),
          std::to_string(t.tokens_cached),
          backends::format_usd(t.cost),
          backends::format_usd(t.baseline_cost),
          backends::format_usd(t.savings())};
}

void print(const std::vector<std::vector<std::string>>& rows, bool csv, bool total_rule = true) {
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
    if (total_rule && r + 1 == rows.size() && rows.size() > 2) {  // a rule above the total
      for (size_t i = 0; i < width.size(); ++i) {
        std::printf("%s%s", i ? "  " : "", std::string(width[i], '-').c_str());
      }
      std::printf("\n");
    }
    std::string line;
    for (size_t i = 0; i < rows[r].size(); ++i) {
      // The group name reads left-aligned, numbers right-aligned.
      const std::string& cell = rows[r][i];
      const std::string pad(width[i] - cell.size(), ' ');
      line += i == 0 ? cell + pad : "  " + pad + cell;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  }
}

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// The savings report: one table (or CSV) with a section column, so it stays one shape.
void print_savings(const SavingsReport& report, bool csv) {
  std::vector<std::vector<std::string>> rows = {
      {"section", "name", "requests", "tokens", "cost_usd", "baseline_usd", "savings_usd",
       "break_even_tok_per_h", "break_even_utilization", "period_hardware_usd", "net_saving_usd"}};
  auto add = [&](const char* section, const UsageTotals& t) {
    rows.push_back({section, t.group.empty() ? "(none)" : t.group, std::to_string(t.requests),
                    std::to_string(t.tokens_in + t.tokens_out), backends::format_usd(t.cost),
                    backends::format_usd(t.baseline_cost), backends::format_usd(t.savings()), "",
                    "", "", ""});
  };
  UsageTotals total = report.total;
  total.group = "all";
  add("total", total);
  for (const auto& t : report.by_rule) add("rule", t);
  for (const auto& t : report.by_volume) add("volume", t);
  for (const auto& t : report.by_sensitivity) add("sensitivity", t);
  for (const BreakEven& b : report.break_even) {
    rows.push_back(
        {"break_even", b.backend, "", std::to_string(b.tokens_served), backends::format_usd(b.cost),
         backends::format_usd(b.baseline_cost), backends::format_usd(b.baseline_cost - b.cost),
         b.break_even_tokens_per_hour ? std::to_string(*b.break_even_tokens_per_hour) : "",
         b.break_even_utilization ? fixed(*b.break_even_utilization, 4) : "",
         b.hardware_cost_for_period ? backends::format_usd(*b.hardware_cost_for_period) : "",
         b.net_saving ? backends::format_usd(*b.net_saving) : ""});
  }
  if (!csv) {
    std::printf("spent %s, baseline %s, saving %s\n\n", backends::format_usd(total.cost).c_str(),
                backends::format_usd(total.baseline_cost).c_str(),
                backends::format_usd(total.savings()).c_str());
  }
  print(rows, csv, /*total_rule=*/false);
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
    if (options.savings) {
      print_savings(savings_report(*config, *store, query), options.csv);
      return 0;
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
  cmd->add_flag("--savings", options->savings,
                "Savings report: spent vs baseline by rule and class, local break-even");
  cmd->callback([options, &exit_code] { exit_code = run_usage(*options); });
}

}  // namespace sy::gateway
