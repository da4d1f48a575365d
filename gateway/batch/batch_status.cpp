// BatchStatus names and what each store shares about them.

#include "batch/batch_store.h"

#include <nlohmann/json.hpp>

namespace sy::gateway {

std::string_view to_string(BatchStatus status) {
  switch (status) {
    case BatchStatus::validating:
      return "validating";
    case BatchStatus::failed:
      return "failed";
    case BatchStatus::in_progress:
      return "in_progress";
    case BatchStatus::finalizing:
      return "finalizing";
    case BatchStatus::completed:
      return "completed";
    case BatchStatus::expired:
      return "expired";
    case BatchStatus::cancelling:
      return "cancelling";
    case BatchStatus::cancelled:
      return "cancelled";
  }
  return "failed";
}

std::optional<BatchStatus> batch_status_from(std::string_view text) {
  for (BatchStatus s : {BatchStatus::validating, BatchStatus::failed, BatchStatus::in_progress,
                        BatchStatus::finalizing, BatchStatus::completed, BatchStatus::expired,
                        BatchStatus::cancelling, BatchStatus::cancelled}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

bool is_unfinished(BatchStatus status) {
  return status == BatchStatus::validating || status == BatchStatus::in_progress ||
         status == BatchStatus::finalizing || status == BatchStatus::cancelling;
}

std::string_view status_time_column(BatchStatus to) {
  switch (to) {
    case BatchStatus::cancelling:
      return "cancelling_at";
    case BatchStatus::cancelled:
      return "cancelled_at";
    case BatchStatus::in_progress:
      return "in_progress_at";
    case BatchStatus::finalizing:
      return "finalizing_at";
    case BatchStatus::completed:
      return "completed_at";
    case BatchStatus::failed:
      return "failed_at";
    case BatchStatus::expired:
      return "expired_at";
    case BatchStatus::validating:
      return "created_at";
  }
  return "created_at";
}

std::string vendor_batch_lines_to_json(const std::vector<VendorBatchLine>& lines) {
  nlohmann::json out = nlohmann::json::array();
  for (const VendorBatchLine& line : lines) {
    out.push_back({{"line", line.line}, {"custom_id", line.custom_id}, {"row", line.row_json}});
  }
  return out.dump();
}

std::vector<VendorBatchLine> vendor_batch_lines_from_json(const std::string& json) {
  std::vector<VendorBatchLine> out;
  const nlohmann::json lines = nlohmann::json::parse(json, nullptr, false);
  if (!lines.is_array()) return out;
  for (const auto& l : lines) {
    if (!l.is_object()) continue;
    out.push_back({.line = l.value("line", int64_t{-1}),
                   .custom_id = l.value("custom_id", ""),
                   .row_json = l.value("row", "")});
  }
  return out;
}

}  // namespace sy::gateway
