#!/usr/bin/env bash
# Delayed-run lateness (issue "Jobs that wait": run_at lateness p99 <= 50 ms): for each of ROUNDS rounds, a fresh
# published system on loopback (bench/lib/system.sh: PostgreSQL defaults, Redis, the API in Production, one Worker,
# shipped settings), then bench/node/timers.mjs submits JOBS jobs whose run_at are spread over SPREAD seconds and
# prints the lateness (started_at - run_at) percentiles; the medians over the rounds with their ranges come last.
# Usage:   bench/timers.sh [published-dir]      (default artifacts/bench/publish, as bench/run.sh and sizing.sh)
#   for p in LlmWorkflow.Api LlmWorkflow.Worker; do dotnet publish $p -c Release -o artifacts/bench/publish/$p; done
# Environment: ROUNDS (3), JOBS (300), SPREAD (20 s), PG_BIN. Needs what bench/sizing.sh needs.
set -euo pipefail
cd "$(dirname "$0")/.."
published=${1:-artifacts/bench/publish}
rounds=${ROUNDS:-3}
pg_bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
api_key=timers-key
admin_key=timers-admin-key
db_name=timers
# shellcheck source=bench/lib/system.sh
source "$(dirname "$0")/lib/system.sh"

results=()
for round in $(seq "$rounds"); do
  start_system
  # One warm-up job through the same path before the window.
  node bench/node/timers.mjs "http://127.0.0.1:$api_port" "$api_key" 5 1 2 1 > /dev/null
  line=$(node bench/node/timers.mjs "http://127.0.0.1:$api_port" "$api_key" "${JOBS:-300}" "${SPREAD:-20}" 5 16)
  echo "round $round: $line"
  results+=("$line")
  cleanup
done
printf '%s\n' "${results[@]}" | jq -s -c '
  def med: sort | .[(length - 1) / 2 | floor];
  {scenario: "run_at", rounds: length,
   p50_ms: (map(.lateness_ms.p50) | {median: med, min: min, max: max}),
   p99_ms: (map(.lateness_ms.p99) | {median: med, min: min, max: max}),
   max_ms: (map(.lateness_ms.max) | {median: med, min: min, max: max})}'
