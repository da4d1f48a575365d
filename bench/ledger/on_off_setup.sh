# Sourced by overhead.sh and instructions.sh: the upstream and the two gateway configs they
# compare. Needs WORK (a scratch directory) and PIDS (an array the caller's cleanup kills).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts nginx answering every request with a canned ~300-byte chat.completion; sets UP.
start_upstream() {
  UP=$(free_port)
  local body='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}'
  mkdir -p "$WORK/upstream"
  cat > "$WORK/upstream/nginx.conf" <<NGX
worker_processes 1;
daemon off;
master_process off;
pid $WORK/upstream/nginx.pid;
error_log $WORK/upstream/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/upstream/body;
  proxy_temp_path $WORK/upstream/proxy;
  fastcgi_temp_path $WORK/upstream/fcgi;
  uwsgi_temp_path $WORK/upstream/uwsgi;
  scgi_temp_path $WORK/upstream/scgi;
  server { listen 127.0.0.1:$UP; location / { default_type application/json; return 200 '$body'; } }
}
NGX
  nginx -c "$WORK/upstream/nginx.conf" -p "$WORK/upstream" &
  PIDS+=($!)
}

# Writes $WORK/off.yaml (no ledger, no limits) and $WORK/on.yaml (the SQLite ledger, day/month
# block budgets and requests/tokens-per-minute limits far too high to trigger, so every request
# walks admission, the pre-flight estimate and settlement and writes one row), both with
# `io_threads` $1 and the key $KEY.
KEY=sk-bench-ledger-overhead
write_on_off_configs() {
  local io_threads=$1
  local common
  common=$(cat <<YAML
listen: 127.0.0.1:0
limits: {io_threads: $io_threads}
backends:
  - name: upstream
    protocol: openai_compat
    base_url: http://127.0.0.1:$UP/v1
    retry: {max_attempts: 1}
    price_catalog: none
    prices:
      models:
        bench-model: {input: "2.5", output: "10"}
models:
  bench: [upstream/bench-model]
tenants:
  - name: acme
keys:
  - id: k-bench
    tenant: acme
    key: $KEY
YAML
)
  { echo "$common"; echo "ledger: {enabled: false}"; } > "$WORK/off.yaml"
  { echo "$common"; cat <<YAML
ledger: {enabled: true}
budgets:
  - {tenant: acme, period: day, limit_usd: "1000000", action: block, alert_at: 0.8}
  - {tenant: acme, period: month, limit_usd: "1000000", action: block}
  - {key: k-bench, period: day, limit_usd: "1000000", action: block}
rate_limits:
  - {tenant: acme, requests_per_minute: 100000000, tokens_per_minute: 1000000000}
  - {key: k-bench, requests_per_minute: 100000000, tokens_per_minute: 1000000000}
YAML
  } > "$WORK/on.yaml"
}
