#pragma once
// SHA-256 for API keys at rest: keys are hashed when the config is loaded and when a request
// presents one; only digests are kept. (Implemented in gateway/auth/ with OpenSSL EVP.)

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace sy::gateway {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest sha256(std::string_view data);

// Lower-case hex of sha256(data): 64 characters.
std::string sha256_hex(std::string_view data);

// 64 hex digits (either case) -> digest; nullopt when malformed.
std::optional<Sha256Digest> parse_sha256_hex(std::string_view hex);

}  // namespace sy::gateway
