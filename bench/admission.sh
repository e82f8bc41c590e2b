#!/usr/bin/env bash
# Provider-aware admission (issue 61): JOBS one-LLM-call jobs across WORKERS in-process workers against a fake provider
# (in-process Kestrel) that allows TOKENS tokens per WINDOW seconds and answers 429 above it.
# MODE (comma-separated; default budgets,flush):
#   budgets        without budgets (each worker retries its own 429s, as before admission), then with
#                  Llm:Limits:openai:TokensPerMinute = TOKENS over the same window
#   header-change  with budgets; the provider halves its limit once a third of the calls are answered and says so
#                  only in its x-ratelimit-* headers (the service stays configured with TOKENS)
#   flush          with budgets; Redis flushed (FLUSHALL) once a third of the calls are answered
# Prints each run's 429s, failed jobs, calls answered twice, peak tokens in any window (% of the limit), wall time.
# Usage:   bench/admission.sh            (JOBS=500 TOKENS=60000 WINDOW=60 WORKERS=2: the issue's figures, 2-5 min a run)
#          WORKERS=3 MODE=header-change bench/admission.sh
#          JOBS=24 TOKENS=3000 WINDOW=5 bench/admission.sh   (the test's scaled-down run, about 40 s)
# Needs the test project built: dotnet build LlmWorkflow.Tests (local postgres and redis-server binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
export ADMISSION_JOBS=${JOBS:-500} ADMISSION_TOKENS=${TOKENS:-60000} ADMISSION_WINDOW_SECONDS=${WINDOW:-60} ADMISSION_WORKERS=${WORKERS:-2}
declare -A tests=(
  [budgets]=WithBudgetsTheWorkersMeetNo429AndUseTheWindowToWithin10PercentAndWithoutThemNoJobFails
  [header-change]=WithBudgetsALimitTheProviderHalvesMidRunIsFollowedThroughItsHeaders
  [flush]=ARedisThatLosesItsDataMidRunLosesNoJobAndPaysNoCallTwice
)
filter=""
IFS=, read -ra modes <<< "${MODE:-budgets,flush}"
for mode in "${modes[@]}"; do
  [[ -n "${tests[$mode]:-}" ]] || { echo "unknown MODE '$mode' (budgets, header-change, flush)" >&2; exit 2; }
  filter+="${filter:+|}FullyQualifiedName~AdmissionPipelineTests.${tests[$mode]}"
done
dotnet test LlmWorkflow.Tests --no-build --filter "$filter" --logger "console;verbosity=detailed" 2>&1 \
  | grep -E "without budgets:|header change:|  429 at|flushed mid-run:|Passed|Failed" || true
