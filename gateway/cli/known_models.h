#pragma once
// The models `switchyard model pull NAME` knows: where each file is published and its SHA-256,
// so a name downloads exactly the bytes recorded here. SWITCHYARD_MODEL_MIRROR, when set,
// replaces the origin of every URL (air-gapped sites keep a mirror with the same paths).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sy::gateway {

struct KnownModel {
  std::string_view name;       // what users type: `switchyard model pull stories260K`
  std::string_view url;        // the published file
  std::string_view sha256;     // of the file's bytes, lower-case hex
  std::string_view file_name;  // written under this name
  std::string_view about;
};

const std::vector<KnownModel>& known_models();
const KnownModel* find_known_model(std::string_view name);

// `model.url` with its scheme and host replaced by `mirror` (e.g. "http://10.0.0.5:8000"), or
// as published when `mirror` is empty.
std::string known_model_url(const KnownModel& model, std::string_view mirror);

}  // namespace sy::gateway
