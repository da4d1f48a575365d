#pragma once
// An in-process gateway in front of in-process fake vendors, on 127.0.0.1 port 0, with every
// deadline in milliseconds so fault tests take well under a second each.

#include <memory>
#include <string>
#include <vector>

#include "fakes/fake_vendor.h"
#include "gateway/test_http_client.h"
#include "switchyard/gateway/gateway.h"

namespace sy::testing {

inline gateway::BackendConfig fake_backend(const std::string& name, const std::string& protocol,
                                           const fakes::FakeVendor& fake, fakes::Vendor vendor,
                                           const std::string& key) {
  gateway::BackendConfig b;
  b.name = name;
  b.protocol = protocol;
  b.endpoint.base_url = fake.base_url(vendor);
  b.endpoint.api_key = key;
  b.endpoint.api_version = protocol == "azure" ? "2024-10-21" : "";
  b.timeouts = {.connect = std::chrono::milliseconds(500),
                .first_byte = std::chrono::milliseconds(400),
                .idle = std::chrono::milliseconds(300),
                .total = std::chrono::milliseconds(5000)};
  b.retry.max_attempts = 1;
  b.retry.initial_backoff = std::chrono::milliseconds(10);
  b.retry.max_backoff = std::chrono::milliseconds(50);
  b.retry.max_retry_after = std::chrono::milliseconds(200);
  b.breaker.failure_threshold = 1000;
  return b;
}

class GatewayUnderTest {
 public:
  explicit GatewayUnderTest(std::shared_ptr<gateway::GatewayConfig> config) {
    config->limits.io_threads = 2;
    config->limits.drain_timeout = std::chrono::milliseconds(1000);
    gateway_ = std::make_unique<gateway::Gateway>(config);
    port_ = gateway_->start("127.0.0.1", 0);
  }
  ~GatewayUnderTest() {
    gateway_->shutdown();
    gateway_->wait();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  gateway::Gateway& gateway() { return *gateway_; }
  uint16_t port() const { return port_; }

 private:
  std::unique_ptr<gateway::Gateway> gateway_;
  uint16_t port_ = 0;
};

}  // namespace sy::testing
