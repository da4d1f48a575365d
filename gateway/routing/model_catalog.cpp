#include "routing/model_catalog.h"

#include <set>

namespace sy::gateway {

using backends::Candidate;
using backends::ErrorKind;

ModelCatalog::ModelCatalog(const GatewayConfig& config, BackendMap backends)
    : backends_(std::move(backends)) {
  std::set<std::string, std::less<>> seen;
  for (const auto& alias : config.models) {
    std::vector<Candidate> targets;
    for (const auto& target : alias.targets) {
      auto it = backends_.find(target.backend);
      if (it != backends_.end()) targets.push_back(Candidate{it->second, target.model});
    }
    aliases_[alias.name] = std::move(targets);
    if (seen.insert(alias.name).second) models_.push_back({alias.name, "switchyard"});
  }
  for (const auto& backend : config.backends) {
    auto it = backends_.find(backend.name);
    if (it == backends_.end()) continue;
    for (const auto& model : backend.models) {
      listed_.emplace_back(model, Candidate{it->second, model});
      if (seen.insert(model).second) {
        models_.push_back({model, backend.name, it->second->context_length(model)});
      }
    }
  }
}

backends::Result<std::vector<Candidate>> ModelCatalog::resolve(std::string_view model) const {
  if (auto it = aliases_.find(model); it != aliases_.end() && !it->second.empty()) {
    return it->second;
  }
  std::vector<Candidate> out;
  for (const auto& [name, candidate] : listed_) {
    if (name == model) out.push_back(candidate);
  }
  if (!out.empty()) return out;
  if (auto slash = model.find('/'); slash != std::string_view::npos) {
    if (auto it = backends_.find(model.substr(0, slash)); it != backends_.end()) {
      return std::vector<Candidate>{Candidate{it->second, std::string(model.substr(slash + 1))}};
    }
  }
  auto error = backends::Error{
      .kind = ErrorKind::not_found,
      .message = "The model '" + std::string(model.substr(0, 200)) + "' does not exist",
      .param = "model"};
  return std::unexpected(std::move(error));
}

std::vector<CatalogModel> ModelCatalog::list() const { return models_; }

}  // namespace sy::gateway
