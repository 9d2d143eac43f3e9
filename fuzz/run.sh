#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each (default 300), from the committed
# seeds plus the working corpus in fuzz/corpus/TARGET (kept between runs, not committed).
# A crash is saved under fuzz/artifacts/TARGET/; each one found becomes a regression test in
# tests/fuzz_regressions.rs.
#
#   fuzz/run.sh                 # all targets, 5 minutes each
#   SECONDS_EACH=60 fuzz/run.sh promql condition
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain RUSTC_BOOTSTRAP=1 lets
# it use the sanitizer flags it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
SECONDS_EACH=${SECONDS_EACH:-300}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(manifest condition promql admission fix)
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  echo "fuzz: $t for ${SECONDS_EACH}s" >&2
  # The shared corpus (real manifests and reviews) feeds the manifest, fix and admission
  # targets as extra read-only seeds where it is beside the checkout.
  extra=()
  case "$t" in
    manifest | fix) [ -d ../shared/corpus ] && extra+=(../shared/corpus) ;;
    admission) [ -d ../shared/fixtures/admission-reviews ] && extra+=(../shared/fixtures/admission-reviews) ;;
  esac
  cargo fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" "${extra[@]}" -- \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1
done
