#pragma once
// Resolves the model a client names into the ordered backends that may serve it:
//   1. an alias from the config (`fast: [openai/gpt-4o-mini, anthropic/claude-3-5-haiku]`);
//   2. "backend/model" naming a configured backend explicitly;
//   3. a model name listed under some backend's `models:` (in config order).
// The policy engine (policies/) narrows this list further; fallback never leaves it.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/fallback.h"
#include "switchyard/gateway/config.h"

namespace sy::gateway {

struct CatalogModel {
  std::string id;        // what /v1/models lists
  std::string owned_by;  // "switchyard" for aliases, else the backend name
  std::optional<int64_t> context_length;  // tokens, when the backend knows (local models)
};

class ModelCatalog {
 public:
  using BackendMap = std::map<std::string, std::shared_ptr<backends::Backend>, std::less<>>;

  ModelCatalog(const GatewayConfig& config, BackendMap backends);

  backends::Result<std::vector<backends::Candidate>> resolve(std::string_view model) const;
  std::vector<CatalogModel> list() const;
  size_t backend_count() const { return backends_.size(); }
  const BackendMap& backends() const { return backends_; }

 private:
  BackendMap backends_;
  std::map<std::string, std::vector<backends::Candidate>, std::less<>> aliases_;
  std::vector<std::pair<std::string, backends::Candidate>> listed_;  // (model, candidate)
  std::vector<CatalogModel> models_;
};

}  // namespace sy::gateway
