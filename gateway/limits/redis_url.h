#pragma once
// `redis://[[user]:password@]host[:port][/db]` (RFC-style Redis URL; default port 6379, db 0).
// The password may come from the environment (${REDIS_PASSWORD}); it is never put in a message.

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace sy::gateway {

struct RedisAddress {
  std::string host;
  uint16_t port = 6379;
  std::string user;      // "" = the default user
  std::string password;  // "" = no AUTH
  int db = 0;
};

// Errors describe the shape only, never the URL's text (it may hold a password).
std::expected<RedisAddress, std::string> parse_redis_url(std::string_view url);

}  // namespace sy::gateway
