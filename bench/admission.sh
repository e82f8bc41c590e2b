#!/usr/bin/env bash
# Provider-aware admission (issues 61 and 79): one-LLM-call jobs across WORKERS in-process workers against a fake
# provider (in-process Kestrel) that enforces TOKENS tokens (and REQUESTS requests) per sliding WINDOW seconds the way
# OpenAI does: refused requests count, x-ratelimit-* headers on every answer, 429 above the limit.
# MODE (comma-separated; default budgets,flush), each run at its own scale (JOBS, TOKENS, ... override it):
#   budgets        without budgets (limits learned from the answers), then with Llm:Limits:openai:TokensPerMinute = TOKENS
#                  (JOBS=500 TOKENS=60000 WINDOW=60)
#   header-change  with budgets; the provider halves its limit once a third of the calls are answered and says so
#                  only in its x-ratelimit-* headers (the service stays configured with TOKENS)
#   flush          with budgets; Redis flushed (FLUSHALL) once a third of the calls are answered
#   defaults       NO admission setting (issue 79): 175 jobs, every eighth from a small tenant, against 20,000 tokens and
#                  60 requests a minute: failed jobs, 429s in the first minute and after it (JOBS=175 TOKENS=20000 REQUESTS=60)
#   outage         60 s of 500s, then 60 s without an answer (Llm:AttemptTimeout 20 s), 100 jobs, one worker, shipped
#                  breaker and probe settings: when the breaker opened, failed jobs, calls answered twice (JOBS=100 OUTAGE=60)
#   burst          two tenants: the small one submits a job every half window, alone and then behind a flood of 4.4
#                  windows of tokens (20,000 a minute configured, the fake allows 10 % more, the shipped BurstReserve): its
#                  p95 both ways, the busiest window's use, 429s (TOKENS=20000 WINDOW=60; about 10 minutes)
# Prints each run's summary line (the test's output) and Passed/Failed.
# Usage:   bench/admission.sh                     (the issue-61 figures, 2-5 min a run)
#          MODE=defaults bench/admission.sh       (about 4 min)   MODE=outage bench/admission.sh   (about 4 min)
#          JOBS=24 TOKENS=3000 WINDOW=5 bench/admission.sh   (the test's scaled-down run, about 40 s)
# Needs the test project built: dotnet build LlmWorkflow.Tests (local postgres and redis-server binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A tests=(
  [budgets]=AdmissionPipelineTests.WithBudgetsTheWorkersMeetNo429AndUseTheWindowToWithin10PercentAndWithoutThemNoJobFails
  [header-change]=AdmissionPipelineTests.WithBudgetsALimitTheProviderHalvesMidRunIsFollowedThroughItsHeaders
  [flush]=AdmissionPipelineTests.ARedisThatLosesItsDataMidRunLosesNoJobAndPaysNoCallTwice
  [defaults]=LearnedLimitsPipelineTests
  [outage]=ProviderOutagePipelineTests
  [burst]=TenantBurstPipelineTests
)
# The issue's scale per mode: jobs, tokens, requests per window, window seconds, outage seconds.
declare -A scale=(
  [budgets]="500 60000 0 60 0" [header-change]="500 60000 0 60 0" [flush]="500 60000 0 60 0"
  [defaults]="175 20000 60 60 0" [outage]="100 0 0 0 60" [burst]="0 20000 0 60 0"
)
IFS=, read -ra modes <<< "${MODE:-budgets,flush}"
for mode in "${modes[@]}"; do
  [[ -n "${tests[$mode]:-}" ]] || { echo "unknown MODE '$mode' (budgets, header-change, flush, defaults, outage, burst)" >&2; exit 2; }
  read -r jobs tokens requests window outage <<< "${scale[$mode]}"
  filter="FullyQualifiedName~${tests[$mode]}"
  # The defaults run's provider limits requests as well as tokens (the theory's other row leaves requests unlimited).
  [[ $mode == defaults ]] && filter+="&DisplayName~providerLimitsRequests: True"
  echo "== $mode ($(git rev-parse --short HEAD))"
  ADMISSION_JOBS=${JOBS:-$jobs} ADMISSION_TOKENS=${TOKENS:-$tokens} ADMISSION_REQUESTS=${REQUESTS:-$requests} \
  ADMISSION_WINDOW_SECONDS=${WINDOW:-$window} ADMISSION_OUTAGE_SECONDS=${OUTAGE:-$outage} ADMISSION_WORKERS=${WORKERS:-2} \
    dotnet test LlmWorkflow.Tests --no-build --filter "$filter" --logger "console;verbosity=detailed" 2>&1 \
    | grep -E "without budgets:|header change:|  429 at|flushed mid-run:|no admission setting|jobs, .* of 500s|small tenant alone|Passed|Failed" || true
done
