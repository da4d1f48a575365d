#include "switchyard/gateway/gateway.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>

#include "api/api_handler.h"
#include "batch/batch_service.h"
#include "batch/postgres_batch_store.h"
#include "batch/vendor_batch_runner.h"
#include "ledger/request_pricer.h"
#include "ledger/ledger_store.h"
#include "limits/limiter.h"
#include "metrics/gateway_collectors.h"
#include "routing/model_catalog.h"
#include "switchyard/backends/http_backend.h"
#include "switchyard/backends/http_client.h"
#include "switchyard/backends/local_backend.h"
#include "switchyard/backends/vendor_batch.h"
#include "switchyard/gateway/event_loop.h"
#include "switchyard/gateway/http_server.h"

namespace sy::gateway {

struct Gateway::Parts {
  EventLoop loop;
  std::vector<std::unique_ptr<backends::HttpClient>> clients;
  std::shared_ptr<ModelCatalog> catalog;
  std::shared_ptr<LedgerWriter> ledger;  // null = no ledger
  std::shared_ptr<Limiter> limiter;      // null = no budgets or rate limits
  std::unique_ptr<ApiHandler> handler;
  std::shared_ptr<BatchService> batch;  // null = Files and Batch APIs off
  std::unique_ptr<HttpServer> server;
  std::thread runner;  // runs the loop's threads (run() blocks)
  std::atomic<bool> shutting_down{false};
  std::mutex mutex;
  std::condition_variable stopped_cv;
  bool stopped = false;

  Parts(int threads, std::chrono::microseconds busy_poll) : loop(threads, busy_poll) {}
};

namespace {

// Says which routes will be recorded without a price, once at start, rather than letting a
// ledger fill with zeros unnoticed.
void warn_unpriced(const GatewayConfig& config, const RequestPricer& pricer) {
  const auto today = utc_day(std::chrono::system_clock::now());
  for (const ModelAlias& alias : config.models) {
    for (const ModelTarget& target : alias.targets) {
      if (pricer.terms(target.backend, target.model, today) == nullptr) {
        spdlog::warn("no price for {}/{} (model alias {}): its requests are recorded unpriced; "
                     "add prices or hardware to backend {}",
                     target.backend, target.model, alias.name, target.backend);
      }
    }
  }
}

// The Files and Batch APIs under data_dir (none without one). Lines run through the handler's
// chat path; jobs are stored beside the configured ledger (SQLite file or PostgreSQL), and the
// restart repair reads that ledger.
std::shared_ptr<BatchService> open_batch_service(const GatewayConfig& config, bool ledger_given,
                                                 ApiHandler& handler,
                                                 std::shared_ptr<LedgerWriter> ledger) {
  if (!config.batch.enabled || config.data_dir.empty()) return nullptr;
  std::filesystem::path dir = config.batch.path;
  if (dir.is_relative()) dir = std::filesystem::path(config.data_dir) / dir;
  std::filesystem::path ledger_path;
  if (!ledger_given && ledger && config.ledger.enabled &&
      config.ledger.store == LedgerStore::sqlite) {
    ledger_path = config.ledger.path;
    if (ledger_path.is_relative()) {
      ledger_path = std::filesystem::path(config.data_dir) / ledger_path;
    }
  }
  // With a PostgreSQL ledger, jobs live in its database too, and the restart repair asks it
  // which outbox rows it already has.
  std::string postgres_url;
  LedgerLookup ledger_lookup;
  if (!ledger_given && ledger && config.ledger.enabled &&
      config.ledger.store == LedgerStore::postgres) {
    postgres_url = config.ledger.url;
    ledger_lookup = [url = config.ledger.url](int64_t since_ms,
                                              const std::vector<std::string>& ids) {
      return postgres_ledger_request_ids(url, since_ms, ids);
    };
  }
  spdlog::info("batch jobs: {} ({})", dir.string(), postgres_url.empty() ? "SQLite" : "PostgreSQL");
  return std::make_shared<BatchService>(
      BatchServiceOptions{.dir = dir,
                          .max_file_bytes = config.batch.max_file_bytes,
                          .max_line_bytes = config.limits.max_body_bytes,
                          .max_lines = config.batch.max_lines,
                          .max_concurrency_per_job = config.batch.max_concurrency_per_job,
                          .synchronous_full = config.batch.synchronous_full,
                          .postgres_url = postgres_url,
                          .ledger_path = ledger_path,
                          .ledger_lookup = std::move(ledger_lookup)},
      [&handler](BatchLineRequest line, std::function<void(BatchLineOutcome)> done) {
        handler.run_batch_line(std::move(line), std::move(done));
      },
      std::move(ledger));
}

// Backends with `batch_api` on get a vendor batch client each (its own HttpClient, in `clients`
// so shutdown cancels its calls); bulk-job lines the policy routes to them are submitted as
// vendor batches. null when no backend has one.
std::unique_ptr<VendorBatching> make_vendor_batching(
    const GatewayConfig& config, const std::vector<boost::asio::io_context*>& contexts,
    std::vector<std::unique_ptr<backends::HttpClient>>& clients, ApiHandler& handler,
    std::shared_ptr<const RequestPricer> pricer, BatchStore& store,
    const std::filesystem::path& dir) {
  auto stop_flag = std::make_shared<std::atomic<bool>>(false);
  std::map<std::string, VendorBatchBackend> backends;
  for (const BackendConfig& bc : config.backends) {
    if (!bc.batch_api.enabled) continue;
    backends::HttpClientOptions client_options;
    client_options.verify_tls = bc.verify_tls;
    client_options.max_response_bytes = config.max_upstream_response_bytes;
    auto& client = clients.emplace_back(
        std::make_unique<backends::HttpClient>(contexts, client_options));
    auto made = backends::make_vendor_batch_client(
        bc.protocol, *client,
        backends::VendorBatchClientOptions{.endpoint = bc.endpoint,
                                           .timeouts = bc.timeouts,
                                           .stop = [stop_flag] { return stop_flag->load(); }});
    if (!made) throw std::runtime_error("backend '" + bc.name + "': " + made.error().message);
    backends[bc.name] = VendorBatchBackend{.client = std::move(*made),
                                           .poll_initial = bc.batch_api.poll_initial,
                                           .poll_max = bc.batch_api.poll_max,
                                           .max_requests = bc.batch_api.max_requests};
    spdlog::info("backend {}: bulk-job lines routed to it use the {} batch API", bc.name,
                 bc.protocol);
  }
  if (backends.empty()) return nullptr;
  auto runner = std::make_shared<VendorBatchRunner>(
      VendorBatchRunnerOptions{.store = &store,
                               .legacy_store_path = dir / "vendor_batches.sqlite3",
                               .stop_flag = stop_flag},
      std::move(backends), std::move(pricer));
  return std::make_unique<VendorBatching>(VendorBatching{
      .planner = [&handler](const BatchLineRequest& line) { return handler.plan_batch_line(line); },
      .runner = std::move(runner),
      .settle =
          [&handler](const std::string& request_id, const BatchLineOutcome* outcome) {
            handler.settle_batch_line(request_id, outcome);
          },
      .fallback =
          [&handler](BatchLineRequest line, std::string failed_backend,
                     BatchLineOutcome vendor_outcome, std::function<void(BatchLineOutcome)> done) {
            handler.fall_back_batch_line(std::move(line), std::move(failed_backend),
                                         std::move(vendor_outcome), std::move(done));
          }});
}

}  // namespace

Gateway::Gateway(ConfigPtr config, std::shared_ptr<LedgerWriter> ledger)
    : config_(std::move(config)) {
  parts_ = std::make_unique<Parts>(config_->limits.io_threads, config_->limits.busy_poll);
  const bool ledger_given = ledger != nullptr;
  parts_->ledger = ledger ? std::move(ledger) : open_configured_ledger(*config_);
  ModelCatalog::BackendMap backends;
  for (const auto& bc : config_->backends) {
    backends::BackendInfo info{.name = bc.name,
                               .protocol = bc.protocol,
                               .kind = bc.kind,
                               .region = bc.region,
                               .retains_data = bc.retains_data,
                               .capability_tier = bc.capability_tier,
                               .prices = bc.prices};
    if (bc.protocol == "local") {
      // Loads the models marked `load: start` now; throws naming the model and file.
      backends[bc.name] = backends::make_local_backend(
          parts_->loop.contexts(), {.info = std::move(info), .models = bc.local.models});
      continue;
    }
    auto translator = backends::make_translator(bc.protocol);
    if (!translator) {
      throw std::runtime_error("backend '" + bc.name + "': " + translator.error().message);
    }
    backends::HttpClientOptions client_options;
    client_options.verify_tls = bc.verify_tls;
    client_options.max_response_bytes = config_->max_upstream_response_bytes;
    auto& client = parts_->clients.emplace_back(
        std::make_unique<backends::HttpClient>(parts_->loop.contexts(), client_options));
    backends::HttpBackendOptions options;
    options.info = std::move(info);
    options.endpoint = bc.endpoint;
    options.timeouts = bc.timeouts;
    options.retry = bc.retry;
    options.breaker = bc.breaker;
    options.max_concurrency = bc.max_concurrency;
    backends[bc.name] = backends::make_http_backend(parts_->loop.contexts(), *client,
                                                    std::move(*translator), std::move(options));
  }
  parts_->catalog = std::make_shared<ModelCatalog>(*config_, std::move(backends));
  auto pricer = std::make_shared<const RequestPricer>(*config_);
  warn_unpriced(*config_, *pricer);
  parts_->limiter = make_limiter(*config_);
  parts_->handler = std::make_unique<ApiHandler>(config_, parts_->catalog, pricer,
                                                 parts_->ledger, parts_->limiter);
  auto gateway_metrics = std::make_shared<metrics::GatewayMetrics>();
  gateway_metrics->add_collector(metrics::backend_collector(config_, parts_->catalog));
  if (parts_->ledger) gateway_metrics->add_collector(metrics::ledger_collector(parts_->ledger));
  if (parts_->limiter) gateway_metrics->add_collector(metrics::limits_collector(parts_->limiter));
  parts_->handler->set_metrics(std::move(gateway_metrics));
  parts_->batch = open_batch_service(*config_, ledger_given, *parts_->handler, parts_->ledger);
  if (parts_->batch) parts_->handler->set_batch_service(parts_->batch);
  if (parts_->batch) {
    parts_->batch->set_vendor_batching(
        make_vendor_batching(*config_, parts_->loop.contexts(), parts_->clients, *parts_->handler,
                             pricer, parts_->batch->store(), parts_->batch->dir()));
  }
  parts_->server = std::make_unique<HttpServer>(parts_->loop.contexts(), config_->limits,
                                                   *parts_->handler);
}

Gateway::~Gateway() {
  for (auto& client : parts_->clients) client->shutdown();
  parts_->loop.stop();
  if (parts_->runner.joinable()) parts_->runner.join();
  if (parts_->batch) parts_->batch->close();
  if (parts_->ledger) parts_->ledger->close();
}

uint16_t Gateway::start(const std::string& host, uint16_t port) {
  auto bound = parts_->server->listen(host, port);
  if (!bound) throw std::runtime_error("listening on " + host + ": " + bound.error().message);
  parts_->runner = std::thread([parts = parts_.get()] { parts->loop.run(); });
  // Jobs a previous process left unfinished continue (their stored lines are not run again).
  if (parts_->batch) parts_->batch->resume();
  return *bound;
}

size_t Gateway::backend_count() const { return parts_->catalog->backend_count(); }

void Gateway::shutdown() {
  if (parts_->shutting_down.exchange(true)) return;
  parts_->handler->set_draining();
  parts_->handler->interrupt_usage_queries();
  if (parts_->batch) parts_->batch->stop();
  Parts* parts = parts_.get();
  parts->server->drain(config_->limits.drain_timeout, [parts] {
    for (auto& client : parts->clients) client->shutdown();
    {
      std::lock_guard lock(parts->mutex);
      parts->stopped = true;
    }
    parts->stopped_cv.notify_all();
  });
}

void Gateway::wait(bool handle_signals) {
  if (handle_signals) {
    parts_->loop.on_signal({SIGTERM, SIGINT}, [this](int) { shutdown(); });
  }
  std::unique_lock lock(parts_->mutex);
  parts_->stopped_cv.wait(lock, [&] { return parts_->stopped; });
  lock.unlock();
  // Connections are closed, but exchanges their clients abandoned may still be completing on
  // the loop: let them write their rows before the loop stops.
  parts_->handler->wait_for_exchanges(config_->limits.drain_timeout);
  parts_->loop.stop();
  if (parts_->runner.joinable()) parts_->runner.join();
  // Every exchange has finished and enqueued its row: store them all before returning.
  if (parts_->batch) parts_->batch->close();
  if (parts_->ledger) parts_->ledger->close();
}

LedgerWriter* Gateway::ledger() const { return parts_->ledger.get(); }

std::shared_ptr<Limiter> Gateway::limiter() const { return parts_->limiter; }

}  // namespace sy::gateway
