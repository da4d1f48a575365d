#pragma once
// The gateway's RequestHandler: request ids, authentication, the OpenAI surface routes and
// the health endpoints. Knows nothing of the transport (see http_server.h).
//
//   POST /v1/chat/completions   POST /v1/completions   GET /v1/models
//   GET /healthz (alive)        GET /readyz (serving: not draining and a backend configured)

#include <atomic>
#include <memory>

#include "routing/model_catalog.h"
#include "switchyard/gateway/config.h"
#include "switchyard/gateway/http_server.h"
#include "switchyard/gateway/key_store.h"

namespace sy::gateway {

class ApiHandler : public RequestHandler {
 public:
  ApiHandler(ConfigPtr config, std::shared_ptr<const ModelCatalog> catalog);

  void handle(ServerRequest request, std::shared_ptr<ResponseWriter> writer) override;
  void reject(const ServerRequest& request, const backends::Error& error,
              ResponseWriter& writer) override;

  void set_draining() { draining_ = true; }

 private:
  void chat(const ServerRequest& request, const Principal& principal, bool legacy,
            std::string request_id, std::shared_ptr<ResponseWriter> writer);
  void models(const std::string& request_id, ResponseWriter& writer);

  ConfigPtr config_;
  std::shared_ptr<const ModelCatalog> catalog_;
  KeyStore keys_;
  std::atomic<bool> draining_{false};
};

}  // namespace sy::gateway
