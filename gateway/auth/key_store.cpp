#include "switchyard/gateway/key_store.h"

#include <algorithm>

#include <openssl/crypto.h>

#include <cctype>
#include <stdexcept>
#include <string_view>

namespace sy::gateway {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The presented key, or "" when none of the accepted headers carries one.
std::string_view presented_key(const backends::Headers& headers) {
  if (auto auth = backends::find_header(headers, "authorization")) {
    const std::string_view value = trim(*auth);
    constexpr std::string_view kScheme = "bearer ";
    if (value.size() > kScheme.size() && iequals(value.substr(0, kScheme.size()), kScheme)) {
      const std::string_view key = trim(value.substr(kScheme.size()));
      if (!key.empty()) return key;
    }
  }
  for (std::string_view name : {"x-api-key", "api-key"}) {
    if (auto value = backends::find_header(headers, name)) {
      const std::string_view key = trim(*value);
      if (!key.empty()) return key;
    }
  }
  return {};
}

backends::Error auth_error(std::string message, std::string code) {
  return backends::Error{.kind = backends::ErrorKind::authentication,
                         .message = std::move(message),
                         .code = std::move(code)};
}

}  // namespace

KeyStore::KeyStore(const GatewayConfig& config) : requires_keys_(config.requires_keys()) {
  entries_.reserve(config.keys.size());
  for (const ApiKeyConfig& key : config.keys) {
    auto digest = parse_sha256_hex(key.sha256_hex);
    // The loader validates digests; a hand-built config with a bad one is a programming error.
    if (!digest) throw std::invalid_argument("key " + key.id + ": malformed SHA-256 digest");
    entries_.push_back(
        Entry{.digest = *digest, .id = key.id, .tenant = key.tenant, .role = key.role});
  }
  for (const TenantConfig& tenant : config.tenants) {
    if (!tenant.allowed_models.empty()) allowed_models_[tenant.name] = tenant.allowed_models;
  }
}

bool KeyStore::model_allowed(const Principal& principal, std::string_view model) const {
  if (principal.anonymous) return true;
  auto it = allowed_models_.find(principal.tenant);
  if (it == allowed_models_.end()) return true;
  return std::find(it->second.begin(), it->second.end(), model) != it->second.end();
}

backends::Result<Principal> KeyStore::authenticate(const backends::Headers& headers) const {
  if (!requires_keys_) {
    return Principal{.tenant = kDefaultTenant, .role = KeyRole::admin, .anonymous = true};
  }
  const std::string_view key = presented_key(headers);
  if (key.empty()) {
    return std::unexpected(auth_error(
        "Missing API key. Provide your API key in an Authorization header using Bearer auth "
        "(Authorization: Bearer YOUR_KEY), or in an x-api-key header.",
        "missing_api_key"));
  }
  const Sha256Digest digest = sha256(key);
  // Visit every entry whatever matches; remember the match without branching on secrets.
  size_t match = entries_.size();
  for (size_t i = 0; i < entries_.size(); ++i) {
    const bool equal = CRYPTO_memcmp(digest.data(), entries_[i].digest.data(), digest.size()) == 0;
    // Loader rejects duplicate digests, so at most one entry matches.
    const size_t mask = static_cast<size_t>(0) - static_cast<size_t>(equal);
    match = (i & mask) | (match & ~mask);
  }
  if (match == entries_.size()) {
    return std::unexpected(auth_error("Incorrect API key provided.", "invalid_api_key"));
  }
  const Entry& entry = entries_[match];
  return Principal{.tenant = entry.tenant, .key_id = entry.id, .role = entry.role};
}

}  // namespace sy::gateway
