#!/usr/bin/env bash
# Webhook benchmark: drives `rollout-guard serve` with wrk over HTTPS (HTTP/1.1 keep-alive,
# 64 connections, loopback). In one run of one server:
#   healthz    GET /healthz on the TLS port: the floor (TLS + HTTP and nothing else);
#   transport  POST of the Rollout AdmissionReview (6 KB) to /healthz, answered 405 without
#              reading it: what moving that body over TLS costs, before any JSON is parsed;
#   validate   POST /validate with the captured Rollout AdmissionReview;
#   mutate     POST /mutate with the captured Rollout AdmissionReview.
# For each: requests/s, the ratio to the floor, p99, and the CPU time per request spent by the
# server and by wrk (they share the cores). Then the server's peak RSS, and the time from start
# to the first TLS answer (median and worst of five starts).
#
#   bench/webhook.sh              # 10 s per endpoint
#   DURATION=30s bench/webhook.sh
#
# Needs wrk (`apt-get install -y wrk`) and curl; builds the release binary (unless BIN is set).
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
# BIN=path/to/rollout-guard bench/webhook.sh measures another build (an earlier commit's, for a
# before/after comparison in one session).
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/rollout-guard
fi
TICK=$(getconf CLK_TCK)
# The server runs as the chart's Deployment and the image run it: mimalloc commits arena memory
# lazily. MIMALLOC_ARENA_EAGER_COMMIT=2 bench/webhook.sh measures mimalloc's default instead.
export MIMALLOC_ARENA_EAGER_COMMIT=${MIMALLOC_ARENA_EAGER_COMMIT:-0}

work=$(mktemp -d)
cleanup() {
  if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Starts the server; sets ready_ms to the time from exec to the first /healthz answered over TLS.
start_server() {
  : >"$work/server.err"
  local start
  start=$(date +%s%N)
  "$BIN" serve --addr "127.0.0.1:$PORT" --metrics-addr "127.0.0.1:$METRICS_PORT" \
    >"$work/server.log" 2>"$work/server.err" &
  pid=$!
  until [ -s "$work/server.err" ] && grep -q "CA certificate" "$work/server.err" \
    && curl -sf --cacert "$(sed -n 's/^rollout-guard: CA certificate: //p' "$work/server.err")" \
         "https://localhost:$PORT/healthz" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/server.err" >&2; exit 1; }
    sleep 0.002
  done
  ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
}
stop_server() { kill -TERM "$pid"; wait "$pid" || true; pid=; }

ready=()
for _ in 1 2 3 4 5; do start_server; ready+=("$ready_ms"); stop_server; done
mapfile -t ready < <(printf '%s\n' "${ready[@]}" | sort -n)
start_server

server_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

run() { # name method url [body] [expected status]
  local name=$1 method=$2 url=$3 body=${4:-} expect=${5:-2xx}
  local before after
  before=$(server_ticks)
  TIMEFORMAT='%U %S'
  { time METHOD=$method BODY=$body wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
      -s bench/post.lua "$url" >"$work/$name.txt"; } 2>"$work/$name.wrkcpu"
  after=$(server_ticks)
  echo "$before $after" >"$work/$name.servercpu"
  if [ "$expect" = 2xx ] && grep -q "Non-2xx" "$work/$name.txt"; then
    echo "bench: $name had non-2xx responses:" >&2; cat "$work/$name.txt" >&2; exit 1
  fi
}
requests() { awk '/requests in/ {print $1}' "$work/$1.txt"; }
rps() { awk '/Requests\/sec/ {print $2}' "$work/$1.txt"; }
p99() { awk '$1 == "99%" {print $2}' "$work/$1.txt"; }
errors() { grep -o 'Socket errors.*' "$work/$1.txt" || echo "Socket errors: none"; }
server_us() { awk -v n="$(requests "$1")" -v t="$TICK" '{printf "%.1f", ($2 - $1) / t * 1e6 / n}' "$work/$1.servercpu"; }
wrk_us() { awk -v n="$(requests "$1")" '{printf "%.1f", ($1 + $2) * 1e6 / n}' "$work/$1.wrkcpu"; }

run healthz GET "https://localhost:$PORT/healthz"
run transport POST "https://localhost:$PORT/healthz" "$FIXTURE" 405
run validate POST "https://localhost:$PORT/validate?timeout=10s" "$FIXTURE"
run mutate POST "https://localhost:$PORT/mutate?timeout=10s" "$MUTATE_FIXTURE"
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")

floor=$(rps healthz)
echo "rollout-guard webhook benchmark: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, HTTPS keep-alive, loopback, $(nproc) cores"
printf '%-10s %12s %9s %9s %12s %12s\n' endpoint "requests/s" "vs floor" p99 "server us/req" "wrk us/req"
for name in healthz transport validate mutate; do
  printf '%-10s %12s %8.0f%% %9s %13s %12s   %s\n' "$name" "$(rps $name)" \
    "$(echo "$(rps $name) $floor" | awk '{print 100 * $1 / $2}')" "$(p99 $name)" \
    "$(server_us $name)" "$(wrk_us $name)" "$(errors $name)"
done
echo "peak RSS: $((rss_kib / 1024)) MiB ($rss_kib KiB), MIMALLOC_ARENA_EAGER_COMMIT=$MIMALLOC_ARENA_EAGER_COMMIT"
echo "ready: median ${ready[2]} ms, worst ${ready[4]} ms of 5 starts, from exec to the first TLS /healthz answer (curl's own start included)"
echo "targets: /validate >= 80% of floor, p99 < 5ms, peak RSS < 40 MiB, ready < 100 ms"
