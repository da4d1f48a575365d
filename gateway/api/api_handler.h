#pragma once
// The gateway's RequestHandler: request ids, authentication, the OpenAI and Anthropic surface
// routes and the health endpoints. Knows nothing of the transport (see http_server.h).
//
//   POST /v1/chat/completions   POST /v1/completions   GET /v1/models
//   POST /v1/messages           POST /v1/messages/count_tokens   (anthropic_routes.cpp)
//   /v1/files, /v1/batches (OpenAI's Files and Batch APIs: files_routes.cpp, batches_routes.cpp)
//   POST /v1/route/explain (the policy decision for a chat body, no backend called)
//   GET /v1/usage, /v1/usage/savings (usage_routes.cpp: ledger totals; a user key sees its own
//   tenant only)
//   GET /healthz (alive)        GET /readyz (serving: not draining and a backend configured)
//   GET /metrics (Prometheus text; metrics_routes.cpp)
//
// Every chat/completions request is classified and decided by the policy gate before any
// backend is called; fallback walks only the decision's candidates. Errors are in the format of
// the surface the path belongs to (OpenAI's, or Anthropic's for /v1/messages*).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "api/bounded_work_pool.h"
#include "api/chat_exchange.h"
#include "batch/batch_service.h"
#include "ledger/ledger_query.h"
#include "ledger/request_pricer.h"
#include "metrics/gateway_metrics.h"
#include "limits/limiter.h"
#include "routing/model_catalog.h"
#include "routing/policy_gate.h"
#include "switchyard/gateway/config.h"
#include "switchyard/gateway/http_server.h"
#include "switchyard/gateway/key_store.h"
#include "switchyard/gateway/ledger.h"

namespace sy::gateway {

struct VendorLinePlan;  // batch/vendor_batch_runner.h

class ApiHandler : public RequestHandler {
 public:
  // `ledger` may be null (no ledger); every chat/completions request writes one row to it.
  // `limiter` may be null (no budgets or rate limits).
  ApiHandler(ConfigPtr config, std::shared_ptr<const ModelCatalog> catalog,
             std::shared_ptr<const RequestPricer> pricer = nullptr,
             std::shared_ptr<LedgerWriter> ledger = nullptr,
             std::shared_ptr<Limiter> limiter = nullptr);

  void handle(ServerRequest request, std::shared_ptr<ResponseWriter> writer) override;
  void reject(const ServerRequest& request, const backends::Error& error,
              ResponseWriter& writer) override;
  // POST /v1/files streams its body to disk (files_routes.cpp); everything else is buffered.
  std::shared_ptr<BodySink> body_sink(const ServerRequest& head) override;

  void set_draining() { draining_ = true; }
  // For shutdown: running usage queries stop now and answer 503 (usage_routes.cpp), so a long
  // read cannot hold the drain; later ones are refused the same way. Reads only: no row is lost.
  void interrupt_usage_queries() {
    if (usage_query_) usage_query_->interrupt();
  }
  // Where request metrics go and what GET /metrics renders; set before serving (none: 404).
  void set_metrics(std::shared_ptr<metrics::GatewayMetrics> metrics) {
    metrics_ = std::move(metrics);
  }

  // The Files and Batch APIs' service; until one is set they answer not_found. Call before
  // serving.
  void set_batch_service(std::shared_ptr<BatchService> batch);
  // Runs one batch line (batches_routes.cpp) as if the batch's key had POSTed it: the same
  // parsing, model check, policy gate (as batch origin: bulk), fallback and pricing as
  // /v1/chat/completions. `done` gets the answer and the line's ledger row (surface "batch"),
  // which is not written to the ledger here: the batch service stores it with the result.
  void run_batch_line(BatchLineRequest line, std::function<void(BatchLineOutcome)> done);
  // Decides one batch line for a vendor batch API (batch_line_planner.cpp): the same parsing,
  // model check and policy gate as run_batch_line; a plan when the decision's first candidate
  // is a backend with `batch_api` on, nullopt to run the line synchronously (anything else,
  // including every refusal, which the synchronous path answers and records).
  std::optional<VendorLinePlan> plan_batch_line(const BatchLineRequest& line) const;
  // The other half of a vendor-batched line's budgets and rate limits (batch_line_planner.cpp):
  // settles the admission plan_batch_line took, or releases it (null outcome).
  void settle_batch_line(const std::string& request_id, const BatchLineOutcome* outcome) const;
  // A line a vendor batch failed, run synchronously over the decision's other candidates
  // (batches_routes.cpp; the contract is VendorBatching::fallback's).
  void fall_back_batch_line(BatchLineRequest line, std::string failed_backend,
                            BatchLineOutcome vendor_outcome,
                            std::function<void(BatchLineOutcome)> done);
  // Blocks until every started exchange has finished and enqueued its ledger row, or until
  // `timeout` passes (false). A client that hung up closes its connection before the
  // cancelled exchange completes, so a drained server may still have some finishing.
  bool wait_for_exchanges(std::chrono::milliseconds timeout);

 private:
  void chat(const ServerRequest& request, const Principal& principal, bool legacy,
            LedgerRow&& row, std::shared_ptr<ResponseWriter> writer);
  void explain(const ServerRequest& request, const Principal& principal,
               const std::string& request_id, ResponseWriter& writer);
  // Answers `error` and records the refusal (status denied or error) in the ledger.
  void refuse(ResponseWriter& writer, const backends::Error& error, LedgerRow row,
              LedgerStatus status = LedgerStatus::error, backends::Headers extra = {});
  void record(LedgerRow row);
  // The policy gate for both surfaces: classifies and decides `chat_request` before any backend
  // is called, fills the row's policy columns and marks bulk requests (ChatRequest::bulk). A
  // refusal (an error, or a deny/unavailable decision) is answered and recorded here: nullopt,
  // and `row` has been consumed.
  std::optional<Routed> route_or_refuse(backends::ChatRequest& chat_request,
                                        const ServerRequest& request, const Principal& principal,
                                        LedgerRow& row, ResponseWriter& writer);
  // What an exchange of a routed request needs: ids, pricing day, the decision's headers.
  ExchangeContext exchange_context(const LedgerRow& row, const backends::ChatRequest& chat_request,
                                   const Principal& principal,
                                   std::chrono::steady_clock::time_point started,
                                   const policies::Decision& decision) const;
  // Counts an exchange as open and returns what ends it: fills the row from the summary, logs
  // the access line, writes the row, settles the admission's budgets and token buckets with
  // the row's real cost and tokens, and wakes drain when it was the last open one.
  // The row is taken by reference and moved once, into the one object the returned function
  // shares (a LedgerRow is ~500 instructions to move).
  std::function<void(const ExchangeSummary&)> settle_exchange(
      LedgerRow&& row, std::chrono::steady_clock::time_point started, Admission admission = {});
  // Budgets and rate limits (api_handler_limits.cpp), both surfaces. Before routing: rate
  // limits and spent budgets; a spent downgrade budget points `chat_request` at its cheaper
  // model. After routing: the pre-flight estimate against block budgets' remainders, over
  // every candidate. A refusal is answered and recorded (denied) here: nullopt / false.
  std::optional<Admission> admit_or_refuse(backends::ChatRequest& chat_request,
                                           const Principal& principal, LedgerRow& row,
                                           ResponseWriter& writer);
  bool preflight_or_refuse(Admission& admission, const backends::ChatRequest& chat_request,
                           const Routed& routed, LedgerRow& row, ResponseWriter& writer);
  void release(Admission& admission);
  // A vendor-batched line's admission (api_handler_limits.cpp): the same rules as
  // admit_or_refuse + preflight_or_refuse, and the pre-flight estimate reserved in its budgets
  // until the vendor's answer settles it. nullopt: admitted (the admission is kept under the
  // line's request id); a refusal to store as the line's result; or `synchronous` (a spent
  // downgrade budget changes the model: the synchronous path serves the line).
  struct BatchLineAdmit {
    enum class Verdict { admitted, refused, synchronous } verdict = Verdict::admitted;
    LimitRefusal refusal;
  };
  BatchLineAdmit admit_batch_line(const std::string& request_id,
                                  const backends::ChatRequest& chat_request,
                                  const Principal& principal, const Routed& routed,
                                  int64_t time_ms) const;
  // Takes a vendor-batched line's admission out (empty when none is held: a restart).
  std::optional<Admission> take_batch_admission(const std::string& request_id) const;
  void models(const std::string& request_id, ResponseWriter& writer);
  // GET /metrics (metrics_routes.cpp).
  void serve_metrics(const ServerRequest& request, const std::string& request_id,
                     ResponseWriter& writer);
  // The Files and Batch APIs (files_routes.cpp, batches_routes.cpp).
  void files(const ServerRequest& request, const std::string& request_id, ResponseWriter& writer);
  void batches(const ServerRequest& request, const std::string& request_id,
               ResponseWriter& writer);
  // Where `row` is recorded: batch lines' rows go to their line, every other to the ledger.
  std::shared_ptr<LedgerWriter> ledger_for(const LedgerRow& row) const;
  // GET /v1/usage and /v1/usage/savings (usage_routes.cpp): the query runs on usage_pool_.
  void usage(const ServerRequest& request, const std::string& request_id,
             std::shared_ptr<ResponseWriter> writer);
  // The Anthropic surface (anthropic_routes.cpp).
  void messages(const ServerRequest& request, const Principal& principal, LedgerRow row,
                std::shared_ptr<ResponseWriter> writer);
  void count_tokens(const ServerRequest& request, const Principal& principal,
                    const std::string& request_id, ResponseWriter& writer);

  ConfigPtr config_;
  std::shared_ptr<const ModelCatalog> catalog_;
  KeyStore keys_;
  std::shared_ptr<const RequestPricer> pricer_;
  std::shared_ptr<LedgerWriter> ledger_;
  std::shared_ptr<metrics::GatewayMetrics> metrics_;
  std::shared_ptr<Limiter> limiter_;  // null = no budgets or rate limits
  std::shared_ptr<LedgerQuery> usage_query_;  // the configured store; null = no ledger
  // Runs usage_query_ off the I/O threads. Its tasks hold what they use (config, store, writer),
  // never the handler; its destructor lets accepted ones finish.
  std::unique_ptr<BoundedWorkPool> usage_pool_;
  PolicyGate gate_;
  std::shared_ptr<BatchService> batch_;
  std::shared_ptr<LedgerWriter> batch_rows_;  // a BatchRowSink (batches_routes.cpp)
  // Admissions of vendor-batched lines between planning and the vendor's answer.
  struct BatchAdmissions {
    std::mutex mutex;
    std::unordered_map<std::string, Admission> by_request;
  };
  std::shared_ptr<BatchAdmissions> batch_admissions_ = std::make_shared<BatchAdmissions>();
  std::atomic<bool> draining_{false};
  struct OpenExchanges {
    std::mutex mutex;
    std::condition_variable idle;
    int count = 0;
  };
  std::shared_ptr<OpenExchanges> open_ = std::make_shared<OpenExchanges>();
};

}  // namespace sy::gateway
