#include "ledger/ledger_query.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "ledger/ledger_store.h"

namespace sy::gateway {

namespace {

constexpr std::pair<UsageGroup, std::string_view> kGroups[] = {
    {UsageGroup::none, "none"},
    {UsageGroup::tenant, "tenant"},
    {UsageGroup::key, "key"},
    {UsageGroup::backend, "backend"},
    {UsageGroup::model, "model"},
    {UsageGroup::rule, "rule"},
    {UsageGroup::day, "day"},
    {UsageGroup::volume, "volume"},
    {UsageGroup::sensitivity, "sensitivity"},
};

std::string group_expression(UsageGroup group, SqlDialect dialect) {
  switch (group) {
    case UsageGroup::none:
      return "''";
    case UsageGroup::tenant:
      return "tenant";
    case UsageGroup::key:
      return "key_id";
    case UsageGroup::backend:
      return "backend";
    case UsageGroup::model:
      return "model";
    case UsageGroup::rule:
      return "rule";
    case UsageGroup::volume:
      return "volume";
    case UsageGroup::sensitivity:
      return "sensitivity";
    case UsageGroup::day:
      // Integer division floors for every time after 1970, as both engines' date functions do.
      return dialect == SqlDialect::sqlite
                 ? "strftime('%Y-%m-%d', time_ms / 1000, 'unixepoch')"
                 : "to_char(to_timestamp(time_ms / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
  }
  return "''";
}

}  // namespace

std::string_view to_string(UsageGroup group) {
  for (const auto& [g, name] : kGroups) {
    if (g == group) return name;
  }
  return "none";
}

std::optional<UsageGroup> usage_group_from(std::string_view text) {
  for (const auto& [g, name] : kGroups) {
    if (name == text) return g;
  }
  return std::nullopt;
}

UsageSql usage_sql(const UsageQuery& query, SqlDialect dialect) {
  UsageSql out;
  auto param = [&](std::string value) {
    out.params.push_back(std::move(value));
    return dialect == SqlDialect::sqlite ? std::string("?")
                                         : "$" + std::to_string(out.params.size());
  };
  // SUM over BIGINT is NUMERIC in PostgreSQL: cast back so both stores answer integers.
  auto sum = [](const std::string& expr) {
    return "CAST(COALESCE(SUM(" + expr + "), 0) AS BIGINT)";
  };
  auto count_status = [&](const char* status) {
    return sum(std::string("CASE WHEN status = '") + status + "' THEN 1 ELSE 0 END");
  };
  std::string where;
  if (query.from_ms) where += " AND time_ms >= " + param(std::to_string(*query.from_ms));
  if (query.to_ms) where += " AND time_ms < " + param(std::to_string(*query.to_ms));
  if (query.tenant) where += " AND tenant = " + param(*query.tenant);
  out.sql = "SELECT " + group_expression(query.group_by, dialect) + " AS usage_group, " +
            "CAST(COUNT(*) AS BIGINT), " + count_status("ok") + ", " + count_status("error") +
            ", " + count_status("denied") + ", " + count_status("cancelled") + ", " +
            sum("tokens_in") + ", " + sum("tokens_out") + ", " + sum("tokens_cached") + ", " +
            sum("tokens_reasoning") + ", " + sum("cost_micro_usd") + ", " +
            sum("baseline_cost_micro_usd") + " FROM ledger WHERE 1 = 1" + where +
            " GROUP BY usage_group";  // ordered by the caller: collations differ between stores
  return out;
}

std::optional<int64_t> parse_utc_day(std::string_view text) {
  using namespace std::chrono;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int parts[3] = {0, 0, 0};
  const std::pair<size_t, size_t> fields[] = {{0, 4}, {5, 2}, {8, 2}};
  for (int i = 0; i < 3; ++i) {
    const auto [at, len] = fields[i];
    const char* begin = text.data() + at;
    auto [end, ec] = std::from_chars(begin, begin + len, parts[i]);
    if (ec != std::errc() || end != begin + len) return std::nullopt;
  }
  const year_month_day ymd{year(parts[0]), month(static_cast<unsigned>(parts[1])),
                           day(static_cast<unsigned>(parts[2]))};
  if (!ymd.ok() || parts[0] < 1970) return std::nullopt;
  return duration_cast<milliseconds>(sys_days(ymd).time_since_epoch()).count();
}

std::string format_utc_day(int64_t unix_ms) {
  using namespace std::chrono;
  const year_month_day ymd(floor<days>(sys_time<milliseconds>(milliseconds(unix_ms))));
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return text;
}

std::optional<std::string> set_usage_days(UsageQuery& query, std::string_view from,
                                          std::string_view to) {
  constexpr int64_t kDayMs = 86'400'000;
  if (!from.empty()) {
    query.from_ms = parse_utc_day(from);
    if (!query.from_ms) return "from must be a date YYYY-MM-DD (UTC)";
  }
  if (!to.empty()) {
    const auto day = parse_utc_day(to);
    if (!day) return "to must be a date YYYY-MM-DD (UTC)";
    query.to_ms = *day + kDayMs;  // the whole `to` day
  }
  if (query.from_ms && query.to_ms && *query.from_ms >= *query.to_ms) return "from is after to";
  return std::nullopt;
}

void sort_usage(std::vector<UsageTotals>& totals) {
  std::sort(totals.begin(), totals.end(),
            [](const UsageTotals& a, const UsageTotals& b) { return a.group < b.group; });
}

std::unique_ptr<LedgerQuery> open_ledger_query(const GatewayConfig& config) {
  if (!config.ledger.enabled) return nullptr;
  if (config.ledger.store == LedgerStore::postgres) {
    return open_postgres_ledger_query(config.ledger.url);
  }
  if (config.data_dir.empty()) return nullptr;
  return open_sqlite_ledger_query(sqlite_ledger_path(config).string());
}

}  // namespace sy::gateway
