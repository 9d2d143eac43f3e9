#!/usr/bin/env bash
# Webhook benchmark: drives `rollout-guard serve` with wrk over HTTPS (HTTP/1.1 keep-alive,
# 64 connections, loopback). In one run of one server: GET /healthz on the TLS port (the floor:
# TLS + HTTP and nothing else), then POST /validate and POST /mutate with the captured Rollout
# AdmissionReview. Prints requests/s, the ratio to the floor, p99, peak RSS and time to ready.
#
#   bench/webhook.sh              # 10 s per endpoint
#   DURATION=30s bench/webhook.sh
#
# Needs wrk (`apt-get install -y wrk`) and curl; builds the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PORT=${PORT:-18443}
METRICS_PORT=${METRICS_PORT:-19090}
FIXTURE=${FIXTURE:-../shared/fixtures/admission-reviews/004-validate-create-rollout-prometheus-rollouts-demo.json}
MUTATE_FIXTURE=${MUTATE_FIXTURE:-../shared/fixtures/admission-reviews/003-mutate-create-rollout-prometheus-rollouts-demo.json}

command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install -y wrk)" >&2; exit 1; }
command -v curl >/dev/null || { echo "bench: curl is missing" >&2; exit 1; }
cargo build --release --quiet
BIN=target/release/rollout-guard

work=$(mktemp -d)
cleanup() {
  if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

start=$(date +%s%N)
"$BIN" serve --addr "127.0.0.1:$PORT" --metrics-addr "127.0.0.1:$METRICS_PORT" \
  >"$work/server.log" 2>"$work/server.err" &
pid=$!
# Ready: the first /healthz answered over TLS.
until [ -s "$work/server.err" ] && grep -q "CA certificate" "$work/server.err" \
  && curl -sf --cacert "$(sed -n 's/^rollout-guard: CA certificate: //p' "$work/server.err")" \
       "https://localhost:$PORT/healthz" >/dev/null 2>&1; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.err" >&2; exit 1; }
  sleep 0.002
done
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
internal_ms=$(grep -o 'startup_ms=[0-9.]*' "$work/server.log" | head -1 | cut -d= -f2)

run() { # name url [body]
  local name=$1 url=$2 body=${3:-}
  if [ -n "$body" ]; then
    BODY=$body wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/post.lua "$url" >"$work/$name.txt"
  else
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url" >"$work/$name.txt"
  fi
  if grep -q "Non-2xx" "$work/$name.txt"; then
    echo "bench: $name had non-2xx responses:" >&2; cat "$work/$name.txt" >&2; exit 1
  fi
}
rps() { awk '/Requests\/sec/ {print $2}' "$work/$1.txt"; }
p99() { awk '$1 == "99%" {print $2}' "$work/$1.txt"; }
errors() { grep -o 'Socket errors.*' "$work/$1.txt" || echo "Socket errors: none"; }

run healthz "https://localhost:$PORT/healthz"
run validate "https://localhost:$PORT/validate?timeout=10s" "$FIXTURE"
run mutate "https://localhost:$PORT/mutate?timeout=10s" "$MUTATE_FIXTURE"
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")

floor=$(rps healthz)
echo "rollout-guard webhook benchmark: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, HTTPS keep-alive, loopback, $(nproc) cores"
printf '%-10s %12s %10s %10s\n' endpoint "requests/s" "vs floor" p99
for name in healthz validate mutate; do
  printf '%-10s %12s %9.0f%% %10s   %s\n' "$name" "$(rps $name)" \
    "$(echo "$(rps $name) $floor" | awk '{print 100 * $1 / $2}')" "$(p99 $name)" "$(errors $name)"
done
echo "peak RSS: $((rss_kib / 1024)) MiB ($rss_kib KiB)"
echo "ready: ${ready_ms} ms from start to the first TLS /healthz answer (server's own start-up: ${internal_ms} ms)"
echo "targets: /validate >= 80% of floor, p99 < 5ms, peak RSS < 40 MiB, ready < 100 ms"
