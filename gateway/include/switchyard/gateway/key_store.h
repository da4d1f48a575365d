#pragma once
// API keys -> who is calling. Built once from the config; immutable afterwards, so one
// KeyStore may be shared by every connection and thread without locking.
//
// Keys are held only as SHA-256 digests. A presented key is hashed and compared against
// every stored digest in constant time, without stopping at the first match, so response
// timing reveals neither which key matched nor how much of a key was right.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/backends/error.h"
#include "switchyard/backends/http_types.h"
#include "switchyard/gateway/config.h"
#include "switchyard/gateway/sha256.h"

namespace sy::gateway {

struct Principal {
  std::string tenant;
  std::string key_id;  // "" when anonymous
  KeyRole role = KeyRole::user;
  bool anonymous = false;
};

class KeyStore {
 public:
  // The tenant of an anonymous caller when the config requires no keys.
  static constexpr const char* kDefaultTenant = "default";

  explicit KeyStore(const GatewayConfig& config);

  // Reads `authorization: Bearer <key>`, else `x-api-key` (Anthropic SDKs), else `api-key`
  // (Azure SDKs); header names are lower-case. Missing or unknown key: authentication.
  // With no keys required: an anonymous admin principal of tenant "default".
  backends::Result<Principal> authenticate(const backends::Headers& headers) const;

  // Whether the principal's tenant may use `model` (as the client named it). A tenant without
  // an allow-list, and the anonymous principal, may use every model.
  bool model_allowed(const Principal& principal, std::string_view model) const;

  bool requires_keys() const { return requires_keys_; }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Sha256Digest digest;
    std::string id;
    std::string tenant;
    KeyRole role = KeyRole::user;
  };

  bool requires_keys_ = false;
  std::vector<Entry> entries_;
  std::map<std::string, std::vector<std::string>, std::less<>> allowed_models_;  // by tenant
};

}  // namespace sy::gateway
