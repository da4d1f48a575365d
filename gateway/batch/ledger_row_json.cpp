#include "batch/ledger_row_json.h"

#include <nlohmann/json.hpp>

namespace sy::gateway {

std::string ledger_row_to_json(const LedgerRow& r) {
  nlohmann::json j = {{"time_ms", r.time_ms},
                      {"request_id", r.request_id},
                      {"tenant", r.tenant},
                      {"key_id", r.key_id},
                      {"surface", r.surface},
                      {"endpoint", r.endpoint},
                      {"stream", r.stream},
                      {"backend", r.backend},
                      {"model", r.model},
                      {"rule", r.rule},
                      {"sensitivity", r.sensitivity},
                      {"volume", r.volume},
                      {"difficulty", r.difficulty},
                      {"prompt_tokens", r.usage.prompt_tokens},
                      {"completion_tokens", r.usage.completion_tokens},
                      {"cached_tokens", r.usage.cached_tokens},
                      {"cache_write_tokens", r.usage.cache_write_tokens},
                      {"reasoning_tokens", r.usage.reasoning_tokens},
                      {"usage_estimated", r.usage_estimated},
                      {"cost", r.cost},
                      {"baseline_cost", r.baseline_cost},
                      {"price_source", r.price_source},
                      {"latency_ms", r.latency_ms},
                      {"status", to_string(r.status)},
                      {"error_kind", r.error_kind},
                      {"http_status", r.http_status}};
  if (r.ttft_ms) j["ttft_ms"] = *r.ttft_ms;
  return j.dump();
}

std::optional<LedgerRow> ledger_row_from_json(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    LedgerRow r;
    r.time_ms = j.at("time_ms");
    r.request_id = j.at("request_id");
    r.tenant = j.at("tenant");
    r.key_id = j.at("key_id");
    r.surface = j.at("surface");
    r.endpoint = j.at("endpoint");
    r.stream = j.at("stream");
    r.backend = j.at("backend");
    r.model = j.at("model");
    r.rule = j.at("rule");
    r.sensitivity = j.at("sensitivity");
    r.volume = j.at("volume");
    r.difficulty = j.at("difficulty");
    r.usage.prompt_tokens = j.at("prompt_tokens");
    r.usage.completion_tokens = j.at("completion_tokens");
    r.usage.cached_tokens = j.at("cached_tokens");
    r.usage.cache_write_tokens = j.at("cache_write_tokens");
    r.usage.reasoning_tokens = j.at("reasoning_tokens");
    r.usage_estimated = j.at("usage_estimated");
    r.cost = j.at("cost");
    r.baseline_cost = j.at("baseline_cost");
    r.price_source = j.at("price_source");
    r.latency_ms = j.at("latency_ms");
    if (j.contains("ttft_ms")) r.ttft_ms = j.at("ttft_ms").get<int64_t>();
    auto status = ledger_status_from(j.at("status").get<std::string>());
    if (!status) return std::nullopt;
    r.status = *status;
    r.error_kind = j.at("error_kind");
    r.http_status = j.at("http_status");
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace sy::gateway
